/** Success responses: JSON bodies, entity tags, no caching of personal data. */
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { etagFor, noneMatchHolds, parseIfNoneMatch } from './etag.js';

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

/**
 * 304 Not Modified: no body, and the headers a 200 would carry that a cache needs (the tag
 * and the caching policy; RFC 9110 §15.4.5).
 */
export function notModified(etag: string): HttpResponseInit {
  return { status: 304, headers: { etag, 'cache-control': 'no-store' } };
}

/**
 * The answer to a GET of a representation tagged `etag`: 304 when the request's
 * `If-None-Match` matches the tag, otherwise 200 with the JSON body and the tag.
 */
export function conditionalJsonResponse(
  request: HttpRequest,
  body: unknown,
  etag: string,
): HttpResponseInit {
  const condition = parseIfNoneMatch(request);
  if (condition !== undefined && noneMatchHolds(condition, etag)) return notModified(etag);
  return jsonResponse(body, { headers: { etag } });
}

/**
 * The answer to a GET of a versioned row, tagged by its version. With `If-None-Match`, and a
 * `version` reader (a cheap read of the version alone), a match answers 304 without reading
 * the row; otherwise the row is read, and still answered 304 when its tag matches.
 */
export async function versionedGetResponse(
  request: HttpRequest,
  version: (() => Promise<number | undefined>) | undefined,
  read: () => Promise<{ version: number }>,
): Promise<HttpResponseInit> {
  const condition = parseIfNoneMatch(request);
  if (condition !== undefined && version) {
    const current = await version();
    if (current !== undefined && noneMatchHolds(condition, etagFor(current))) {
      return notModified(etagFor(current));
    }
  }
  const found = await read();
  if (condition !== undefined && noneMatchHolds(condition, etagFor(found.version))) {
    return notModified(etagFor(found.version));
  }
  return jsonResponse(found, { version: found.version });
}

/**
 * A weak tag for a list (or any computed) response: a hash of its JSON body. Weak, because
 * it stands for the body's meaning, not for bytes a range request could rely on (RFC 9110
 * §8.8.1); equal bodies get equal tags whichever server (primary or replica) produced them.
 */
export function weakEtagOf(body: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  return `W/"${digest}"`;
}

/** A list response with a weak tag, 304 when `If-None-Match` still matches it. */
export function listResponse(request: HttpRequest, body: unknown): HttpResponseInit {
  return conditionalJsonResponse(request, body, weakEtagOf(body));
}
