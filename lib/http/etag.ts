/**
 * Entity tags from row versions, and `If-Match` headers (RFC 9110 §13.1.1) read as version
 * conditions. A PUT or DELETE without `If-Match` is unconditional; with it, storage evaluates
 * the condition (`lib/preconditions.ts`) and a stale tag is answered with 412.
 */
import type { HttpRequest } from '@azure/functions';
import { HttpError } from '../errors.js';
import type { VersionCondition } from '../preconditions.js';
import { boundedHeader } from './request.js';

export function etagFor(version: number): string {
  return `"${version}"`;
}

/**
 * The versions `If-Match` accepts: undefined when absent, `'*'` for any, otherwise the set of
 * versions named. Weak tags never match (strong comparison), so they select nothing.
 */
export function parseIfMatch(request: HttpRequest): VersionCondition {
  const header = boundedHeader(request, 'if-match', 1024);
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  if (header.trim() === '') {
    throw new HttpError('validation', 'The If-Match header is empty.', {
      errors: [{ header: 'if-match', detail: 'Expected "*" or quoted entity tags' }],
    });
  }
  const versions: number[] = [];
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '') continue;
    const match = /^"(0|[1-9]\d{0,9})"$/.exec(tag);
    if (match?.[1]) versions.push(Number(match[1]));
    else if (!/^(W\/)?"[^"]*"$/.test(tag)) {
      throw new HttpError('validation', 'The If-Match header is not a list of entity tags.', {
        errors: [{ header: 'if-match', detail: 'Expected "*" or quoted entity tags' }],
      });
    }
  }
  return versions;
}

/**
 * `If-Match` for resources whose ETags are opaque strings (Cosmos documents): undefined when
 * absent, `'*'` for any, otherwise the strong tags named, quotes included.
 */
export function parseOpaqueIfMatch(request: HttpRequest): VersionCondition<string> {
  const header = boundedHeader(request, 'if-match', 1024);
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const tags = header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  if (tags.length === 0 || !tags.every((tag) => /^(W\/)?"[^"]*"$/.test(tag))) {
    throw new HttpError('validation', 'The If-Match header is not a list of entity tags.', {
      errors: [{ header: 'if-match', detail: 'Expected "*" or quoted entity tags' }],
    });
  }
  // Weak tags never match under strong comparison.
  return tags.filter((tag) => !tag.startsWith('W/'));
}
