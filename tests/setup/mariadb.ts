/**
 * Starts one private MariaDB server for the whole test run (or uses TEST_MYSQL_URL, a server
 * URL whose user may create databases). Each test file then creates its own database, so
 * files never see each other's rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startMariaDb, type MariaDbServer } from '../../dev/mariadb.js';
import { unusedPort } from '../../dev/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mysqlServerUrl: string;
  }
}

let server: MariaDbServer | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const given = process.env['TEST_MYSQL_URL'];
  if (given) {
    project.provide('mysqlServerUrl', given.endsWith('/') ? given : `${given}/`);
    return;
  }
  dataDir = mkdtempSync(join(tmpdir(), 'sis-test-mariadb-'));
  server = await startMariaDb({ dataDir, port: await unusedPort(), log: () => undefined });
  project.provide('mysqlServerUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
