/**
 * Redis for the tests: the test run's server (global setup, `inject('redisUrl')`) under a key
 * prefix of the file's own, and a connection to a port nothing listens on, for the outage
 * paths (Redis is a cache and a coordinator: every user of it must work without it).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { unusedPort } from '../../dev/ports.js';
import { loadSection } from '../../lib/config.js';
import { redisConnection, type RedisConnection } from '../../lib/redis/client.js';

/** Deletes every key matching `pattern` (a SCAN pattern, prefix included). */
export async function deleteKeys(redis: RedisConnection, pattern: string): Promise<void> {
  const client = await redis.client();
  for await (const keys of client.scanIterator({ MATCH: pattern }))
    if (keys.length > 0) await client.del(keys);
}

/**
 * A connection to the test run's Redis whose keys start `<name>-<random>:`; after the file's
 * tests they are deleted and the connection closed.
 */
export function useTestRedis(name: string): RedisConnection {
  const prefix = `${name}-${randomBytes(4).toString('hex')}:`;
  const redis = redisConnection(
    loadSection('redis', { REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: prefix }),
  );
  afterAll(async () => {
    await deleteKeys(redis, `${prefix}*`);
    await redis.close();
  });
  return redis;
}

/** A connection to a free loopback port: every command fails within 200 ms. */
export async function unreachableRedis(): Promise<RedisConnection> {
  return redisConnection(
    loadSection('redis', {
      REDIS_URL: `redis://127.0.0.1:${await unusedPort()}`,
      REDIS_TIMEOUT_MS: '200',
    }),
    () => undefined,
  );
}
