/**
 * One limit across instances: two local host processes (the API host of bench/servers,
 * the same HTTP host `npm start` runs) share a private redis-server. Together they answer
 * 429 at the limit, with the IETF fields; with Redis stopped both keep serving (fail open),
 * and once it is back they count again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScript, type RunningScript } from '../../dev/child.js';
import { loadDevIssuer } from '../../dev/issuer.js';
import { unusedPort } from '../../dev/ports.js';
import { startRedis, type RedisServer } from '../../dev/redis.js';
import { useTestDatabase } from '../helpers/database.js';

const db = useTestDatabase();
const dirs: string[] = [];
const hosts: RunningScript[] = [];
let redis: RedisServer | undefined;
let redisPort = 0;
let redisDir = '';
let token = '';

async function startHost(env: Record<string, string>): Promise<RunningScript> {
  const host = await startScript({
    script: 'bench/servers/apiHost.ts',
    env,
    readyLine: /listening (\d+)/,
  });
  hosts.push(host);
  return host;
}

beforeAll(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'sis-test-shared-redis-'));
  const issuerDir = mkdtempSync(join(tmpdir(), 'sis-test-shared-issuer-'));
  dirs.push(redisDir, issuerDir);
  redisPort = await unusedPort();
  redis = await startRedis({ dataDir: redisDir, port: redisPort, log: () => undefined });
  token = await (await loadDevIssuer(issuerDir)).sign({ sub: 'admin-shared', roles: ['Admin'] });
  const env = {
    MYSQL_URL: db.url,
    BENCH_ISSUER_DIR: issuerDir,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `shared-${randomBytes(4).toString('hex')}:`,
    REDIS_TIMEOUT_MS: '300',
    RATE_LIMITS: JSON.stringify({ reads: { limit: 2, adminLimit: 6, windowSeconds: 600 } }),
  };
  await Promise.all([startHost(env), startHost(env)]);
});

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  await redis?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** GET /api/equipment through host `index` as the admin. */
async function read(index: number): Promise<Response> {
  const host = hosts[index];
  if (!host) throw new Error(`no host ${index}`);
  return fetch(`http://127.0.0.1:${host.ready}/api/equipment?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

describe('two host processes, one Redis', () => {
  it('share one limit: together they answer 429 at it, with the fields', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await read(i % 2);
      expect(response.status, await response.text()).toBe(200);
      expect(response.headers.get('ratelimit-policy')).toBe('"reads";q=6;w=600');
      remaining.push(response.headers.get('ratelimit')?.split(';')[1] ?? '');
    }
    // Each host saw the other's requests: the count runs down across both.
    expect(remaining).toEqual(['r=5', 'r=4', 'r=3', 'r=2', 'r=1', 'r=0']);
    for (const index of [0, 1]) {
      const over = await read(index);
      expect(over.status).toBe(429);
      expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(over.headers.get('ratelimit-policy')).toBe('"reads";q=6;w=600');
      expect(over.headers.get('ratelimit')).toMatch(/^"reads";r=0;t=\d+$/);
      await over.text();
    }
  });

  it('keep serving with Redis stopped, and count again once it is back', async () => {
    await redis?.stop();
    for (let i = 0; i < 4; i++) {
      const response = await read(i % 2);
      expect(response.status, await response.text()).toBe(200);
      expect(response.headers.get('ratelimit-policy')).toBe('"reads";q=6;w=600');
      expect(response.headers.get('ratelimit')).toBeNull();
    }
    for (const host of hosts) expect(host.output()).toMatch(/without rate limits/);

    // A new, empty Redis on the same port: each host's client reconnects by itself.
    redis = await startRedis({ dataDir: redisDir, port: redisPort, log: () => undefined });
    for (const index of [0, 1]) {
      let counted: string | null = null;
      for (let attempt = 0; attempt < 200 && counted === null; attempt++) {
        const response = await read(index);
        expect(response.status).toBe(200);
        await response.text();
        counted = response.headers.get('ratelimit');
        if (counted === null) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(counted).toMatch(/^"reads";r=\d;t=\d+$/);
      expect(hosts[index]?.output()).toMatch(/Rate limits apply again/);
    }
  });
});
