/**
 * A database of its own for one test file: created and migrated before the file's tests,
 * dropped after. The app's MYSQL_URL (tests/helpers/appServices.ts) names it, so the app's
 * pool connects to it.
 */
import { randomBytes } from 'node:crypto';
import { createPool, type Connection, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, inject } from 'vitest';
import { withServerConnection } from '../../dev/mariadb.js';
import { migrate } from '../../lib/mysql/migrations.js';
import { poolOptions } from '../../lib/mysql/pool.js';
import { appServices, closeAppServices, useAppSettings } from './appServices.js';
import { deleteKeys } from './redis.js';

export interface TestDatabase {
  /** A pool of the test's own, for arranging and checking rows directly. */
  pool: Pool;
  url: string;
  name: string;
}

/** Runs `work` on a connection to the test run's MySQL server (no database selected). */
export function onTestServer<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
  return withServerConnection(inject('mysqlServerUrl'), work);
}

/** Registers hooks and returns a handle filled in before the first test runs. */
export function useTestDatabase(): TestDatabase {
  const handle = {} as TestDatabase;
  beforeAll(async () => {
    const serverUrl = inject('mysqlServerUrl');
    handle.name = `sis_test_${randomBytes(6).toString('hex')}`;
    await onTestServer((c) =>
      c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [handle.name]),
    );
    handle.url = `${serverUrl}${handle.name}`;
    handle.pool = createPool(
      poolOptions({ MYSQL_URL: handle.url, MYSQL_POOL_SIZE: 4, MYSQL_TLS: false }),
    );
    await migrate(handle.pool);
  });
  afterAll(async () => {
    // The app's pool goes first: the database it connects to is dropped next.
    await closeAppServices();
    await handle.pool.end();
    await onTestServer((c) => c.query('DROP DATABASE IF EXISTS ??', [handle.name]));
  });
  useAppSettings(() => ({ MYSQL_URL: handle.url }));
  return handle;
}

/**
 * Empties every product table (between tests that need a clean slate), and this file's
 * shared caches in Redis: truncation reuses ids, which the API itself never does, so cached
 * copies of the old rows (same id, same version) must go with them.
 */
export async function truncateAll(pool: Pool): Promise<void> {
  const redis = appServices().redis;
  await deleteKeys(redis, `${redis.keyPrefix}cache:*`);
  // One connection: FOREIGN_KEY_CHECKS is per session.
  const connection = await pool.getConnection();
  try {
    await connection.query('SET FOREIGN_KEY_CHECKS = 0');
    for (const table of [
      'change_events',
      'webhook_failures',
      'webhooks',
      'silences',
      'equipment_thresholds',
      'equipment_technicians',
      'service_records',
      'technicians',
      'equipment',
    ]) {
      await connection.query(`TRUNCATE TABLE ${table}`);
    }
    await connection.query('SET FOREIGN_KEY_CHECKS = 1');
  } finally {
    connection.release();
  }
}
