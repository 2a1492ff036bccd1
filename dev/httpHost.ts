/**
 * The HTTP half of the local functions host: serves every declared HTTP function under the
 * route prefix from host.json, turning Node requests into `HttpRequest` and results into
 * responses through `@azure/functions` own classes, as the Functions host's Node worker
 * does. Route templates support `{name}` and `{name?}` segments, and a catch-all `{*name}` as
 * the last segment (optional, as in the Functions host: it may match nothing).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  HttpMethod,
  HttpResponseInit,
  HttpResponse as HttpResponseType,
  LogLevel,
} from '@azure/functions';
import { HttpRequest, HttpResponse, InvocationContext } from '../lib/host/azureFunctions.js';
import type { HttpFunctionDeclaration } from '../lib/host/declarations.js';

/** Largest body the host buffers (the Functions host's own limit is far above the app's 1 MiB). */
export const hostMaxBodyBytes = 16 * 1024 * 1024;

interface CompiledRoute {
  declaration: HttpFunctionDeclaration;
  pattern: RegExp;
  names: string[];
  /** The catch-all parameter, when the template ends with `{*name}`. */
  catchAll?: string;
}

export function compileRoute(declaration: HttpFunctionDeclaration, prefix: string): CompiledRoute {
  const names: string[] = [];
  let catchAll: string | undefined;
  const parts = [prefix, ...declaration.route.split('/')].filter(Boolean);
  const segments = parts.map((segment, index) => {
    const rest = /^\{\*(\w+)\}$/.exec(segment);
    if (rest?.[1] && index === parts.length - 1) {
      names.push(rest[1]);
      catchAll = rest[1];
      return '(?:/(.*))?';
    }
    const param = /^\{(\w+)(\?)?\}$/.exec(segment);
    if (param?.[1]) {
      names.push(param[1]);
      return param[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    }
    if (/[{}]/.test(segment))
      throw new Error(`Unsupported route segment "${segment}" in ${declaration.name}`);
    return `/${segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}`;
  });
  const pattern = new RegExp(`^${segments.join('')}/?$`, 'i');
  return { declaration, pattern, names, ...(catchAll ? { catchAll } : {}) };
}

export type RouteMatch =
  | { kind: 'matched'; declaration: HttpFunctionDeclaration; params: Record<string, string> }
  | { kind: 'bad-request' }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

/** Finds the function serving `method` at `pathname`, with its decoded route parameters. */
export function matchRoute(
  routes: readonly CompiledRoute[],
  method: string,
  pathname: string,
): RouteMatch {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (!route.declaration.methods.includes(method as HttpMethod)) continue;
    const params: Record<string, string> = {};
    try {
      route.names.forEach((name, index) => {
        const value = match[index + 1];
        if (value === undefined) return;
        // A catch-all keeps escaped separators (`%2F`) escaped, so they never become path
        // separators; other parameters are one segment and decoded whole.
        params[name] = name === route.catchAll ? decodeURI(value) : decodeURIComponent(value);
      });
    } catch {
      return { kind: 'bad-request' }; // a malformed percent-escape
    }
    return { kind: 'matched', declaration: route.declaration, params };
  }
  return { kind: pathMatched ? 'method-not-allowed' : 'not-found' };
}

export interface LocalHttpHostOptions {
  declarations: readonly HttpFunctionDeclaration[];
  routePrefix: string;
  /** Extra routes outside the function prefix (the dev issuer's JWKS). */
  extraRoutes?: Readonly<
    Record<string, () => { status: number; headers: Record<string, string>; body: string }>
  >;
  log?: (level: LogLevel, functionName: string, message: string) => void;
  /** Requests wait for this before they are dispatched (start-up still running). */
  ready?: Promise<void>;
}

