/**
 * /api/dashboard/{*path}: the dashboard's static files, called in-process through the same
 * route matching as the hosts, against a built folder made here (the real build is
 * exercised by tests/e2e/dashboard.test.ts). Only regular files inside the folder are served.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRoute, matchRoute } from '../../dev/httpHost.js';
import { dashboardFunction, dashboardHandler } from '../../functions/dashboard.js';
import { HttpRequest, HttpResponse, InvocationContext } from '../../lib/host/azureFunctions.js';
import { useAppSettings } from '../helpers/appServices.js';

let base: string;
let built: string;
const route = compileRoute(dashboardFunction, 'api');

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'sis-dashboard-'));
  built = join(base, 'dashboard');
  mkdirSync(join(built, 'assets'), { recursive: true });
  writeFileSync(join(built, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(built, 'assets', 'index-AbC123.js'), 'console.log(1);');
  writeFileSync(join(built, 'assets', 'index-AbC123.css'), 'body{}');
  writeFileSync(join(built, 'assets', 'index-AbC123.js.map'), '{}');
  writeFileSync(join(built, 'assets', 'logo-XyZ.svg'), '<svg/>');
  writeFileSync(join(built, 'assets', 'data-1.bin'), Buffer.from([0, 1, 2]));
  writeFileSync(join(built, '.env'), 'SECRET=1');
  mkdirSync(join(built, '.git'));
  writeFileSync(join(built, '.git', 'config'), 'secret');
  // Outside the built folder: a sibling whose name starts the same, and a file above it.
  mkdirSync(join(base, 'dashboard-other'));
  writeFileSync(join(base, 'dashboard-other', 'x.js'), 'outside');
  writeFileSync(join(base, 'secret.txt'), 'outside');
  symlinkSync(join(base, 'secret.txt'), join(built, 'assets', 'link.txt'));
});
useAppSettings(() => ({ DASHBOARD_DIR: built }));

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

interface Served {
  status: number;
  headers: Headers;
  text: string;
}

/** Routes `path` as the hosts do, then calls the declared handler with a real request. */
async function get(path: string, method = 'GET'): Promise<Served> {
  const url = new URL(path, 'http://127.0.0.1:7071');
  const found = matchRoute([route], 'GET', url.pathname);
  if (found.kind !== 'matched')
    return { status: found.kind === 'bad-request' ? 400 : 404, headers: new Headers(), text: '' };
  const request = new HttpRequest({
    method,
    url: url.toString(),
    headers: {},
    params: found.params,
  });
  const context = new InvocationContext({ invocationId: 'test', functionName: 'dashboard' });
  const result = await found.declaration.handler(request, context);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('the dashboard function', () => {
  it('is anonymous, GET only, on a catch-all route under dashboard/', () => {
    expect(dashboardFunction).toMatchObject({
      kind: 'http',
      authLevel: 'anonymous',
      route: 'dashboard/{*path}',
      methods: ['GET'],
    });
  });

  it('serves index.html at the folder, never cached without revalidation', async () => {
    const served = await get('/api/dashboard/');
    expect(served.status).toBe(200);
    expect(served.text).toBe('<!doctype html><title>x</title>');
    expect(served.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(served.headers.get('cache-control')).toBe('no-cache');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const named = await get('/api/dashboard/index.html');
    expect(named.status).toBe(200);
    expect(named.headers.get('cache-control')).toBe('no-cache');
  });

  it('redirects the folder without its slash, keeping the query', async () => {
    const served = await get('/api/dashboard');
    expect(served.status).toBe(301);
    expect(served.headers.get('location')).toBe('dashboard/');
    expect(new URL(served.headers.get('location')!, 'http://h/api/dashboard').pathname).toBe(
      '/api/dashboard/',
    );
    expect((await get('/api/dashboard?x=1')).headers.get('location')).toBe('dashboard/?x=1');
  });

  it.each([
    ['assets/index-AbC123.js', 'text/javascript; charset=utf-8'],
    ['assets/index-AbC123.css', 'text/css; charset=utf-8'],
    ['assets/index-AbC123.js.map', 'application/json; charset=utf-8'],
    ['assets/logo-XyZ.svg', 'image/svg+xml'],
    ['assets/data-1.bin', 'application/octet-stream'],
  ])('serves %s as %s, cached for good', async (path, type) => {
    const served = await get(`/api/dashboard/${path}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe(type);
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(served.headers.get('content-security-policy')).toBeNull();
  });

  it.each([
    'nothing.js',
    'assets/',
    'assets',
    'assets/missing-1.js',
    'assets/index-AbC123.js/',
    'index.html/x',
    '.env',
    '.git/config',
    'assets/.hidden',
    'assets/link.txt',
    'assets/a b.js',
  ])('answers 404 for %s', async (path) => {
    const served = await get(`/api/dashboard/${path}`);
    expect(served.status).toBe(404);
    expect(served.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(served.text).not.toContain('outside');
    expect(served.text).not.toContain('SECRET');
  });

  it.each([
    // URL parsing folds dot segments, escaped or not: these leave the route altogether.
    ['../dashboard-other/x.js', 404],
    ['assets/../../secret.txt', 404],
    ['%2e%2e/secret.txt', 404],
    ['assets/%2e%2e/%2e%2e/secret.txt', 404],
    // Escaped separators and NUL reach the function, which refuses them.
    ['assets/..%2F..%2Fsecret.txt', 400],
    ['assets%2Findex-AbC123.js', 400],
    ['assets%5Cindex-AbC123.js', 400],
    ['assets/x%00.js', 400],
  ])('refuses %s with %i, revealing nothing', async (path, status) => {
    const served = await get(`/api/dashboard/${path}`);
    expect(served.status).toBe(status);
    expect(served.text).not.toContain('outside');
  });

  it('refuses traversal that reaches the handler as a parameter with 400', async () => {
    const handler = dashboardHandler(() => built);
    for (const path of ['../secret.txt', 'assets/../../secret.txt', 'assets/%2e%2e/x', '..']) {
      const request = new HttpRequest({
        method: 'GET',
        url: 'http://127.0.0.1:7071/api/dashboard/x',
        params: { path },
      });
      const result = await handler(request, new InvocationContext());
      expect(result, path).toMatchObject({ status: 400 });
    }
  });

  it('answers anything but GET with 405 and Allow: GET', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const served = await get('/api/dashboard/index.html', method);
      expect(served.status, method).toBe(405);
      expect(served.headers.get('allow')).toBe('GET');
    }
  });

  it('answers 404 when the dashboard has not been built', async () => {
    const handler = dashboardHandler(() => join(base, 'not-built'));
    const request = new HttpRequest({
      method: 'GET',
      url: 'http://127.0.0.1:7071/api/dashboard/',
      params: { path: '' },
    });
    expect(await handler(request, new InvocationContext())).toMatchObject({ status: 404 });
  });
});
