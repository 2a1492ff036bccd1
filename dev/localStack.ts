/**
 * Brings up what the API needs on one machine, in the order the local host, `npm run
 * migrate` and `npm run token` share: settings, MySQL (given or private MariaDB), the dev
 * token issuer, and migrations.
 */
import { join } from 'node:path';
import { getSection } from '../lib/config.js';
import {
  COSMOS_EMULATOR_KEY,
  ensureTelemetryContainers,
  getCosmosClient,
} from '../lib/cosmos/client.js';
import { cosmosSettingsFrom } from '../lib/telemetry/runtime.js';
import { startCosmosServer, type CosmosServer } from './cosmos.js';
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

export interface LocalCosmos {
  endpoint: string;
  /** The stand-in, when this process started one. */
  server?: CosmosServer;
}

/**
 * COSMOS__accountEndpoint when set; otherwise the Cosmos stand-in on LOCAL_COSMOS_PORT with a
 * certificate of its own in the data folder, which only the app's Cosmos client trusts. The
 * database and containers are created when missing either way.
 */
export async function ensureLocalCosmos(): Promise<LocalCosmos> {
  applySettingsFile();
  let server: CosmosServer | undefined;
  if (!process.env['COSMOS__accountEndpoint']) {
    const { dataDir, cosmosPort } = localSettings();
    server = await startCosmosServer({ port: cosmosPort, certDir: join(dataDir, 'cosmos') });
    process.env['COSMOS__accountEndpoint'] = server.endpoint;
    process.env['COSMOS_KEY'] = COSMOS_EMULATOR_KEY;
    process.env['COSMOS_CA_CERT_FILE'] = server.caCertFile;
  }
  const cosmos = getSection('cosmos');
  const telemetry = getSection('telemetry');
  await ensureTelemetryContainers(
    getCosmosClient(cosmosSettingsFrom(cosmos)),
    cosmos.COSMOS_DATABASE,
    {
      defaultTtl: { deadLetters: telemetry.DEAD_LETTER_TTL_DAYS * 86_400 },
    },
  );
  return { endpoint: cosmos.COSMOS__accountEndpoint, ...(server ? { server } : {}) };
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
