/**
 * The static file server of lib/http/staticFiles.ts, in-process against a folder made here:
 * which paths it refuses before touching the disk, which files it serves, their media types
 * and caching. (tests/functions/dashboard.test.ts covers the dashboard's route through it.)
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../../lib/errors.js';
import { HttpRequest, HttpResponse, InvocationContext } from '../../../lib/host/azureFunctions.js';
import {
  requestedFile,
  staticFileHeaders,
  staticFilesHandler,
  type StaticSite,
} from '../../../lib/http/staticFiles.js';

let base: string;
let site: StaticSite;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'sis-static-'));
  const root = join(base, 'site');
  mkdirSync(join(root, 'assets', 'fonts'), { recursive: true });
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'index.html'), '<!doctype html>');
  writeFileSync(join(root, 'docs', 'page.html'), '<p>page</p>');
  writeFileSync(join(root, 'robots.txt'), 'User-agent: *');
  writeFileSync(join(root, 'assets', 'app-1.mjs'), 'export {};');
  writeFileSync(join(root, 'assets', 'fonts', 'a-1.woff2'), Buffer.from([1, 2]));
  writeFileSync(join(root, 'assets', 'UPPER-1.PNG'), Buffer.from([3]));
  writeFileSync(join(base, 'outside.css'), 'outside');
  // Inside the folder but naming a file outside it, and one naming a file inside it.
  symlinkSync(join(base, 'outside.css'), join(root, 'assets', 'escape.css'));
  symlinkSync(join(root, 'robots.txt'), join(root, 'assets', 'inside.js'));
  site = {
    root: () => root,
    notFoundDetail: 'Not in this site.',
    immutableDir: 'assets',
    htmlHeaders: { 'content-security-policy': "default-src 'self'" },
  };
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function request(path: string, url = 'http://127.0.0.1:7071/api/site/x', method = 'GET') {
  return new HttpRequest({ method, url, params: { path } });
}

async function serve(served: StaticSite, path: string, url?: string, method?: string) {
  const result = await staticFilesHandler(served)(
    request(path, url, method),
    new InvocationContext(),
  );
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const notFound = () => new HttpError('not-found', 'missing');

describe('requestedFile', () => {
  it('maps the empty path to index.html, and the folder without its slash to a redirect', () => {
    expect(requestedFile(request('', 'http://h/api/site/'), notFound)).toEqual({
      segments: ['index.html'],
    });
    expect(requestedFile(request('', 'http://h/api/site?a=1'), notFound)).toEqual({
      redirect: 'site/?a=1',
    });
    expect(requestedFile(request('assets/app-1.mjs'), notFound)).toEqual({
      segments: ['assets', 'app-1.mjs'],
    });
  });

  it.each(['..', '../x', 'assets/../../x', 'a/./b', 'assets/%2e%2e/x', 'a%2fb', 'a\\b', 'a\0b'])(
    'refuses the parameter %j as invalid (400)',
    (path) => {
      expect(() => requestedFile(request(path), notFound)).toThrow(
        expect.objectContaining({ status: 400 }),
      );
    },
  );

  it.each(['http://h/api/site/a%2Fb', 'http://h/api/site/a%5Cb', 'http://h/api/site/a%00b'])(
    'refuses escaped separators and NUL in the URL (%s) even when the parameter is clean',
    (url) => {
      expect(() => requestedFile(request('ab', url), notFound)).toThrow(
        expect.objectContaining({ status: 400 }),
      );
    },
  );

  it.each(['.env', 'assets/.hidden', 'a b.js', `${'x'.repeat(129)}.js`, 'assets//x.js'])(
    'answers %j as a missing file without looking',
    (path) => {
      expect(() => requestedFile(request(path), notFound)).toThrow(
        expect.objectContaining({ status: 404, message: 'missing' }),
      );
    },
  );
});

describe('staticFileHeaders', () => {
  it('types files by extension, case-insensitively, and unknown ones as bytes', () => {
    const typeOf = (file: string) => staticFileHeaders({}, [file], file)['content-type'];
    expect(typeOf('a.mjs')).toBe('text/javascript; charset=utf-8');
    expect(typeOf('a.woff2')).toBe('font/woff2');
    expect(typeOf('A.PNG')).toBe('image/png');
    expect(typeOf('a.webmanifest')).toBe('application/manifest+json; charset=utf-8');
    expect(typeOf('a.bin')).toBe('application/octet-stream');
    expect(typeOf('noextension')).toBe('application/octet-stream');
  });

  it('caches only files below the immutable folder for good', () => {
    const cache = (segments: string[], immutableDir?: string) =>
      staticFileHeaders(immutableDir === undefined ? {} : { immutableDir }, segments, 'f.js')[
        'cache-control'
      ];
    expect(cache(['assets', 'f.js'], 'assets')).toBe('public, max-age=31536000, immutable');
    expect(cache(['assets', 'deep', 'f.js'], 'assets')).toBe('public, max-age=31536000, immutable');
    expect(cache(['assets.js'], 'assets')).toBe('no-cache');
    expect(cache(['other', 'f.js'], 'assets')).toBe('no-cache');
    expect(cache(['assets', 'f.js'])).toBe('no-cache');
  });

  it('adds the page headers to HTML only', () => {
    const htmlHeaders = { 'content-security-policy': "default-src 'none'" };
    expect(staticFileHeaders({ htmlHeaders }, ['index.html'], 'index.html')).toMatchObject({
      'content-security-policy': "default-src 'none'",
      'referrer-policy': 'no-referrer',
    });
    expect(staticFileHeaders({ htmlHeaders }, ['a.js'], 'a.js')).not.toHaveProperty(
      'content-security-policy',
    );
  });
});

describe('staticFilesHandler', () => {
  it('serves files in nested folders with their type, caching and page headers', async () => {
    const font = await serve(site, 'assets/fonts/a-1.woff2');
    expect(font).toMatchObject({ status: 200 });
    expect(font.headers.get('content-type')).toBe('font/woff2');
    expect(font.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const page = await serve(site, 'docs/page.html');
    expect(page).toMatchObject({ status: 200, text: '<p>page</p>' });
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toBe("default-src 'self'");
    const upper = await serve(site, 'assets/UPPER-1.PNG');
    expect(upper.headers.get('content-type')).toBe('image/png');
  });

  it('types a symbolic link inside the folder by the file it names', async () => {
    const linked = await serve(site, 'assets/inside.js');
    expect(linked).toMatchObject({ status: 200, text: 'User-agent: *' });
    expect(linked.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it.each(['assets/escape.css', 'assets', 'docs', 'missing.html', 'index.html/x'])(
    'answers %s as missing, with the site’s detail and nothing from outside',
    async (path) => {
      const served = await serve(site, path);
      expect(served.status).toBe(404);
      expect(served.text).toContain('Not in this site.');
      expect(served.text).not.toContain('outside');
    },
  );

  it('answers 404 while the folder does not exist, and serves it once it does', async () => {
    const later = join(base, 'later');
    const pending = { ...site, root: () => later };
    expect((await serve(pending, '', 'http://h/api/site/')).status).toBe(404);
    mkdirSync(later);
    writeFileSync(join(later, 'index.html'), 'built');
    expect(await serve(pending, '', 'http://h/api/site/')).toMatchObject({
      status: 200,
      text: 'built',
    });
  });

  it('answers methods other than GET with 405 and Allow: GET, before reading the path', async () => {
    const served = await serve(site, '../x', undefined, 'POST');
    expect(served.status).toBe(405);
    expect(served.headers.get('allow')).toBe('GET');
  });
});
