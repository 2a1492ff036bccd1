/**
 * The process-wide MySQL pool: created on first use and reused by every invocation, since
 * a Functions instance serves many invocations and a connection per call would exhaust the
 * server. Statements are always parametrised (`execute`/`query` with values).
 */
import { createPool, type Pool, type PoolOptions } from 'mysql2/promise';
import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { getSection, type SectionConfig } from '../config.js';

/** Pool options for a configuration; dates come back as JS `Date` in UTC. */
export function poolOptions(config: SectionConfig<'mysql'>): PoolOptions {
  const url = new URL(config.MYSQL_URL);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
    connectionLimit: config.MYSQL_POOL_SIZE,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    // DATE columns stay 'YYYY-MM-DD' text; DATETIME columns come back as UTC Dates.
    dateStrings: ['DATE'],
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    connectTimeout: 10_000,
    ...(config.MYSQL_TLS ? { ssl: { minVersion: 'TLSv1.2', rejectUnauthorized: true } } : {}),
  };
}

let pool: Pool | undefined;

/** The shared pool for this process. */
export function getPool(): Pool {
  if (!pool) {
    pool = createPool(poolOptions(getSection('mysql')));
    // Every session speaks UTC and strict SQL so stored values never depend on server defaults.
    pool.on('connection', (connection) => {
      // mysql2's promise pool re-emits the core (callback) connection here, whatever its typings say.
      (connection as unknown as CorePoolConnection).query(
        "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
        (error) => {
          if (error) console.error(`MySQL session setup failed: ${error.message}`);
        },
      );
    });
  }
  return pool;
}

/** Closes the shared pool (local host shutdown, tests). */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}
