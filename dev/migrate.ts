/** `npm run migrate`: applies pending migrations to MYSQL_URL (or the private MariaDB). */
import { createPool } from 'mysql2/promise';
import { poolOptions } from '../lib/mysql/pool.js';
import { applyMigrations, ensureLocalMysql } from './localStack.js';

const mysql = await ensureLocalMysql();
const pool = createPool(
  poolOptions({
    MYSQL_URL: mysql.url,
    MYSQL_POOL_SIZE: 1,
    MYSQL_TLS: process.env['MYSQL_TLS'] === 'true',
  }),
);
try {
  await applyMigrations(pool);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await pool.end();
  await mysql.server?.stop();
}
