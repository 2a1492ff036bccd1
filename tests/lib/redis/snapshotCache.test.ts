/**
 * The collection cache against the test run's real Redis (and a closed port for an outage):
 * a write through one instance is what every instance loads next, a lost version key never
 * makes an old copy current, a memory copy lives its time and no longer, and without Redis
 * every read loads while writes still succeed.
 */
import { describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../../lib/redis/client.js';
import { snapshotCache } from '../../../lib/redis/snapshotCache.js';
import { deleteKeys, unreachableRedis, useTestRedis } from '../../helpers/redis.js';

const redis = useTestRedis('unit-snapshot');

const parse = (value: unknown): string[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error('not a list');
  return value;
};

/** A cache (one "process") over `connection`, and a source that counts its loads. */
function instance(
  connection: () => RedisConnection,
  options: { name?: string; now?: () => number; lines?: string[] } = {},
) {
  const cache = snapshotCache(connection, {
    name: options.name ?? 'names',
    parse,
    ttlSeconds: 60,
    log: (line) => options.lines?.push(line),
    ...(options.now ? { now: options.now } : {}),
  });
  let loads = 0;
  const from = (value: string[]) => () => {
    loads += 1;
    return Promise.resolve(value);
  };
  return { cache, from, loads: () => loads };
}

describe('snapshotCache', () => {
  it('serves a copy until any instance records a write, then every instance loads', async () => {
    const a = instance(() => redis);
    const b = instance(() => redis);
    expect(await a.cache.get(a.from(['one']))).toEqual(['one']);
    // b finds a's copy in Redis; both answer it from then on, even if the source changed.
    expect(await b.cache.get(b.from(['changed behind the cache']))).toEqual(['one']);
    expect(await a.cache.get(a.from(['changed behind the cache']))).toEqual(['one']);
    expect([a.loads(), b.loads()]).toEqual([1, 0]);
    await b.cache.written();
    expect(await a.cache.get(a.from(['one', 'two']))).toEqual(['one', 'two']);
    expect(await b.cache.get(b.from(['stale']))).toEqual(['one', 'two']);
    expect([a.loads(), b.loads()]).toEqual([2, 0]);
  });

  it('never makes an old copy current when the version key is lost', async () => {
    const a = instance(() => redis, { name: 'lost' });
    expect(await a.cache.get(a.from(['old']))).toEqual(['old']);
    const client = await redis.client();
    await client.del(`${redis.keyPrefix}cache:lost:v`); // expired, evicted or a restart
    const b = instance(() => redis, { name: 'lost' });
    expect(await b.cache.get(b.from(['new']))).toEqual(['new']);
    expect(await a.cache.get(a.from(['newer']))).toEqual(['new']);
  });

  it('keeps a copy in memory for its lifetime only', async () => {
    let nowMs = 0;
    const a = instance(() => redis, { name: 'aged', now: () => nowMs });
    await a.cache.get(a.from(['kept']));
    // Only Redis's copy goes: memory still answers within the lifetime, not after it.
    await deleteKeys(redis, `${redis.keyPrefix}cache:aged:r*`);
    nowMs = 59_999;
    expect(await a.cache.get(a.from(['reloaded']))).toEqual(['kept']);
    nowMs = 60_000;
    expect(await a.cache.get(a.from(['reloaded']))).toEqual(['reloaded']);
    expect(a.loads()).toBe(2);
  });

  it('loads every time without Redis, and writes still succeed, with one log line', async () => {
    const down = await unreachableRedis();
    const lines: string[] = [];
    const a = instance(() => down, { lines });
    try {
      expect(await a.cache.get(a.from(['x']))).toEqual(['x']);
      await a.cache.written();
      expect(await a.cache.get(a.from(['y']))).toEqual(['y']);
      expect(a.loads()).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Redis did not answer; names reads go to MySQL/);
    } finally {
      await down.close();
    }
  });
});
