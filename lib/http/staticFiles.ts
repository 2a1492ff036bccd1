/**
 * Serves a folder of built static files (the dashboard's Vite output) over an HTTP function.
 * Only regular files inside the folder are served: traversal, escaped separators and
 * dotfiles are refused before the file system is touched, and a symbolic link that leads
 * outside the folder is answered as a missing file.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { HttpHandler, HttpRequest, HttpResponseInit } from '@azure/functions';
import { HttpError } from '../errors.js';
import { problemHandler } from './handler.js';
import type { Services } from '../services.js';

/** Media types of what Vite emits; anything else is served as bytes. */
export const staticContentTypes: Readonly<Record<string, string>> = {
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

/** Cache-Control of content-hashed files: their URL changes whenever they do. */
const immutable = 'public, max-age=31536000, immutable';

/** A path segment that may name a file: no leading dot (dotfiles, `.`, `..`), no oddities. */
const safeSegment = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** What one static site serves and how. */
export interface StaticSite {
  /** The folder served, asked on each request (so a rebuild shows at once). */
  root: (services: Services) => string;
  /** Detail of the 404 problem for a file the site does not have. */
  notFoundDetail: string;
  /**
   * Top-level folder of content-hashed files (Vite's `assets`), cached for good; everything
   * else, `index.html` above all, is revalidated on every use.
   */
  immutableDir?: string;
  /** Extra headers of HTML pages (their Content-Security-Policy). */
  htmlHeaders?: Readonly<Record<string, string>>;
}

/**
 * The file's segments below the site's folder (from the route's `{*path}` parameter), or a
 * redirect when the folder is asked for without its slash. Throws 400 for a path that tries
 * to leave the folder and 404 for one that cannot name a served file.
 */
export function requestedFile(
  request: HttpRequest,
  notFound: () => HttpError,
): { segments: string[] } | { redirect: string } {
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

/**
 * The headers of a served file: its media type (by the extension of `file`, the file as
 * found on disk), caching by where it was asked for (`segments`), and for pages `htmlHeaders`.
 */
export function staticFileHeaders(
  site: Pick<StaticSite, 'immutableDir' | 'htmlHeaders'>,
  segments: readonly string[],
  file: string,
): Record<string, string> {
  const extension = extname(file).toLowerCase();
  const hashed =
    site.immutableDir !== undefined && segments.length > 1 && segments[0] === site.immutableDir;
  return {
    'content-type': staticContentTypes[extension] ?? 'application/octet-stream',
    'cache-control': hashed ? immutable : 'no-cache',
    'referrer-policy': 'no-referrer',
    ...(extension === '.html' ? site.htmlHeaders : {}),
  };
}

/** An HTTP handler serving `site` to GET requests on a `{*path}` route. */
export function staticFilesHandler(site: StaticSite): HttpHandler {
  const notFound = () => new HttpError('not-found', site.notFoundDetail);
  return problemHandler(async (request, _context, services): Promise<HttpResponseInit> => {
    if (request.method !== 'GET') {
      throw new HttpError('method-not-allowed', 'Use GET.', { headers: { allow: 'GET' } });
    }
    const target = requestedFile(request, notFound);
    if ('redirect' in target) {
      return { status: 301, headers: { location: target.redirect, 'cache-control': 'no-cache' } };
    }
    let file: string;
    try {
      const realRoot = await realpath(site.root(services));
      file = await realpath(join(realRoot, ...target.segments));
      // A symbolic link must not lead outside the built folder either.
      if (!file.startsWith(realRoot + sep) || !(await stat(file)).isFile()) throw notFound();
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw notFound();
    }
    const body = await readFile(file);
    return { status: 200, headers: staticFileHeaders(site, target.segments, file), body };
  }, 'dashboard');
}