function defaultLog(level: LogLevel, functionName: string, message: string): void {
  const line = `[${new Date().toISOString()}] ${level.padEnd(11)} ${functionName}: ${message}`;
  if (level === 'error' || level === 'warning') console.error(line);
  else if (level !== 'trace' && level !== 'debug') console.log(line);
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > hostMaxBodyBytes) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const unmatched = {
  'bad-request': [400, 'Bad request'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
} as const;

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

/**
 * A Host value the Functions host's Kestrel accepts: a name of `!$&'()-._~` and letters and
 * digits, or an IPv6 literal of hex digits, `:` and `.` (at least three inside the brackets),
 * then optionally `:` and digits. No userinfo, no percent-escapes, nothing else.
 * (dotnet/aspnetcore src/Shared/ServerInfrastructure/HttpCharacters.cs `_allowedHostChars`
 * and HttpUtilities.IsHostHeaderValid in src/Servers/Kestrel/Core.)
 */
const kestrelHost = /^(?:[A-Za-z0-9!$&'()\-._~]+|\[[0-9A-Fa-f:.]{3,}\])(?::[0-9]+)?$/;

/**
 * The URL of a request, or undefined for one Kestrel answers 400: more than one Host header,
 * or a Host that is not `host[:port]` (RFC 9112 §3.2). An empty Host (allowed by Kestrel, as
 * by the RFC) and a missing one (HTTP/1.0; Node itself refuses an HTTP/1.1 request without
 * one) name the loopback address. A URL with userinfo, possible through an absolute request
 * target, is refused too: undici's Request, under `HttpRequest`, throws for credentials.
 */
function requestUrl(req: IncomingMessage): URL | undefined {
  const raw = req.rawHeaders;
  let hostHeaders = 0;
  for (let index = 0; index < raw.length; index += 2)
    if (raw[index]?.toLowerCase() === 'host') hostHeaders += 1;
  if (hostHeaders > 1) return undefined;
  const host = req.headers.host ?? '';
  if (host !== '' && !kestrelHost.test(host)) return undefined;
  const url = URL.parse(req.url ?? '/', `http://${host === '' ? '127.0.0.1' : host}`);
  return url && url.username === '' && url.password === '' ? url : undefined;
}

/**
 * Whether the request has a body to read: one framed by `Transfer-Encoding` or a non-zero
 * `Content-Length`; a request with neither has none (RFC 9112 §6.3, rules 6 and 7), and Node's
 * parser has refused one with an invalid length before this runs.
 */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

const noBody = Buffer.alloc(0);

/** Statuses whose responses have no body (the library drops one: WHATWG fetch "null body status"). */
const nullBodyStatuses = new Set([204, 205, 304]);

/**
 * The bytes `new HttpResponse(init)` would give, without building an undici `Response` and
 * reading its stream back: for the usual answer (a string body or none, headers as a record
 * of lower-case names, no cookies, no `jsonBody`). Anything else returns undefined and goes
 * through `HttpResponse`. A string body without a content type gets the one `Response`
 * gives it (WHATWG fetch, "extract a body": `text/plain;charset=UTF-8`).
 */
function plainResponse(
  init: HttpResponseInit,
): { status: number; headers: Record<string, string>; body: string | undefined } | undefined {
  const { body, headers = {}, status = 200 } = init;
  if (init.jsonBody !== undefined || (init.cookies?.length ?? 0) > 0) return undefined;
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  if (headers instanceof Headers || Array.isArray(headers)) return undefined;
  const out: Record<string, string> = {};
  for (const name in headers) {
    if (name !== name.toLowerCase()) return undefined;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  const text = nullBodyStatuses.has(status) ? undefined : (body ?? undefined);
  if (typeof text === 'string' && out['content-type'] === undefined)
    out['content-type'] = 'text/plain;charset=UTF-8';
  return { status, headers: out, body: text };
}

/** Creates the server (not yet listening). */
export function createLocalHttpHost(options: LocalHttpHostOptions): Server {
  const routes = options.declarations.map((d) => compileRoute(d, options.routePrefix));
  const log = options.log ?? defaultLog;

  return createServer((req, res) => {
    void (async () => {
      const url = requestUrl(req);
      if (!url) {
        plain(res, 400, 'Bad request');
        return;
      }
      await options.ready;
      const extra = options.extraRoutes?.[url.pathname];
      if (extra && req.method === 'GET') {
        const response = extra();
        res.writeHead(response.status, response.headers).end(response.body);
        return;
      }
      const found = matchRoute(routes, req.method ?? 'GET', url.pathname);
      if (found.kind !== 'matched') {
        const [status, text] = unmatched[found.kind];
        plain(res, status, text);
        return;
      }
      const { declaration, params } = found;
      const body = hasBody(req) ? await readBody(req) : noBody;
      if (body === 'too-large') {
        plain(res, 413, 'Request body too large');
        return;
      }
      const headers: Record<string, string> = {};
      const incoming = req.headers;
      for (const name in incoming) {
        const value = incoming[name];
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      // As Azure's front end does: the peer's address appended to X-Forwarded-For, the entry
      // the app takes as the client's (lib/http/rateLimits.ts `clientAddress`).
      const peer = req.socket.remoteAddress ?? 'unknown';
      const forwarded = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = forwarded ? `${forwarded}, ${peer}` : peer;
      const request = new HttpRequest({
        method: req.method ?? 'GET',
        url: url.toString(),
        headers,
        params,
        body: { bytes: body },
      });
      const invocationId = randomUUID();
      const functionName = declaration.name;
      const context = new InvocationContext({
        invocationId,
        functionName,
        logHandler: (level, ...args) => {
          log(
            level,
            functionName,
            args.map((a) => (typeof a === 'string' ? a : String(a))).join(' '),
          );
        },
      });
      let result: HttpResponseInit | HttpResponseType;
      try {
        result = await declaration.handler(request, context);
      } catch (error) {
        // The Functions host answers an unhandled exception with a bare 500.
        log(
          'error',
          functionName,
          `Unhandled: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        plain(res, 500, '');
        return;
      }
      const direct = result instanceof HttpResponse ? undefined : plainResponse(result);
      if (direct) {
        res
          .writeHead(direct.status, direct.headers)
          .end(req.method === 'HEAD' ? undefined : direct.body);
        return;
      }
      const response = result instanceof HttpResponse ? result : new HttpResponse(result);
      const bytes = Buffer.from(await response.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        outHeaders[name] = value;
      });
      res.writeHead(response.status, outHeaders).end(req.method === 'HEAD' ? undefined : bytes);
    })().catch((error: unknown) => {
      log('error', 'host', error instanceof Error ? (error.stack ?? error.message) : String(error));
      if (!res.headersSent) plain(res, 500, '');
      else res.destroy();
    });
  });
}

/** Listens on `host:port`; resolves with the bound port. */
export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
