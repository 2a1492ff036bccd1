/**
 * Optimistic concurrency: a write may name the versions of a resource it was based on (HTTP
 * `If-Match`, parsed in `lib/http/etag.ts`) and is refused with `StaleVersionError` when the
 * resource has moved on. Row versions (MySQL) and opaque entity tags (Cosmos documents) are
 * evaluated alike, so every store honours a precondition the same way.
 */
import { StaleVersionError } from './errors.js';

/**
 * The versions a write accepts: undefined when it names none (unconditional), `'*'` for any
 * current version, otherwise one of those listed (none, when only weak tags were sent).
 */
export type VersionCondition<Version extends number | string = number> =
  '*' | readonly Version[] | undefined;

/**
 * Throws `StaleVersionError`, carrying `currentVersion`, unless `condition` accepts it.
 * @param detail what to tell the caller; names the resource when that helps.
 */
export function requireVersion<Version extends number | string>(
  condition: VersionCondition<Version>,
  currentVersion: Version,
  detail = 'The resource has changed since you read it; fetch it again and retry.',
): void {
  if (condition === undefined || condition === '*') return;
  if (!condition.includes(currentVersion)) throw new StaleVersionError(detail, { currentVersion });
}
