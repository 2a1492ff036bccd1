/**
 * The shared equipment cache across processes: two local host processes (the API host of
 * bench/servers) over one MySQL database and the test run's Redis. A write through one is
 * what the other answers on its next read, for replace, create and delete; and reads really
 * come from the cache (a change made in MySQL behind the API's back is not seen until the
 * next write through the API). The fleet (`GET /api/fleet`, one cached list of every
 * machine) is as current: a write through one process is in the other's next fleet read.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startScript, type RunningScript } from '../../dev/child.js';
import { loadDevIssuer } from '../../dev/issuer.js';
import { COSMOS_EMULATOR_KEY } from '../../lib/cosmos/client.js';
import { useTestCosmos } from '../helpers/cosmos.js';
import { useTestDatabase } from '../helpers/database.js';

const db = useTestDatabase();
// The fleet's reading times come from Cosmos DB: each host reaches the file's own database.
const cosmos = useTestCosmos();
const hosts: RunningScript[] = [];
let issuerDir = '';
let token = '';

beforeAll(async () => {
  issuerDir = mkdtempSync(join(tmpdir(), 'sis-test-cache-issuer-'));
  token = await (await loadDevIssuer(issuerDir)).sign({ sub: 'admin-cache', roles: ['Admin'] });
  writeFileSync(join(issuerDir, 'cosmos.pem'), cosmos.caCertPem);
  const env = {
    MYSQL_URL: db.url,
    COSMOS__accountEndpoint: cosmos.endpoint,
    COSMOS_KEY: COSMOS_EMULATOR_KEY,
    COSMOS_CA_CERT_FILE: join(issuerDir, 'cosmos.pem'),
    COSMOS_DATABASE: cosmos.databaseId,
    BENCH_ISSUER_DIR: issuerDir,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `cache-${randomBytes(4).toString('hex')}:`,
  };
  for (let i = 0; i < 2; i++) {
    hosts.push(
      await startScript({ script: 'bench/servers/apiHost.ts', env, readyLine: /listening (\d+)/ }),
    );
  }
});

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  if (issuerDir) rmSync(issuerDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  etag: string | null;
  body: {
    id?: number;
    version?: number;
    location?: string | null;
    name?: string;
    rows?: [number, string, string, string | null, string | null, string, string | null][];
  };
}

/** One request through host `index` as the admin. */
async function api(
  index: number,
  method: string,
  path: string,
  options: { json?: unknown; ifMatch?: string } = {},
): Promise<Answer> {
  const host = hosts[index];
  if (!host) throw new Error(`no host ${index}`);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.ifMatch) headers['if-match'] = options.ifMatch;
  const response = await fetch(`http://127.0.0.1:${host.ready}/api${path}`, {
    method,
    headers,
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    etag: response.headers.get('etag'),
    body: text ? (JSON.parse(text) as Answer['body']) : {},
  };
}

const machine = (location: string) => ({
  name: 'Shared excavator',
  type: 'excavator',
  status: 'Operational',
  location,
});

