/**
 * A read-through cache of one whole collection (e.g. the fleet: every machine's compact
 * row), shared by every instance: this process's memory, then Redis, then the loader
 * (MySQL). The per-row cache (versionedCache.ts) keys copies by each row's version; a
 * collection has no version of its own, so Redis keeps one for it:
 *
 * - `…:v` holds the collection's current version, a random token. Every successful write
 *   of any member replaces it (`written`) before the write answers. A read asks Redis for
 *   the token and answers from memory or from `…:r{token}` only with a copy made under
 *   exactly that token; otherwise it loads and stores its copy under the token it read.
 * - A copy stored under a token was loaded after that token was read, so it holds every
 *   write that replaced the token before: once a write has answered, no instance serves a
 *   copy older than it. Tokens are random rather than counted, so a version key that
 *   expired, was evicted or lost in a restart can never make an old copy current again.
 *
 * Redis is only a cache: when it does not answer, reads load (memory is not used, since its
 * copies cannot be checked) and writes still succeed; one log line says so. A write whose
 * token could not reach Redis leaves other instances' copies current until they expire
 * (`ttlSeconds`, in memory as in Redis): the bound on staleness after a Redis outage.
 */
import { randomUUID } from 'node:crypto';
import { cacheOutageLog, cachedCopy } from './cacheOutage.js';
import type { RedisConnection } from './client.js';

export interface SnapshotCache<T> {
  /** The collection: the cached copy when it is current, else `load`ed and cached. */
  get(load: () => Promise<T>): Promise<T>;
  /** Records a committed write of any member: every copy is out of date. Never throws. */
  written(): Promise<void>;
}

export interface SnapshotCacheOptions<T> {
  /** Key part naming what is cached, e.g. `fleet`. */
  name: string;
  /** Checks a copy read back from Redis (a bad one counts as a miss). */
  parse: (value: unknown) => T;
  /** Lifetime of a copy, in Redis and in memory, and of the version key after a write. */
  ttlSeconds: number;
  log?: (line: string) => void;
  /** The clock of the memory copy's lifetime (ms). */
  now?: () => number;
}

export function snapshotCache<T>(
  redisConnection: () => RedisConnection,
  options: SnapshotCacheOptions<T>,
): SnapshotCache<T> {
  const outage = cacheOutageLog(options.name, options.log);
  const now = options.now ?? Date.now;
  let memory: { version: string; value: T; storedAt: number } | undefined;

  function redisFailed(error: unknown): void {
    memory = undefined;
    outage.failed(error);
  }

  const keys = (redis: RedisConnection) => {
    const base = `${redis.keyPrefix}cache:${options.name}`;
    return { version: `${base}:v`, copy: (version: string) => `${base}:r${version}` };
  };

  return {
    async get(load) {
      let redis: RedisConnection;
      let client: Awaited<ReturnType<RedisConnection['client']>>;
      let version: string;
      try {
        redis = redisConnection();
        client = await redis.client();
        const key = keys(redis).version;
        let current = await client.get(key);
        if (current === null) {
          // No version yet (first use, or expired): start one; of racing readers one wins.
          await client.set(key, randomUUID(), { NX: true, EX: options.ttlSeconds });
          current = await client.get(key);
        }
        if (current === null) throw new Error(`${key} vanished as it was set`);
        version = current;
      } catch (error) {
        redisFailed(error);
        return load();
      }
      outage.answered();
      if (memory?.version === version && now() - memory.storedAt < options.ttlSeconds * 1000)
        return memory.value;
      try {
        const copy = cachedCopy(options.parse, await client.get(keys(redis).copy(version)));
        if (copy !== undefined) {
          memory = { version, value: copy, storedAt: now() };
          return copy;
        }
      } catch (error) {
        redisFailed(error);
        return load();
      }
      const value = await load();
      try {
        await client.set(keys(redis).copy(version), JSON.stringify(value), {
          EX: options.ttlSeconds,
        });
      } catch (error) {
        redisFailed(error);
        return value;
      }
      memory = { version, value, storedAt: now() };
      return value;
    },

    async written() {
      memory = undefined;
      try {
        const redis = redisConnection();
        const client = await redis.client();
        await client.set(keys(redis).version, randomUUID(), { EX: options.ttlSeconds });
        outage.answered();
      } catch (error) {
        redisFailed(error);
      }
    },
  };
}
