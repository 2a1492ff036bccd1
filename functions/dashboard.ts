/**
 * /api/dashboard/{*path}: the live dashboard, static files built by Vite (`dashboard/`) into
 * `DASHBOARD_DIR` (lib/http/staticFiles.ts serves them). Anonymous, because the page itself
 * holds nothing: it calls the API with the user's token (or, behind App Service
 * authentication, with the platform's session).
 */
import type { HttpHandler } from '@azure/functions';
import { httpFunction } from '../lib/host/declarations.js';
import { staticFilesHandler } from '../lib/http/staticFiles.js';
import type { Services } from '../lib/services.js';

/**
 * The page may load only its own scripts and styles, and open WebSockets to Web PubSub
 * (another origin: the service's host in Azure, the stand-in's port locally).
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Serves the built dashboard from `dir(services)`, by default the validated `DASHBOARD_DIR`. */
export function dashboardHandler(
  dir: (services: Services) => string = (services) =>
    services.config.section('dashboard').DASHBOARD_DIR,
): HttpHandler {
  return staticFilesHandler({
    root: dir,
    notFoundDetail: 'There is no such file in the dashboard.',
    // Vite puts content-hashed files under `assets/`.
    immutableDir: 'assets',
    htmlHeaders: { 'content-security-policy': contentSecurityPolicy },
  });
}

export const dashboardFunction = httpFunction({
  name: 'dashboard',
  route: 'dashboard/{*path}',
  methods: ['GET'],
  handler: dashboardHandler(),
});