describe('the shared equipment cache, across two processes', () => {
  it('answers every read after a write with that write, whichever process took it', async () => {
    const created = await api(0, 'POST', '/equipment', { json: machine('Site 0') });
    expect(created.status).toBe(201);
    const id = created.body.id ?? 0;
    // Both processes now hold version 1 in memory and in Redis.
    for (const index of [0, 1])
      expect((await api(index, 'GET', `/equipment/${id}`)).body.version).toBe(1);
    let etag = created.etag ?? '';
    for (let round = 1; round <= 8; round++) {
      const writer = round % 2;
      const reader = 1 - writer;
      const replaced = await api(writer, 'PUT', `/equipment/${id}`, {
        json: machine(`Site ${round}`),
        ifMatch: etag,
      });
      expect(replaced.status).toBe(200);
      etag = replaced.etag ?? '';
      const read = await api(reader, 'GET', `/equipment/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ version: round + 1, location: `Site ${round}` });
      expect(read.etag).toBe(etag);
    }
    expect((await api(1, 'DELETE', `/equipment/${id}`, { ifMatch: etag })).status).toBe(204);
    expect((await api(0, 'GET', `/equipment/${id}`)).status).toBe(404);
    expect((await api(1, 'GET', `/equipment/${id}`)).status).toBe(404);
  });

  it('serves reads from the cache, not from MySQL', async () => {
    const created = await api(1, 'POST', '/equipment', { json: machine('Yard') });
    const id = created.body.id ?? 0;
    expect((await api(0, 'GET', `/equipment/${id}`)).body.name).toBe('Shared excavator');
    // Behind the API's back (no version bump, so no write the cache could know of).
    await db.pool.query('UPDATE equipment SET name = ? WHERE id = ?', ['Changed in MySQL', id]);
    for (const index of [0, 1]) {
      expect((await api(index, 'GET', `/equipment/${id}`)).body.name).toBe('Shared excavator');
    }
    // The next write through the API is what both answer.
    const replaced = await api(0, 'PUT', `/equipment/${id}`, {
      json: { ...machine('Yard'), name: 'Renamed' },
      ifMatch: created.etag ?? '',
    });
    expect(replaced.status).toBe(200);
    for (const index of [1, 0]) {
      expect((await api(index, 'GET', `/equipment/${id}`)).body).toMatchObject({
        name: 'Renamed',
        version: 2,
      });
    }
  });
});

describe('the shared fleet cache, across two processes', () => {
  /** Machine `id`'s fleet row (name, location, status) as host `index` answers it. */
  async function fleetRow(index: number, id: number) {
    const fleet = await api(index, 'GET', '/fleet');
    expect(fleet.status).toBe(200);
    const row = fleet.body.rows?.find(([rowId]) => rowId === id);
    return row && { name: row[1], location: row[3], status: row[5] };
  }

  it('answers every fleet read after a write with that write, whichever process took it', async () => {
    const created = await api(0, 'POST', '/equipment', { json: machine('Fleet 0') });
    const id = created.body.id ?? 0;
    // Both processes hold the fleet with it now, in memory and in Redis.
    for (const index of [1, 0])
      expect(await fleetRow(index, id)).toMatchObject({ location: 'Fleet 0' });
    let etag = created.etag ?? '';
    for (let round = 1; round <= 6; round++) {
      const writer = round % 2;
      const status = round % 3 === 0 ? 'Maintenance' : 'Operational';
      const replaced = await api(writer, 'PUT', `/equipment/${id}`, {
        json: { ...machine(`Fleet ${round}`), status },
        ifMatch: etag,
      });
      expect(replaced.status).toBe(200);
      etag = replaced.etag ?? '';
      expect(await fleetRow(1 - writer, id)).toEqual({
        name: 'Shared excavator',
        location: `Fleet ${round}`,
        status,
      });
    }
    const added = await api(1, 'POST', '/equipment', { json: machine('Added') });
    expect(await fleetRow(0, added.body.id ?? 0)).toMatchObject({ location: 'Added' });
    expect((await api(0, 'DELETE', `/equipment/${id}`, { ifMatch: etag })).status).toBe(204);
    expect(await fleetRow(1, id)).toBeUndefined();
  });

  it('serves the fleet from the cache, not from MySQL', async () => {
    const created = await api(0, 'POST', '/equipment', { json: machine('Cached') });
    const id = created.body.id ?? 0;
    expect(await fleetRow(1, id)).toMatchObject({ name: 'Shared excavator' });
    await db.pool.query('UPDATE equipment SET name = ? WHERE id = ?', ['Changed in MySQL', id]);
    for (const index of [0, 1])
      expect(await fleetRow(index, id)).toMatchObject({ name: 'Shared excavator' });
    // Any equipment write through the API makes every copy of the fleet out of date.
    await api(1, 'POST', '/equipment', { json: machine('Another') });
    for (const index of [0, 1])
      expect(await fleetRow(index, id)).toMatchObject({ name: 'Changed in MySQL' });
  });
});
