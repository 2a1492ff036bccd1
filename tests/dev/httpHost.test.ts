import { request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest, InvocationContext, LogLevel } from '@azure/functions';
import {
  compileRoute,
  createLocalHttpHost,
  hostMaxBodyBytes,
  listen,
  matchRoute,
} from '../../dev/httpHost.js';
import { httpFunction } from '../../lib/host/declarations.js';

interface Seen {
  name: string;
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  bodyLength: number;
  invocationId: string;
}

const seen: Seen[] = [];
const logs: { level: LogLevel; functionName: string; message: string }[] = [];

async function record(name: string, request: HttpRequest, context: InvocationContext) {
  const body = request.body ? await request.arrayBuffer() : new ArrayBuffer(0);
  seen.push({
    name,
    method: request.method,
    params: { ...request.params },
    query: Object.fromEntries(request.query.entries()),
    headers: Object.fromEntries(request.headers.entries()),
    bodyLength: body.byteLength,
    invocationId: context.invocationId,
  });
}

const declarations = [
  httpFunction({
    name: 'item',
    route: 'things/{id}',
    methods: ['GET', 'PUT', 'HEAD'],
    handler: async (request, context) => {
      await record('item', request, context);
      context.log('item handled');
      return { jsonBody: { id: request.params['id'] } };
    },
  }),
  httpFunction({
    name: 'greet',
    route: 'greet/{name?}',
    methods: ['GET'],
    handler: async (request, context) => {
      await record('greet', request, context);
      return { body: `hello ${request.params['name'] ?? 'nobody'}` };
    },
  }),
  httpFunction({
    name: 'upload',
    route: 'upload',
    methods: ['POST'],
    handler: async (request, context) => {
      await record('upload', request, context);
      return { status: 202 };
    },
  }),
  httpFunction({
    name: 'custom',
    route: 'custom',
    methods: ['GET', 'DELETE'],
    handler: () =>
      Promise.resolve({
        status: 418,
        headers: { 'x-custom': 'yes', etag: '"9"', 'content-type': 'text/x-teapot' },
        body: 'short and stout',
      }),
  }),
  httpFunction({
    name: 'broken',
    route: 'broken',
    methods: ['GET'],
    handler: () => Promise.reject(new Error('internal detail: password=hunter2')),
  }),
];

let server: Server;
let base: string;

