/**
 * Reads from a MySQL read replica: two private MariaDB servers, the second a real binary log
 * replica of the first (dev/mariadb.ts `startReplication`). With replication stopped, what a
 * request sees tells which server answered it: GETs read the replica; a write, and every read
 * in the same request, goes to the primary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDatabase,
  startMariaDb,
  startReplication,
  waitForReplica,
  withServerConnection,
  type MariaDbServer,
} from '../../dev/mariadb.js';
import { unusedPort } from '../../dev/ports.js';
import { migrate } from '../../lib/mysql/migrations.js';
import { poolOptions } from '../../lib/mysql/pool.js';
import { call } from '../helpers/api.js';
import { appServices, closeAppServices, useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { excavator } from '../helpers/fixtures.js';

const database = 'sis_replica_test';
const servers: { primary?: MariaDbServer; replica?: MariaDbServer } = {};
const dataDirs: string[] = [];
let primaryPool: Pool | undefined;

function started(): { primary: MariaDbServer; replica: MariaDbServer; primaryPool: Pool } {
  if (!servers.primary || !servers.replica || !primaryPool) throw new Error('servers not started');
  return { primary: servers.primary, replica: servers.replica, primaryPool };
}

beforeAll(async () => {
  const start = async (replication: Parameters<typeof startMariaDb>[0]['replication']) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sis-test-replication-'));
    dataDirs.push(dataDir);
    return startMariaDb({ dataDir, port: await unusedPort(), log: () => undefined, replication });
  };
  const [primary, replica] = await Promise.all([
    start({ role: 'source', serverId: 1 }),
    start({ role: 'replica', serverId: 2 }),
  ]);
  servers.primary = primary;
  servers.replica = replica;
  await startReplication(primary, replica);
  // Created and migrated on the primary only: the replica gets it all through replication.
  await ensureDatabase(primary.url, database);
  primaryPool = createPool(
    poolOptions({ MYSQL_URL: `${primary.url}${database}`, MYSQL_POOL_SIZE: 2, MYSQL_TLS: false }),
  );
  await migrate(primaryPool);
  await waitForReplica(primary, replica);
}, 120_000);

afterAll(async () => {
  await closeAppServices();
  await primaryPool?.end();
  await Promise.all([servers.replica?.stop(), servers.primary?.stop()]);
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

useAppSettings(() => {
  const { primary, replica } = started();
  return { MYSQL_URL: `${primary.url}${database}`, MYSQL_READ_URL: `${replica.url}${database}` };
});
const issuer = useTestIssuer();
const tokens = useTokens(issuer, { admin: [['Admin']] });

/** Runs `statement` on the replica's server connection (replication control). */
function onReplica(statement: string): Promise<unknown> {
  return withServerConnection(started().replica.url, (connection) => connection.query(statement));
}

describe('read replica', () => {
  it('reads GETs from the replica, and writes with their reads from the primary', async () => {
    const { primary, replica } = started();
    const created = await call('POST', '/api/equipment', {
      token: tokens.admin,
      json: { ...excavator, serialNumber: 'REPLICA-1' },
    });
    expect(created.status, created.text).toBe(201);
    const id = Number(created.body.id);
    const itemPath = `/api/equipment/${id}`;
    await waitForReplica(primary, replica);
    expect((await call('GET', itemPath, { token: tokens.admin })).body).toEqual(created.body);

    // From here the replica lags: whatever the primary gets, it does not.
    await onReplica('STOP SLAVE');
    await started().primaryPool.query(
      "UPDATE equipment SET name = 'Changed on the primary', version = version + 1 WHERE id = ?",
      [id],
    );

    const read = await call('GET', itemPath, { token: tokens.admin });
    expect(read.body).toMatchObject({ name: excavator.name, version: 1 });
    const listed = await call('GET', '/api/equipment', { token: tokens.admin });
    expect(listed.body.items).toEqual([created.body]);
    // The conditional GET reads the version from the replica too.
    const conditional = await call('GET', itemPath, {
      token: tokens.admin,
      headers: { 'if-none-match': '"1"' },
    });
    expect(conditional.status).toBe(304);

    // The PUT checks If-Match against the primary's version 2 (the replica has 1) and
    // answers with the row as the primary has it after the write.
    const replaced = await call('PUT', itemPath, {
      token: tokens.admin,
      json: { ...excavator, serialNumber: 'REPLICA-1', location: 'Quarry South' },
      headers: { 'if-match': '"2"' },
    });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body).toMatchObject({ name: excavator.name, location: 'Quarry South' });
    expect(replaced.body.version).toBe(3);

    // A POST reads its new row back right after the insert: only the primary has it.
    const second = await call('POST', '/api/equipment', {
      token: tokens.admin,
      json: { ...excavator, serialNumber: 'REPLICA-2' },
    });
    expect(second.status, second.text).toBe(201);
    expect(second.body).toMatchObject({ serialNumber: 'REPLICA-2', version: 1 });
    // ...and a GET in a new request does not see it yet: the replication lag the README names.
    expect(
      (await call('GET', `/api/equipment/${second.body.id}`, { token: tokens.admin })).status,
    ).toBe(404);

    await onReplica('START SLAVE');
    await waitForReplica(primary, replica);
    const caughtUp = await call('GET', itemPath, { token: tokens.admin });
    expect(caughtUp.body).toEqual(replaced.body);
    expect(caughtUp.headers.get('etag')).toBe('"3"');
  });

  it('keeps the app off the replica for writes: it is read-only to the app user', async () => {
    // The app signs in as root here (SUPER bypasses read_only); the server is still a
    // replica: its replication threads run and it refuses writes from ordinary users.
    const [rows] = await appServices().readPool.query<RowDataPacket[]>(
      'SELECT @@read_only AS readOnly, @@server_id AS serverId',
    );
    expect(rows[0]).toEqual({ readOnly: 1, serverId: 2 });
    const [primaryRows] = await appServices().pool.query<RowDataPacket[]>(
      'SELECT @@server_id AS serverId',
    );
    expect(primaryRows[0]).toEqual({ serverId: 1 });
  });

  it('checks the replica in /api/health', async () => {
    const health = await call('GET', '/api/health');
    expect(health.body.checks).toMatchObject({
      mysql: { status: 'up' },
      mysqlReplica: { status: 'up' },
    });
  });
});
