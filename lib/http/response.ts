/** Success responses: JSON bodies, entity tags, no caching of personal data. */
import type { HttpResponseInit } from '@azure/functions';
import { etagFor } from './etag.js';

export function jsonResponse(
  body: unknown,
  options: { status?: number; version?: number; headers?: Record<string, string> } = {},
): HttpResponseInit {
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...options.headers,
  };
  if (options.version !== undefined) headers['etag'] = etagFor(options.version);
  return { status: options.status ?? 200, headers, body: JSON.stringify(body) };
}

export function noContent(): HttpResponseInit {
  return { status: 204, headers: { 'cache-control': 'no-store' } };
}
