/**
 * Entity tags from row versions, and `If-Match` headers (RFC 9110 §13.1.1) read as version
 * conditions. A PUT or DELETE without `If-Match` is unconditional; with it, storage evaluates
 * the condition (`lib/preconditions.ts`) and a stale tag is answered with 412.
 */
import type { HttpRequest } from '@azure/functions';
import { HttpError } from '../errors.js';
import type { VersionCondition } from '../preconditions.js';
import { boundedHeader } from './request.js';

/** The elements of an entity-tag list header, trimmed; empty elements skipped (RFC 9110 §5.6.1). */
function listElements(header: string): string[] {
  return header
    .split(',')
    .map((element) => element.trim())
    .filter((element) => element !== '');
}

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
  for (const tag of listElements(header)) {
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
  const tags = listElements(header);
  if (tags.length === 0 || !tags.every((tag) => /^(W\/)?"[^"]*"$/.test(tag))) {
    throw new HttpError('validation', 'The If-Match header is not a list of entity tags.', {
      errors: [{ header: 'if-match', detail: 'Expected "*" or quoted entity tags' }],
    });
  }
  // Weak tags never match under strong comparison.
  return tags.filter((tag) => !tag.startsWith('W/'));
}

/** What `If-None-Match` names: `'*'` (any current representation) or entity tags. */
export type IfNoneMatch = '*' | readonly string[];

/** One entity tag (RFC 9110 §8.8.3): optional `W/`, then a quoted run of etagc characters. */
const entityTagPattern = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * `If-None-Match` (RFC 9110 §13.1.2): undefined when absent, and also when it is not a valid
 * field value (neither `*` nor a list of entity tags), which is then ignored: the request is
 * answered as if unconditional, which is always correct, only less efficient. A header over
 * 1024 characters is refused (400) as every over-long header is.
 */
export function parseIfNoneMatch(request: HttpRequest): IfNoneMatch | undefined {
  const header = boundedHeader(request, 'if-none-match', 1024);
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const tags = listElements(header);
  if (tags.length === 0 || !tags.every((tag) => entityTagPattern.test(tag))) return undefined;
  return tags;
}

/** The opaque part of a tag: weak comparison ignores the weakness indicator (RFC 9110 §8.8.3.2). */
function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * Whether `If-None-Match` matches the current representation's tag, so that a GET is
 * answered 304 Not Modified: `*` matches any current representation, a list matches when
 * one of its tags is weakly equal to `currentEtag` (RFC 9110 §13.1.2, weak comparison).
 */
export function noneMatchHolds(condition: IfNoneMatch, currentEtag: string): boolean {
  if (condition === '*') return true;
  const current = opaqueTag(currentEtag);
  return condition.some((tag) => opaqueTag(tag) === current);
}
