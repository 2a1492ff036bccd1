/**
 * What the Redis-backed caches (versionedCache.ts, snapshotCache.ts) share: one log line
 * when Redis stops answering a cache and one when it answers again (not one per request
 * while it is down), and the reading of a copy back from Redis, where anything unreadable is
 * a miss rather than an error.
 */

export interface CacheOutageLog {
  /** Redis failed a cache operation: logs once per outage. */
  failed(error: unknown): void;
  /** Redis answered: logs once when an outage ends. */
  answered(): void;
}

export function cacheOutageLog(
  name: string,
  log: (line: string) => void = (line) => {
    console.warn(`[cache] ${line}`);
  },
): CacheOutageLog {
  let failing = false;
  return {
    failed(error) {
      if (failing) return;
      failing = true;
      log(
        `Redis did not answer; ${name} reads go to MySQL until it does (${error instanceof Error ? error.message : String(error)}).`,
      );
    },
    answered() {
      if (!failing) return;
      failing = false;
      log(`Redis answers again; ${name} reads are cached again.`);
    },
  };
}

/** A copy as stored in Redis (JSON), checked by `parse`; undefined when absent or unreadable. */
export function cachedCopy<T>(parse: (value: unknown) => T, text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}
