/**
 * Brings up what the API needs on one machine, in the order the local host, `npm run
 * migrate` and `npm run token` share: settings, MySQL (given or private MariaDB), the dev
 * token issuer, and migrations.
 */
import { join } from 'node:path';
import { migrate } from '../lib/mysql/migrations.js';
import type { Pool } from 'mysql2/promise';
import { loadDevIssuer, type DevIssuer } from './issuer.js';
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

/** Where the local host serves the dev issuer's public keys. */
export const devJwksPath = '/.well-known/jwks.json';

/** The dev issuer, when AUTH_ISSUER is unset (otherwise the configured issuer is trusted). */
export async function loadLocalDevIssuer(): Promise<DevIssuer | undefined> {
  applySettingsFile();
  if (process.env['AUTH_ISSUER']) return undefined;
  return loadDevIssuer(join(localSettings().dataDir, 'dev-issuer'));
}

/** Points the app's AUTH_* settings at the dev issuer, whose JWKS is served at `jwksUri`. */
export function useDevIssuer(issuer: DevIssuer, jwksUri: string): void {
  process.env['AUTH_ISSUER'] = issuer.issuer;
  process.env['AUTH_AUDIENCE'] = issuer.audience;
  process.env['AUTH_JWKS_URI'] = jwksUri;
}

export async function applyMigrations(
  pool: Pool,
  log: (line: string) => void = console.log,
): Promise<void> {
  const applied = await migrate(pool);
  log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Schema is up to date.');
}
