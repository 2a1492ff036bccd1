/**
 * /api/dashboard/{*path}: the live dashboard, static files built by Vite (`dashboard/`) into
 * `dist/dashboard`. Anonymous, because the page itself holds nothing: it calls the API with
 * the user's token (or, behind App Service authentication, with the platform's session).
 * Serves only regular files inside the built folder: traversal, escaped separators and
 * dotfiles are refused before the file system is touched.
 */
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpHandler, HttpRequest, HttpResponseInit } from '@azure/functions';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { problemHandler } from '../lib/http/handler.js';

/** Media types of what Vite emits; anything else is served as bytes. */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

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

/** Vite puts content-hashed files under `assets/`: their URL changes whenever they do. */
const immutable = 'public, max-age=31536000, immutable';

/** A path segment that may name a file: no leading dot (dotfiles, `.`, `..`), no oddities. */
const safeSegment = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** `DASHBOARD_DIR`, or `dist/dashboard` under the project root (from source or from `dist/`). */
export function defaultDashboardDir(): string {
  const configured = process.env['DASHBOARD_DIR'];
  if (configured) return resolve(configured);
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist', 'dashboard');
}

function notFound(): HttpError {
  return new HttpError('not-found', 'There is no such file in the dashboard.');
}

/** The file's segments below the dashboard folder, or a redirect when the folder lacks its slash. */
function requestedFile(request: HttpRequest): { segments: string[] } | { redirect: string } {
  const url = new URL(request.url);
  // Escaped separators and NUL never name a file; refuse them whether or not the host decoded.
  if (/%(2f|5c|00)/i.test(url.pathname) || /[\\\0]/.test(url.pathname)) {
    throw new HttpError('validation', 'The path is not valid.');
  }
  const path = request.params['path'] ?? '';
  if (path === '' || path === '/') {
    if (!url.pathname.endsWith('/')) {
      // Relative, so it holds behind any proxy or prefix: /api/dashboard -> /api/dashboard/
      const last = url.pathname.split('/').pop() ?? '';
      return { redirect: `${last}/${url.search}` };
    }
    return { segments: ['index.html'] };
  }
  const segments = path.split('/');
  if (segments.some((s) => s === '.' || s === '..' || /%(2e|2f|5c)/i.test(s) || /[\\\0]/.test(s))) {
    throw new HttpError('validation', 'The path is not valid.');
  }
  if (!segments.every((s) => safeSegment.test(s))) throw notFound();
  return { segments };
}

/** Serves the built dashboard from `dir()` (read on each request, so a rebuild shows at once). */
export function dashboardHandler(dir: () => string = defaultDashboardDir): HttpHandler {
  return problemHandler(async (request): Promise<HttpResponseInit> => {
    if (request.method !== 'GET') {
      throw new HttpError('method-not-allowed', 'Use GET.', { headers: { allow: 'GET' } });
    }
    const target = requestedFile(request);
    if ('redirect' in target) {
      return { status: 301, headers: { location: target.redirect, 'cache-control': 'no-cache' } };
    }
    const root = dir();
    let file: string;
    try {
      const realRoot = await realpath(root);
      file = await realpath(join(realRoot, ...target.segments));
      // A symbolic link must not lead outside the built folder either.
      if (!file.startsWith(realRoot + sep) || !(await stat(file)).isFile()) throw notFound();
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw notFound();
    }
    const body = await readFile(file);
    const isIndex = target.segments.length === 1 && target.segments[0] === 'index.html';
    const hashed = target.segments.length > 1 && target.segments[0] === 'assets';
    const headers: Record<string, string> = {
      'content-type': contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': hashed && !isIndex ? immutable : 'no-cache',
      'referrer-policy': 'no-referrer',
    };
    if (extname(file).toLowerCase() === '.html') {
      headers['content-security-policy'] = contentSecurityPolicy;
    }
    return { status: 200, headers, body };
  });
}

export const dashboardFunction = httpFunction({
  name: 'dashboard',
  route: 'dashboard/{*path}',
  methods: ['GET'],
  handler: dashboardHandler(),
});
