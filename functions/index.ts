/**
 * Azure entry point (`main` in package.json): registers every declared function with the
 * Functions host's v4 programming model.
 */
import type { FunctionDeclaration } from '../lib/host/declarations.js';
import { app } from '../lib/host/azureFunctions.js';
import { functionDeclarations } from './registry.js';

// Request bodies arrive as streams, so the 1 MiB limit is enforced while reading.
app.setup({ enableHttpStream: true });

/** One registrar per trigger kind; a new kind fails to compile until it is registered here. */
const registrars: {
  [K in FunctionDeclaration['kind']]: (
    declaration: Extract<FunctionDeclaration, { kind: K }>,
  ) => void;
} = {
  http: (declaration) => {
    app.http(declaration.name, {
      route: declaration.route,
      methods: [...declaration.methods],
      authLevel: declaration.authLevel,
      handler: declaration.handler,
    });
  },
};

for (const declaration of functionDeclarations) registrars[declaration.kind](declaration);
