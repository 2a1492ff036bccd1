/**
 * The versioned cache against the test run's real Redis (and a closed port for an outage):
 * versions only ever rise, a deletion is final, a lagging replica's older row is read again
 * from the primary, and without Redis every read goes to MySQL and writes still succeed.
 */
import { describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../../lib/redis/client.js';
import { versionedCache } from '../../../lib/redis/versionedCache.js';
import { unreachableRedis, useTestRedis } from '../../helpers/redis.js';

interface Row {
  id: number;
  version: number;
  name: string;
}
const parse = (value: unknown): Row => {
  const row = value as Partial<Row>;
  if (typeof row.id !== 'number' || typeof row.version !== 'number' || typeof row.name !== 'string')
    throw new Error('not a row');
  return { id: row.id, version: row.version, name: row.name };
};

const redis = useTestRedis('unit-cache');

/** A cache over `connection` and a loader that records where it read from. */
function cacheWith(connection: () => RedisConnection, lines: string[] = []) {
  const cache = versionedCache<Row>(connection, {
    name: 'rows',
    parse,
    ttlSeconds: 60,
    memoryEntries: 2,
    log: (line) => lines.push(line),
  });
  const loads: ('replica' | 'primary')[] = [];
  const loader =
    (replica: Row, primary: Row = replica) =>
    (fromPrimary: boolean) => {
      loads.push(fromPrimary ? 'primary' : 'replica');
      return Promise.resolve(fromPrimary ? primary : replica);
    };
  return { cache, loads, loader };
}

describe('versionedCache', () => {
  it('answers from the cache until a write names a newer version, never an older one', async () => {
    const { cache, loads, loader } = cacheWith(() => redis);
    const v1 = { id: 1, version: 1, name: 'one' };
    expect(await cache.get(1, loader(v1))).toEqual(v1);
    expect(await cache.get(1, loader(v1))).toEqual(v1);
    expect(loads).toEqual(['replica']);
    // Writes recorded out of order: version 3 then a late 2. The key stays at 3.
    await cache.written(1, 3);
    await cache.written(1, 2);
    const v3 = { id: 1, version: 3, name: 'three' };
    expect(await cache.get(1, loader(v3))).toEqual(v3);
    expect(loads).toEqual(['replica', 'replica']);
    // Another process (a cache of its own, same Redis) gets version 3 from Redis.
    const other = cacheWith(() => redis);
    expect(await other.cache.get(1, other.loader({ id: 1, version: 1, name: 'stale' }))).toEqual(
      v3,
    );
    expect(other.loads).toEqual([]);
  });

  it('reads a row again from the primary when the replica is behind the known version', async () => {
    const { cache, loads, loader } = cacheWith(() => redis);
    await cache.written(2, 5);
    const fresh = { id: 2, version: 5, name: 'five' };
    expect(await cache.get(2, loader({ id: 2, version: 4, name: 'four' }, fresh))).toEqual(fresh);
    expect(loads).toEqual(['replica', 'primary']);
  });

  it('keeps a deletion final: the primary decides every later read', async () => {
    const { cache, loads, loader } = cacheWith(() => redis);
    const v1 = { id: 3, version: 1, name: 'gone soon' };
    await cache.get(3, loader(v1));
    await cache.written(3, 'deleted');
    await cache.written(3, 7);
    await expect(
      cache.get(3, (primary) => {
        loads.push(primary ? 'primary' : 'replica');
        return Promise.reject(new Error('not found'));
      }),
    ).rejects.toThrow('not found');
    expect(loads).toEqual(['replica', 'primary']);
  });

  it('prefetches the version: a write that answered before the prefetch is seen, nothing is read until it is completed', async () => {
    const { cache, loads, loader } = cacheWith(() => redis);
    const v1 = { id: 5, version: 1, name: 'one' };
    expect(await cache.get(5, loader(v1))).toEqual(v1);
    // Another process writes version 2; this one still holds version 1 in memory.
    const other = cacheWith(() => redis);
    await other.cache.written(5, 2);
    const pending = cache.prefetch(5);
    cache.prefetch(5); // abandoned, as by a request the rate limit refuses
    const v2 = { id: 5, version: 2, name: 'two' };
    expect(await pending(loader(v2))).toEqual(v2);
    // The abandoned prefetch loaded nothing; the completed one loaded once.
    expect(loads).toEqual(['replica', 'replica']);
  });

  it('without Redis reads MySQL every time and lets writes succeed, saying so once', async () => {
    const down = await unreachableRedis();
    const lines: string[] = [];
    const { cache, loads, loader } = cacheWith(() => down, lines);
    try {
      const row = { id: 4, version: 1, name: 'four' };
      expect(await cache.get(4, loader(row))).toEqual(row);
      await cache.written(4, 2);
      expect(await cache.get(4, loader(row))).toEqual(row);
      expect(loads).toEqual(['replica', 'replica']);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/rows reads go to MySQL/);
      // A prefetch never completed fails quietly: no rejection nobody handles, no load.
      cache.prefetch(4);
      expect(await cache.prefetch(4)(loader(row))).toEqual(row);
      expect(loads).toEqual(['replica', 'replica', 'replica']);
    } finally {
      await down.close();
    }
  });
});