beforeAll(async () => {
  server = createLocalHttpHost({
    declarations,
    routePrefix: 'api',
    log: (level, functionName, message) => logs.push({ level, functionName, message }),
    extraRoutes: {
      '/.well-known/jwks.json': () => ({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"keys":[]}',
      }),
    },
  });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

describe('local HTTP host', () => {
  it('dispatches to the declared function with decoded route parameters', async () => {
    const before = seen.length;
    const response = await fetch(`${base}/api/things/a%20b%C3%A9?x=1&y=two`, {
      headers: { 'x-probe': 'p1' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: 'a bé' });
    const call = seen[before];
    expect(call).toMatchObject({
      name: 'item',
      method: 'GET',
      params: { id: 'a bé' },
      query: { x: '1', y: 'two' },
    });
    expect(call?.headers['x-probe']).toBe('p1');
    expect(call?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs).toContainEqual({
      level: 'information',
      functionName: 'item',
      message: 'item handled',
    });
  });

  it('matches routes case-insensitively and with a trailing slash', async () => {
    expect((await fetch(`${base}/API/Things/5/`)).status).toBe(200);
  });

  it('serves an optional segment with and without a value', async () => {
    const named = await fetch(`${base}/api/greet/ada`);
    expect(await named.text()).toBe('hello ada');
    const before = seen.length;
    const anonymous = await fetch(`${base}/api/greet`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.text()).toBe('hello nobody');
    expect(seen[before]?.params).toEqual({});
  });

  it('answers an unknown path with 404', async () => {
    for (const path of ['/api/nothing', '/things/1', '/api/things/1/2', '/api/things', '/']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
    }
  });

  it('answers a wrong method with 405 without calling the function', async () => {
    const before = seen.length;
    const response = await fetch(`${base}/api/things/1`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    const post = await fetch(`${base}/api/greet/x`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(seen.length).toBe(before);
  });

  it('passes request bodies through', async () => {
    const before = seen.length;
    const response = await fetch(`${base}/api/upload`, { method: 'POST', body: 'x'.repeat(5000) });
    expect(response.status).toBe(202);
    expect(seen[before]?.bodyLength).toBe(5000);
  });

  it('passes a chunked body through, and an empty one as empty', async () => {
    const before = seen.length;
    const chunks = ['x'.repeat(3000), 'y'.repeat(2000)];
    // A stream body has no Content-Length: fetch sends it with Transfer-Encoding: chunked.
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const chunked = await fetch(`${base}/api/upload`, {
      method: 'POST',
      body: streamed,
      duplex: 'half',
    });
    expect(chunked.status).toBe(202);
    expect(seen[before]?.bodyLength).toBe(5000);
    const empty = await fetch(`${base}/api/upload`, { method: 'POST' });
    expect(empty.status).toBe(202);
    expect(seen[before + 1]?.bodyLength).toBe(0);
  });

  it('accepts a body of exactly the host limit', async () => {
    const before = seen.length;
    const response = await fetch(`${base}/api/upload`, {
      method: 'POST',
      body: new Uint8Array(hostMaxBodyBytes),
    });
    expect(response.status).toBe(202);
    expect(seen[before]?.bodyLength).toBe(hostMaxBodyBytes);
  });

  it('refuses a body over the host limit with 413 without calling the function', async () => {
    const before = seen.length;
    const response = await fetch(`${base}/api/upload`, {
      method: 'POST',
      body: new Uint8Array(hostMaxBodyBytes + 1024),
    });
    expect(response.status).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('sends no body for HEAD but keeps the headers', async () => {
    const head = await fetch(`${base}/api/things/7`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await head.text()).toBe('');
    // A raw socket check: no body bytes follow the HEAD response headers.
    const raw = await new Promise<{ bytes: number; status: number }>((resolve, reject) => {
      const req = httpRequest(`${base}/api/things/7`, { method: 'HEAD' }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => {
          resolve({ bytes, status: res.statusCode ?? 0 });
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw).toEqual({ bytes: 0, status: 200 });
  });

  it('passes status, headers and body of the response through', async () => {
    const response = await fetch(`${base}/api/custom`);
    expect(response.status).toBe(418);
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(response.headers.get('etag')).toBe('"9"');
    expect(response.headers.get('content-type')).toBe('text/x-teapot');
    expect(await response.text()).toBe('short and stout');
  });

  it('serves extra routes outside the prefix', async () => {
    const response = await fetch(`${base}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ keys: [] });
    expect((await fetch(`${base}/.well-known/other.json`)).status).toBe(404);
  });

  it('answers a throwing function with a bare 500 and logs it', async () => {
    const response = await fetch(`${base}/api/broken`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        functionName: 'broken',
        message: expect.stringContaining('password=hunter2'),
      }),
    );
  });

  // Bug: matchRoute runs decodeURIComponent on route parameters unguarded, so a malformed
  // escape in the URL throws URIError and the host answers 500 for a client mistake.
  it('answers a malformed percent-escape in a route parameter with a 4xx', async () => {
    const response = await fetch(`${base}/api/things/%E0%A4%A`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });
});

/**
 * Sends `head` (request line and headers, without the final blank line) over a plain socket,
 * so that any bytes at all can be tried, and resolves with the response's status code.
 */
function rawStatus(head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const match = /^HTTP\/1\.[01] (\d{3}) /.exec(received);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      reject(new Error(`Connection closed without a status line: ${JSON.stringify(received)}`));
    });
    socket.end(`${head}\r\nConnection: close\r\n\r\n`, 'latin1');
  });
}

describe('the Host header', () => {
  const get = (host: string) => rawStatus(`GET /api/things/1 HTTP/1.1\r\nHost: ${host}`);

  // The Functions host's Kestrel refuses any Host that is not `host[:port]` with 400
  // (dotnet/aspnetcore src/Shared/ServerInfrastructure/HttpCharacters.cs, _allowedHostChars;
  // HttpUtilities.IsHostHeaderValid). Userinfo used to reach undici's Request constructor,
  // which throws for a URL with credentials, and the local host answered 500.
  it.each([
    ['userinfo', 'a@b'],
    ['userinfo with a password', 'user:secret@127.0.0.1'],
    ['spaces', 'bad host name'],
    ['a tab', 'bad\thost'],
    ['an unclosed IPv6 literal', '[::1'],
    ['an IPv6 literal too short', '[:]'],
    ['an IPv6 literal with a name in it', '[::1x]'],
    ['a colon without a port', '127.0.0.1:'],
    ['a port that is not a number', '127.0.0.1:http'],
    ['a port out of range', '127.0.0.1:99999'],
    ['only a port', ':7071'],
    ['a list', '127.0.0.1, example.com'],
    ['a percent-escape', 'ex%41mple.com'],
    ['a path', 'example.com/x'],
    ['a query', 'example.com?x'],
    ['a backslash', 'example.com\\x'],
    ['non-ASCII', 'b\u00fccher.example'],
  ])('answers a Host with %s with 400, without calling the function', async (_name, host) => {
    const before = seen.length;
    expect(await get(host)).toBe(400);
    expect(seen.length).toBe(before);
  });

  it('answers two Host headers with 400', async () => {
    const before = seen.length;
    expect(
      await rawStatus('GET /api/things/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: example.com'),
    ).toBe(400);
    expect(seen.length).toBe(before);
  });

  it('answers an absolute request target with userinfo with 400', async () => {
    const before = seen.length;
    expect(await rawStatus('GET http://a@b/api/things/1 HTTP/1.1\r\nHost: b')).toBe(400);
    expect(seen.length).toBe(before);
  });

  it('answers a Host over the header size limit with 431, not 500', async () => {
    expect(await get('h'.repeat(20_000))).toBe(431);
  });

  it.each([
    ['a name and port', 'localhost:7071'],
    ['an IPv4 address', '127.0.0.1'],
    ['an IPv6 literal and port', '[::1]:7071'],
    ['the sub-delimiters Kestrel allows', "a!$&'()-._~z"],
    // Kestrel lets an empty Host through (HttpUtilities.IsHostHeaderValid: "The spec allows
    // empty values"); the URL then names the listening address.
    ['nothing (empty)', ''],
  ])('serves a Host with %s', async (_name, host) => {
    expect(await get(host)).toBe(200);
  });

  it('serves an HTTP/1.0 request without a Host', async () => {
    expect(await rawStatus('GET /api/things/1 HTTP/1.0')).toBe(200);
  });
});

describe('ready', () => {
  /** A host with one counting function, gated by `ready` (or not at all). */
  async function countingHost(ready: Promise<void> | undefined) {
    const state = { calls: 0 };
    const host = createLocalHttpHost({
      routePrefix: 'api',
      ...(ready ? { ready } : {}),
      log: () => undefined,
      declarations: [
        httpFunction({
          name: 'ping',
          route: 'ping',
          methods: ['GET'],
          handler: () => {
            state.calls++;
            return Promise.resolve({ body: 'pong' });
          },
        }),
      ],
    });
    const port = await listen(host, 0);
    /** Sends a request and lets the event loop turn a bounded number of times after it arrives. */
    const send = async () => {
      const arrived = new Promise<void>((resolve) => {
        host.once('request', () => {
          resolve();
        });
      });
      const pending = fetch(`http://127.0.0.1:${port}/api/ping`);
      await arrived;
      for (let i = 0; i < 20 && state.calls === 0; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Wrapped: returning the promise itself would make send() wait for the response.
      return { pending };
    };
    const close = async () => {
      host.closeAllConnections();
      await new Promise<void>((resolve) => {
        host.close(() => {
          resolve();
        });
      });
    };
    return { state, send, close };
  }

  it('dispatches at once without a gate (control for the test below)', async () => {
    const host = await countingHost(undefined);
    try {
      const { pending } = await host.send();
      expect(host.state.calls).toBe(1);
      expect(await (await pending).text()).toBe('pong');
    } finally {
      await host.close();
    }
  });

  it('holds requests until start-up has finished', async () => {
    let release: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    const host = await countingHost(ready);
    try {
      const { pending } = await host.send();
      expect(host.state.calls).toBe(0);
      release();
      const response = await pending;
      expect(await response.text()).toBe('pong');
      expect(host.state.calls).toBe(1);
    } finally {
      await host.close();
    }
  });
});

describe('compileRoute', () => {
  const declaration = (route: string) =>
    httpFunction({ name: 'f', route, methods: ['GET'], handler: () => Promise.resolve({}) });

  it.each([
    'things/{id:int}',
    'things/{id:regex(^\\d+$)}',
    'things/x{id}',
    'things/{*rest}/more',
    'things/x{*rest}',
    '{a}-{b}',
  ])('refuses the unsupported segment in %s', (route) => {
    expect(() => compileRoute(declaration(route), 'api')).toThrow(/Unsupported route segment/);
  });

  it('compiles plain, parameter and optional segments', () => {
    const compiled = compileRoute(declaration('equipment/{id}/technicians/{technicianId?}'), 'api');
    expect(compiled.names).toEqual(['id', 'technicianId']);
    expect(compiled.pattern.test('/api/equipment/1/technicians')).toBe(true);
    expect(compiled.pattern.test('/api/equipment/1/technicians/2')).toBe(true);
    expect(compiled.pattern.test('/api/equipment//technicians')).toBe(false);
  });

  it('compiles a trailing catch-all that may match nothing, keeping escaped separators', () => {
    const compiled = compileRoute(declaration('files/{*path}'), 'api');
    expect(compiled.names).toEqual(['path']);
    const match = (path: string) => matchRoute([compiled], 'GET', path);
    expect(match('/api/files')).toMatchObject({ kind: 'matched', params: {} });
    expect(match('/api/files/')).toMatchObject({ kind: 'matched', params: { path: '' } });
    expect(match('/api/files/a/b%20c.js')).toMatchObject({ params: { path: 'a/b c.js' } });
    expect(match('/api/files/a%2Fb')).toMatchObject({ params: { path: 'a%2Fb' } });
    expect(match('/api/files/%E0%A4%A')).toEqual({ kind: 'bad-request' });
    expect(match('/api/filesx')).toEqual({ kind: 'not-found' });
    expect(match('/api/files/x')).toMatchObject({ kind: 'matched' });
    expect(matchRoute([compiled], 'POST', '/api/files/x')).toEqual({ kind: 'method-not-allowed' });
  });

  it('escapes regular-expression characters in literal segments', () => {
    const compiled = compileRoute(declaration('openapi.json'), 'api');
    expect(compiled.pattern.test('/api/openapi.json')).toBe(true);
    expect(compiled.pattern.test('/api/openapiXjson')).toBe(false);
  });
});
