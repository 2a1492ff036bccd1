/**
 * Brings up what the API needs on one machine, in the order the local host, `npm run
 * migrate` and `npm run token` share: settings, MySQL (given or private MariaDB), the dev
 * token issuer, and migrations.
 */
import { join } from 'node:path';
import { migrate } from '../lib/mysql/migrations.js';
import type { Pool } from 'mysql2/promise';
import { loadDevIssuer, devIssuerDefaults, type DevIssuer } from './issuer.js';
import { ensureDatabase, startMariaDb, type MariaDbServer } from './mariadb.js';
import { applySettingsFile, localSettings } from './settings.js';

export interface LocalMysql {
  url: string;
  /** The private server, when this process started one. */
  server?: MariaDbServer;
}

/** MYSQL_URL when set; otherwise a private MariaDB in the data folder with database `sis`. */
export async function ensureLocalMysql(
  log: (line: string) => void = console.log,
): Promise<LocalMysql> {
  applySettingsFile();
  const given = process.env['MYSQL_URL'];
  if (given) return { url: given };
  const { dataDir, mysqlPort } = localSettings();
  const server = await startMariaDb({ dataDir: join(dataDir, 'mariadb'), port: mysqlPort, log });
  await ensureDatabase(server.url, 'sis');
  const url = `${server.url}sis`;
  process.env['MYSQL_URL'] = url;
  return { url, server };
}

/**
 * The dev issuer, when AUTH_ISSUER is unset: its settings are filled in so the app verifies
 * its tokens against the JWKS the local host serves at `/.well-known/jwks.json`.
 */
export async function ensureDevIssuer(port: number): Promise<DevIssuer | undefined> {
  applySettingsFile();
  if (process.env['AUTH_ISSUER']) return undefined;
  const issuer = await loadDevIssuer(join(localSettings().dataDir, 'dev-issuer'));
  process.env['AUTH_ISSUER'] = devIssuerDefaults.issuer;
  process.env['AUTH_AUDIENCE'] = devIssuerDefaults.audience;
  process.env['AUTH_JWKS_URI'] = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  return issuer;
}

export async function applyMigrations(
  pool: Pool,
  log: (line: string) => void = console.log,
): Promise<void> {
  const applied = await migrate(pool);
  log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Schema is up to date.');
}
