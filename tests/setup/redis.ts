/**
 * Starts one private Redis server (dev/redis.ts) for the whole test run, on a free loopback
 * port. Each test file's app services use it under a key prefix of their own
 * (tests/helpers/appServices.ts), so files never see each other's counters or cached rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRedis, type RedisServer } from '../../dev/redis.js';
import { unusedPort } from '../../dev/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:PORT` */
    redisUrl: string;
  }
}

let server: RedisServer | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-test-redis-'));
  server = await startRedis({ dataDir, port: await unusedPort(), log: () => undefined });
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
