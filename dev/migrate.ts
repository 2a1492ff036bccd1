/**
 * `npm run migrate`: applies pending migrations to MYSQL_URL (or the private MariaDB), or,
 * with MYSQL_HOST, MYSQL_USER and MYSQL_DATABASE set, to Azure Database for MySQL as a
 * Microsoft Entra user (your `az login`, or MYSQL__clientId's managed identity) over TLS.
 */
import { createPool, type Pool } from 'mysql2/promise';
import { loadSection } from '../lib/config.js';
import { createMysqlPool, poolOptions } from '../lib/mysql/pool.js';
import { applyMigrations, ensureLocalMysql, type LocalMysql } from './localStack.js';
import { localAppSettings } from './settings.js';

let mysql: LocalMysql | undefined;
let pool: Pool;
if (process.env['MYSQL_HOST']) {
  pool = createMysqlPool({ ...loadSection('mysql', process.env), MYSQL_POOL_SIZE: 1 });
} else {
  const settings = localAppSettings();
  mysql = await ensureLocalMysql(settings);
  pool = createPool(
    poolOptions({
      MYSQL_URL: mysql.url,
      MYSQL_POOL_SIZE: 1,
      MYSQL_TLS: settings['MYSQL_TLS'] === 'true',
    }),
  );
}
try {
  await applyMigrations(pool);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await pool.end();
  await mysql?.server?.stop();
}
