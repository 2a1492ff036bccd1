/**
 * Azure entry point from source (tsc builds it; `npm run build` then replaces the built
 * file, package.json `main`, with the bundle dev/bundle.ts makes, which registers the same
 * functions with handlers that load the app at their first invocation).
 */
import { registerApp } from '../lib/host/registration.js';
import { functionDeclarations } from './registry.js';

await registerApp(functionDeclarations);
