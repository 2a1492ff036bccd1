/**
 * Bearer tokens already verified, so a caller's every request does not pay for a signature
 * check (ES256/RS256 verification is most of an authenticated GET's CPU).
 *
 * - Keyed by the SHA-256 of the whole token (header, claims and signature): a token altered
 *   in any byte has another key, so it misses and goes through full verification. Only
 *   tokens that passed verification are stored; the token itself is never kept.
 * - Bounded: at most `maxEntries`, least recently used evicted first (a `Map` keeps insertion
 *   order; a hit is moved to the end).
 * - An entry is used only before the token's `exp` (by the injected clock, without the
 *   verifier's clock tolerance), and only while the key set it was verified against is the
 *   one the verifier still holds (`keySetVersion`, compared by identity): jose refetches the issuer's key set when
 *   its copy is older than `cacheMaxAge` or a token names a key it lacks, and any refetch
 *   retires every entry verified before it. So a token signed by a key the issuer has since
 *   removed is accepted from the cache no longer than jose itself would accept it.
 */
import { createHash } from 'node:crypto';

export interface VerifiedTokenCache<Value> {
  /** The value stored for `token`, when it is still good at `nowMs` under `keySetVersion`. */
  get(token: string, nowMs: number, keySetVersion: object | undefined): Value | undefined;
  /** Remembers `value` for `token` until `expiresAtMs`, under `keySetVersion`. */
  set(token: string, value: Value, expiresAtMs: number, keySetVersion: object | undefined): void;
  /** Entries held now (for tests and metrics). */
  readonly size: number;
}

interface Entry<Value> {
  value: Value;
  expiresAtMs: number;
  keySetVersion: object;
}

/** Entries an authenticator keeps by default: one per active caller, a few hundred bytes each. */
export const defaultVerifiedTokenEntries = 10_000;

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export function verifiedTokenCache<Value>(
  maxEntries = defaultVerifiedTokenEntries,
): VerifiedTokenCache<Value> {
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError(`maxEntries must be a positive integer, not ${maxEntries}`);
  const entries = new Map<string, Entry<Value>>();
  return {
    get(token, nowMs, keySetVersion) {
      if (keySetVersion === undefined) return undefined;
      const key = tokenKey(token);
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (nowMs >= entry.expiresAtMs || entry.keySetVersion !== keySetVersion) {
        entries.delete(key);
        return undefined;
      }
      // Most recently used last.
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },
    set(token, value, expiresAtMs, keySetVersion) {
      if (keySetVersion === undefined) return;
      const key = tokenKey(token);
      entries.delete(key);
      entries.set(key, { value, expiresAtMs, keySetVersion });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
