/**
 * A read-through cache of versioned rows shared by every instance: this process's memory,
 * then Redis, then MySQL. Correct across processes by versioned keys rather than messages:
 *
 * - Redis holds each row's current version (`…:{id}:v`) and immutable copies per version
 *   (`…:{id}:r{version}`). A read asks Redis for the version (one small GET), and answers
 *   from memory or Redis only with a copy of exactly that version; otherwise it reads MySQL.
 * - Every successful write raises the version key before it answers (`written`), with a
 *   script that only ever raises it (a late writer or a reader with an older row cannot put
 *   it back) and a tombstone for deletions. So once a write has answered, no instance can
 *   serve an older copy: its next read sees the new version number.
 * - A read from a lagging replica older than the version Redis knows is repeated on the
 *   primary, so the cache also spares readers the replica's lag.
 *
 * Redis is only a cache: when it does not answer, reads go to MySQL (memory is not used,
 * since its copies cannot be checked) and writes still succeed; one log line says so. A
 * write whose version could not reach Redis leaves other instances' copies of that row to
 * expire (`ttlSeconds`): the bound on staleness after a Redis outage.
 */
import { cacheOutageLog, cachedCopy } from './cacheOutage.js';
import type { RedisClient, RedisConnection } from './client.js';

export interface VersionedCache<T extends { version: number }> {
  /**
   * The row `id`: cached when the cached copy is current, else `load`ed (from the request's
   * pool, or with `primary` from the primary when the replica is behind) and cached.
   */
  get(id: number, load: (primary: boolean) => Promise<T>): Promise<T>;
  /**
   * Starts reading `id`'s version in Redis now and returns what completes the read later, as
   * `get` would with that version: for a caller that has other Redis work to send in the
   * same tick (the rate limit's count: lib/http/handler.ts `PrefetchingOperation`), so both
   * share one socket write and one round trip. The read is as fresh as its start: a write
   * that answered before `prefetch` was called is seen. Nothing is logged, loaded or cached
   * until the returned function is called; never rejects before then.
   */
  prefetch(id: number): CachedRead<T>;
  /** Records a committed write of `id`: its new version, or `deleted`. Never throws. */
  written(id: number, version: number | 'deleted'): Promise<void>;
}

/** Completes a read `prefetch` started: the row, `load`ed when the cache has no current copy. */
export type CachedRead<T> = (load: (primary: boolean) => Promise<T>) => Promise<T>;

/** A version key as read from Redis, with the connection it was read over; or why not. */
type VersionRead =
  { redis: RedisConnection; client: RedisClient; current: string | null } | { failed: unknown };

export interface VersionedCacheOptions<T> {
  /** Key part naming what is cached, e.g. `equipment`. */
  name: string;
  /** Checks a copy read back from Redis (a bad one counts as a miss). */
  parse: (value: unknown) => T;
  /** Lifetime of the keys in Redis. */
  ttlSeconds: number;
  /** Most rows kept in this process's memory. */
  memoryEntries: number;
  log?: (line: string) => void;
}

/** Raises the version key to ARGV[1] (a number or `deleted`); never lowers it. */
const raiseVersionScript = `
local current = redis.call('GET', KEYS[1])
if current == 'deleted' then return 0 end
if ARGV[1] == 'deleted' or not current or tonumber(ARGV[1]) > tonumber(current) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
`;

/** Default settings of the equipment cache. */
export const equipmentCacheDefaults = { ttlSeconds: 300, memoryEntries: 10_000 } as const;

export function versionedCache<T extends { version: number }>(
  redisConnection: () => RedisConnection,
  options: VersionedCacheOptions<T>,
): VersionedCache<T> {
  const outage = cacheOutageLog(options.name, options.log);
  const memory = new Map<number, T>();

  function remember(id: number, value: T): void {
    memory.delete(id);
    memory.set(id, value);
    // Map order is insertion order: the first key is the least recently stored.
    if (memory.size > options.memoryEntries) {
      const oldest = memory.keys().next().value;
      if (oldest !== undefined) memory.delete(oldest);
    }
  }

  const keys = (redis: RedisConnection, id: number) => {
    const base = `${redis.keyPrefix}cache:${options.name}:${id}`;
    return { version: `${base}:v`, row: (version: number) => `${base}:r${version}` };
  };

  /** Reads `id`'s version key now; never rejects (a failure is answered when used). */
  async function readVersion(id: number): Promise<VersionRead> {
    try {
      const redis = redisConnection();
      const client = await redis.client();
      return { redis, client, current: await client.get(keys(redis, id).version) };
    } catch (error) {
      return { failed: error };
    }
  }

  function prefetch(id: number): CachedRead<T> {
    const versionRead = readVersion(id);
    return (load) => answer(id, versionRead, load);
  }

  /** `get`'s answer for `id`, given its version as read by `versionRead`. */
  async function answer(
    id: number,
    versionRead: Promise<VersionRead>,
    load: (primary: boolean) => Promise<T>,
  ): Promise<T> {
    const read = await versionRead;
    if ('failed' in read) {
      outage.failed(read.failed);
      memory.delete(id);
      return load(false);
    }
    const { redis, client, current } = read;
    outage.answered();
    // Deleted: MySQL says so (404), from the primary, which cannot be behind.
    if (current === 'deleted') return load(true);
    const known = current === null ? undefined : Number(current);
    if (known !== undefined) {
      const inMemory = memory.get(id);
      if (inMemory?.version === known) return inMemory;
      try {
        const copy = cachedCopy(options.parse, await client.get(keys(redis, id).row(known)));
        if (copy?.version === known) {
          remember(id, copy);
          return copy;
        }
      } catch (error) {
        outage.failed(error);
      }
    }
    let value = await load(false);
    if (known !== undefined && value.version < known) value = await load(true);
    try {
      const { version, row } = keys(redis, id);
      await client.set(row(value.version), JSON.stringify(value), {
        EX: options.ttlSeconds,
      });
      await client.eval(raiseVersionScript, {
        keys: [version],
        arguments: [String(value.version), String(options.ttlSeconds)],
      });
    } catch (error) {
      outage.failed(error);
      return value;
    }
    remember(id, value);
    return value;
  }

  return {
    get(id, load) {
      return prefetch(id)(load);
    },
    prefetch,
    async written(id, version) {
      memory.delete(id);
      try {
        const redis = redisConnection();
        const client = await redis.client();
        await client.eval(raiseVersionScript, {
          keys: [keys(redis, id).version],
          arguments: [String(version), String(options.ttlSeconds)],
        });
        outage.answered();
      } catch (error) {
        outage.failed(error);
      }
    },
  };
}
