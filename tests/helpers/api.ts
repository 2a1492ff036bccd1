/**
 * Calls the declared functions in-process, the way the Functions host would: the route is
 * matched against the same declarations, and the handler gets a real `HttpRequest` and
 * `InvocationContext` from `@azure/functions`. No server is involved.
 */
import { functionDeclarations } from '../../functions/registry.js';
import { compileRoute, matchRoute } from '../../dev/httpHost.js';
import { httpDeclarations } from '../../lib/host/declarations.js';
import { HttpRequest, HttpResponse, InvocationContext } from '../../lib/host/azureFunctions.js';

export interface ApiResult {
  status: number;
  headers: Headers;
  /** Parsed JSON body (undefined when empty or not JSON, e.g. a dashboard file). */
  body: any;
  text: string;
  /** Messages the function logged. */
  logs: string[];
  /** The path called, without the query: what a problem document names as its `instance`. */
  path: string;
}

export interface ApiCallOptions {
  token?: string;
  /** A JSON value, or a raw string/bytes sent as is. */
  json?: unknown;
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

const routes = httpDeclarations(functionDeclarations).map((d) => compileRoute(d, 'api'));

export async function call(
  method: string,
  path: string,
  options: ApiCallOptions = {},
): Promise<ApiResult> {
  const url = new URL(path, 'http://127.0.0.1:7071');
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  let bytes: Uint8Array | undefined;
  if (options.json !== undefined) {
    bytes = Buffer.from(JSON.stringify(options.json));
    headers['content-type'] ??= 'application/json';
  } else if (options.raw !== undefined) {
    bytes = typeof options.raw === 'string' ? Buffer.from(options.raw) : options.raw;
  }
  const found = matchRoute(routes, method, url.pathname);
  if (found.kind !== 'matched')
    throw new Error(`No declared function serves ${method} ${url.pathname}`);
  const logs: string[] = [];
  const request = new HttpRequest({
    method,
    url: url.toString(),
    headers,
    params: found.params,
    body: bytes ? { bytes } : {},
  });
  const context = new InvocationContext({
    invocationId: 'test-invocation',
    functionName: found.declaration.name,
    logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
  });
  const result = await found.declaration.handler(request, context);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body:
      text && /[/+]json\b/.test(response.headers.get('content-type') ?? '')
        ? (JSON.parse(text) as unknown)
        : undefined,
    text,
    logs,
    path: url.pathname,
  };
}
