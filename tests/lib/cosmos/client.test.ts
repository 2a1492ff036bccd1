/**
 * The app's Cosmos client and bootstrap against the local server, through the real
 * `@azure/cosmos` SDK over real TLS with only the server's certificate trusted. The last
 * block pins down the stand-in's documented gaps (dev/cosmos.ts), so a change in the
 * stand-in, or a move to another emulator, shows up here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeFeedStartFrom, type CosmosClient, type Container } from '@azure/cosmos';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COSMOS_EMULATOR_KEY,
  DEFAULT_DEAD_LETTER_TTL_SECONDS,
  checkCosmos,
  cosmosClientFor,
  createCosmosClient,
  ensureContainers,
  ensureTelemetryContainers,
  telemetryContainers,
} from '../../../lib/cosmos/client.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { failure } from '../../helpers/failure.js';
import { unusedPort } from '../../../dev/ports.js';

const cosmos = useTestCosmos();

/** Node's codes for a server certificate that does not verify. */
const certificateErrors = [
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
];

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** Databases made by single tests, deleted at the end. */
const scratch: string[] = [];
function scratchDatabaseId(): string {
  const id = `sis_scratch_${randomBytes(6).toString('hex')}`;
  scratch.push(id);
  return id;
}
afterAll(async () => {
  for (const id of scratch) {
    await cosmos.client
      .database(id)
      .delete()
      .catch((error: unknown) => {
        if (errorCode(error) !== 404) throw error;
      });
  }
});

describe('TLS: only the local certificate is trusted', () => {
  it('connects with the pinned certificate', async () => {
    const account = await cosmos.client.getDatabaseAccount();
    expect(account.resource?.writableLocations[0]?.databaseAccountEndpoint).toBe(cosmos.endpoint);
    await checkCosmos(cosmos.client, cosmos.databaseId);
  });

  it('a client without the certificate fails verification', async () => {
    const client = createCosmosClient({ endpoint: cosmos.endpoint, key: COSMOS_EMULATOR_KEY });
    try {
      const error = await failure(checkCosmos(client, cosmos.databaseId));
      expect(certificateErrors).toContain(errorCode(error));
    } finally {
      client.dispose();
    }
  });

  it('a client pinned to another certificate fails verification', async () => {
    const other = await generate([{ name: 'commonName', value: 'someone else' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const client = createCosmosClient({
      endpoint: cosmos.endpoint,
      key: COSMOS_EMULATOR_KEY,
      caCertPem: other.cert,
    });
    try {
      const error = await failure(checkCosmos(client, cosmos.databaseId));
      expect(certificateErrors).toContain(errorCode(error));
    } finally {
      client.dispose();
    }
  });

  it('authenticates with an Entra credential when given one, asking for the account scope', async () => {
    const scopes: (string | string[])[] = [];
    const credential: TokenCredential = {
      getToken(scope: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
        scopes.push(scope);
        return Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    const client = createCosmosClient({
      endpoint: cosmos.endpoint,
      credential,
      caCertPem: cosmos.caCertPem,
    });
    try {
      // The stand-in does not verify tokens; this shows the SDK used the credential.
      await checkCosmos(client, cosmos.databaseId);
      expect(scopes.flat()).toContain(`${new URL(cosmos.endpoint).origin}/.default`);
    } finally {
      client.dispose();
    }
  });

  it('refuses unsafe or ambiguous options', () => {
    const endpoint = cosmos.endpoint;
    const credential: TokenCredential = { getToken: () => Promise.resolve(null) };
    expect(() => createCosmosClient({ endpoint })).toThrow(/exactly one/);
    expect(() => createCosmosClient({ endpoint, key: 'k', credential })).toThrow(/exactly one/);
    expect(() => createCosmosClient({ endpoint: 'not a url', key: 'k' })).toThrow(/URL/);
    expect(() => createCosmosClient({ endpoint: 'ftp://127.0.0.1/', key: 'k' })).toThrow(/https/);
    expect(() => createCosmosClient({ endpoint: 'http://example.com:8081/', key: 'k' })).toThrow(
      /loopback/,
    );
    expect(() => createCosmosClient({ endpoint: 'http://127.0.0.1:8081/', credential })).toThrow(
      /loopback/,
    );
    expect(() =>
      createCosmosClient({ endpoint: 'http://127.0.0.1:8081/', key: 'k', caCertPem: 'x' }),
    ).toThrow(/https/);
    expect(() =>
      createCosmosClient({ endpoint, key: 'k', caCertPem: 'not a certificate' }),
    ).toThrow(/PEM/);
  });
});

// One client per process: lib/services.ts builds it once (tests/lib/services.test.ts).
describe('cosmosClientFor', () => {
  it('reads the certificate from a file and defaults to the emulator key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-cosmos-ca-'));
    try {
      const caCertFile = join(dir, 'cert.pem');
      writeFileSync(caCertFile, cosmos.caCertPem);
      const client = cosmosClientFor({ mode: 'local', endpoint: cosmos.endpoint, caCertFile });
      try {
        await checkCosmos(client, cosmos.databaseId);
      } finally {
        client.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses a managed identity in Azure mode and refuses plain http there', () => {
    const client = cosmosClientFor({
      mode: 'azure',
      endpoint: 'https://sis-test.documents.azure.com:443/',
      managedIdentityClientId: '00000000-0000-0000-0000-000000000001',
    });
    client.dispose();
    expect(() => cosmosClientFor({ mode: 'azure', endpoint: 'http://127.0.0.1:8081/' })).toThrow(
      /https/,
    );
  });
});

describe('items: create, read, conditional writes, delete, patch', () => {
  let alerts: Container;
  beforeAll(() => {
    alerts = cosmos.containers.alerts;
  });

  it('creates once per id and partition, and reads by id and partition key', async () => {
    const created = await alerts.items.create({ id: 'a1', equipmentId: 'e1', severity: 'high' });
    expect(created.statusCode).toBe(201);
    expect(created.etag).toBeTruthy();
    expect(errorCode(await failure(alerts.items.create({ id: 'a1', equipmentId: 'e1' })))).toBe(
      409,
    );
    // The same id in another partition is another item.
    expect((await alerts.items.create({ id: 'a1', equipmentId: 'e2' })).statusCode).toBe(201);

    const read = await alerts.item('a1', 'e1').read<{ severity: string }>();
    expect(read.statusCode).toBe(200);
    expect(read.resource?.severity).toBe('high');
    expect(read.etag).toBe(created.etag);
    expect((await alerts.item('missing', 'e1').read()).statusCode).toBe(404);
    expect((await alerts.item('a1', 'e9').read()).statusCode).toBe(404);
  });

  it('upserts with IfMatch: the current ETag wins, a stale one gets 412', async () => {
    const first = await alerts.items.upsert({ id: 'u1', equipmentId: 'e1', count: 1 });
    expect(first.statusCode).toBe(201);
    const second = await alerts.items.upsert(
      { id: 'u1', equipmentId: 'e1', count: 2 },
      { accessCondition: { type: 'IfMatch', condition: first.etag } },
    );
    expect(second.statusCode).toBe(200);
    expect(second.etag).not.toBe(first.etag);
    const stale = await failure(
      alerts.items.upsert(
        { id: 'u1', equipmentId: 'e1', count: 99 },
        { accessCondition: { type: 'IfMatch', condition: first.etag } },
      ),
    );
    expect(errorCode(stale)).toBe(412);
    expect((await alerts.item('u1', 'e1').read<{ count: number }>()).resource?.count).toBe(2);
  });

  it('lets exactly one of two concurrent writers with the same ETag win', async () => {
    const base = await alerts.items.create({ id: 'race', equipmentId: 'e1', owner: 'none' });
    const results = await Promise.allSettled(
      ['left', 'right'].map((owner) =>
        alerts.items.upsert(
          { id: 'race', equipmentId: 'e1', owner },
          { accessCondition: { type: 'IfMatch', condition: base.etag } },
        ),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => errorCode(r.reason))).toEqual([412]);
    const stored = (await alerts.item('race', 'e1').read<{ owner: string }>()).resource;
    expect(stored?.owner).toBe(won[0]?.value.resource?.['owner']);
  });

  it('creates on an upsert with IfMatch when the item does not exist (as Cosmos DB does)', async () => {
    const response = await alerts.items.upsert(
      { id: 'ghost', equipmentId: 'e1' },
      { accessCondition: { type: 'IfMatch', condition: 'any-etag' } },
    );
    expect(response.statusCode).toBe(201);
  });

  it('replaces and deletes with IfMatch', async () => {
    const created = await alerts.items.create({ id: 'r1', equipmentId: 'e3', status: 'open' });
    const replaced = await alerts
      .item('r1', 'e3')
      .replace(
        { id: 'r1', equipmentId: 'e3', status: 'acknowledged' },
        { accessCondition: { type: 'IfMatch', condition: created.etag } },
      );
    expect(replaced.statusCode).toBe(200);
    const staleReplace = await failure(
      alerts
        .item('r1', 'e3')
        .replace(
          { id: 'r1', equipmentId: 'e3', status: 'resolved' },
          { accessCondition: { type: 'IfMatch', condition: created.etag } },
        ),
    );
    expect(errorCode(staleReplace)).toBe(412);
    const staleDelete = await failure(
      alerts
        .item('r1', 'e3')
        .delete({ accessCondition: { type: 'IfMatch', condition: created.etag } }),
    );
    expect(errorCode(staleDelete)).toBe(412);
    const deleted = await alerts
      .item('r1', 'e3')
      .delete({ accessCondition: { type: 'IfMatch', condition: replaced.etag } });
    expect(deleted.statusCode).toBe(204);
    expect((await alerts.item('r1', 'e3').read()).statusCode).toBe(404);
    expect(errorCode(await failure(alerts.item('r1', 'e3').delete()))).toBe(404);
  });

  it('patches: set, incr, add to an array; honours IfMatch and a condition', async () => {
    const created = await alerts.items.create({
      id: 'p1',
      equipmentId: 'e4',
      occurrences: 1,
      windows: ['w1'],
      severity: 'medium',
    });
    const patched = await alerts.item('p1', 'e4').patch<{
      occurrences: number;
      windows: string[];
      severity: string;
    }>({
      operations: [
        { op: 'incr', path: '/occurrences', value: 2 },
        { op: 'add', path: '/windows/-', value: 'w2' },
        { op: 'set', path: '/severity', value: 'high' },
      ],
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.resource).toMatchObject({
      occurrences: 3,
      windows: ['w1', 'w2'],
      severity: 'high',
    });
    const stale = await failure(
      alerts
        .item('p1', 'e4')
        .patch(
          { operations: [{ op: 'incr', path: '/occurrences', value: 1 }] },
          { accessCondition: { type: 'IfMatch', condition: created.etag } },
        ),
    );
    expect(errorCode(stale)).toBe(412);
    const unmet = await failure(
      alerts.item('p1', 'e4').patch({
        condition: "from c where c.severity = 'critical'",
        operations: [{ op: 'set', path: '/severity', value: 'medium' }],
      }),
    );
    expect(errorCode(unmet)).toBe(412);
    const met = await alerts.item('p1', 'e4').patch<{ severity: string }>({
      condition: "from c where c.severity = 'high'",
      operations: [{ op: 'set', path: '/severity', value: 'critical' }],
    });
    expect(met.resource?.severity).toBe('critical');
  });
});

describe('queries', () => {
  interface Aggregate {
    id: string;
    equipmentId: string;
    windowStart: string;
    maxTemperature: number;
    breached: string[];
  }
  const rows: Aggregate[] = [
    {
      id: 'q1',
      equipmentId: 'eq-1',
      windowStart: '2025-01-01T00:00Z',
      maxTemperature: 70,
      breached: [],
    },
    {
      id: 'q2',
      equipmentId: 'eq-1',
      windowStart: '2025-01-01T00:05Z',
      maxTemperature: 95,
      breached: ['temperature'],
    },
    {
      id: 'q3',
      equipmentId: 'eq-1',
      windowStart: '2025-01-01T00:10Z',
      maxTemperature: 81,
      breached: ['temperature', 'vibration'],
    },
    {
      id: 'q4',
      equipmentId: 'eq-2',
      windowStart: '2025-01-01T00:00Z',
      maxTemperature: 60,
      breached: ['pressure'],
    },
    {
      id: 'q5',
      equipmentId: 'eq-2',
      windowStart: '2025-01-01T00:05Z',
      maxTemperature: 88,
      breached: ['vibration'],
    },
    {
      id: 'q6',
      equipmentId: 'eq-3',
      windowStart: '2025-01-01T00:00Z',
      maxTemperature: 99,
      breached: ['temperature'],
    },
  ];
  let aggregates: Container;
  beforeAll(async () => {
    aggregates = cosmos.containers.aggregates;
    for (const row of rows) await aggregates.items.create(row);
  });

  it('orders within a partition (WHERE on the partition key, parameters)', async () => {
    const { resources } = await aggregates.items
      .query<string>({
        query:
          'SELECT VALUE c.id FROM c WHERE c.equipmentId = @equipmentId ORDER BY c.windowStart DESC',
        parameters: [{ name: '@equipmentId', value: 'eq-1' }],
      })
      .fetchAll();
    expect(resources).toEqual(['q3', 'q2', 'q1']);
  });

  it('orders across partitions, with TOP', async () => {
    const { resources } = await aggregates.items
      .query<{ id: string; maxTemperature: number }>(
        'SELECT TOP 3 c.id, c.maxTemperature FROM c ORDER BY c.maxTemperature DESC',
      )
      .fetchAll();
    expect(resources).toEqual([
      { id: 'q6', maxTemperature: 99 },
      { id: 'q2', maxTemperature: 95 },
      { id: 'q5', maxTemperature: 88 },
    ]);
    const ascending = await aggregates.items
      .query<string>('SELECT TOP 2 VALUE c.id FROM c ORDER BY c.maxTemperature ASC')
      .fetchAll();
    expect(ascending.resources).toEqual(['q4', 'q1']);
  });

  it('filters with ARRAY_CONTAINS and a parameter, across partitions', async () => {
    const { resources } = await aggregates.items
      .query<{ id: string; equipmentId: string }>({
        query:
          'SELECT c.id, c.equipmentId FROM c WHERE ARRAY_CONTAINS(c.breached, @metric) ORDER BY c.id',
        parameters: [{ name: '@metric', value: 'temperature' }],
      })
      .fetchAll();
    expect(resources).toEqual([
      { id: 'q2', equipmentId: 'eq-1' },
      { id: 'q3', equipmentId: 'eq-1' },
      { id: 'q6', equipmentId: 'eq-3' },
    ]);
  });

  it('counts and pages across partitions with continuation tokens', async () => {
    const count = await aggregates.items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll();
    expect(count.resources).toEqual([rows.length]);
    const iterator = aggregates.items.query<{ id: string }>('SELECT c.id FROM c', {
      maxItemCount: 2,
    });
    const pages: number[] = [];
    const ids: string[] = [];
    while (iterator.hasMoreResults()) {
      const page = await iterator.fetchNext();
      if (page.resources.length === 0) continue;
      pages.push(page.resources.length);
      ids.push(...page.resources.map((r) => r.id));
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(ids.sort()).toEqual(rows.map((r) => r.id).sort());
  });
});

describe('container bootstrap', () => {
  it('creates every telemetry container with its partition key and TTL', async () => {
    const { resources } = await cosmos.database.containers.readAll().fetchAll();
    for (const spec of telemetryContainers) {
      const definition = resources.find((c) => c.id === spec.id);
      expect(definition?.partitionKey?.paths).toEqual([spec.partitionKeyPath]);
      expect(definition?.defaultTtl).toBe('defaultTtl' in spec ? spec.defaultTtl : undefined);
    }
    expect(resources.find((c) => c.id === 'deadLetters')?.defaultTtl).toBe(
      DEFAULT_DEAD_LETTER_TTL_SECONDS,
    );
  });

  it('is idempotent: a second run keeps containers and items', async () => {
    await cosmos.containers.pipelineState.items.create({ id: 'keep', pk: 'state' });
    const again = await ensureTelemetryContainers(cosmos.client, cosmos.databaseId);
    const { resources } = await cosmos.database.containers.readAll().fetchAll();
    expect(resources.map((c) => c.id).sort()).toEqual(
      telemetryContainers
        .map((c) => c.id)
        .slice()
        .sort(),
    );
    expect((await again.containers.pipelineState.item('keep', 'state').read()).statusCode).toBe(
      200,
    );
  });

  it('takes TTLs as a parameter and brings an existing container in line', async () => {
    const databaseId = scratchDatabaseId();
    const first = await ensureTelemetryContainers(cosmos.client, databaseId, {
      defaultTtl: { deadLetters: 3600, aggregates: 90 * 24 * 3600 },
    });
    expect((await first.containers.deadLetters.read()).resource?.defaultTtl).toBe(3600);
    expect((await first.containers.aggregates.read()).resource?.defaultTtl).toBe(7_776_000);
    const second = await ensureTelemetryContainers(cosmos.client, databaseId, {
      defaultTtl: { deadLetters: 7200, aggregates: null },
    });
    expect((await second.containers.deadLetters.read()).resource?.defaultTtl).toBe(7200);
    expect((await second.containers.aggregates.read()).resource?.defaultTtl).toBeUndefined();
  });

  it('survives two instances bootstrapping at once', async () => {
    const databaseId = scratchDatabaseId();
    const [a, b] = await Promise.all([
      ensureTelemetryContainers(cosmos.client, databaseId),
      ensureTelemetryContainers(cosmos.client, databaseId),
    ]);
    expect(Object.keys(a.containers).sort()).toEqual(Object.keys(b.containers).sort());
    const { resources } = await cosmos.client.database(databaseId).containers.readAll().fetchAll();
    expect(resources).toHaveLength(telemetryContainers.length);
  });

  it('refuses an existing container with another partition key', async () => {
    const databaseId = scratchDatabaseId();
    const { database } = await cosmos.client.databases.createIfNotExists({ id: databaseId });
    await database.containers.create({ id: 'alerts', partitionKey: { paths: ['/id'] } });
    await expect(ensureTelemetryContainers(cosmos.client, databaseId)).rejects.toThrow(
      /alerts exists with partition key \/id/,
    );
  });

  it('refuses invalid TTLs and nested partition keys before touching the server', async () => {
    for (const ttl of [0, -2, 1.5]) {
      await expect(
        ensureTelemetryContainers(cosmos.client, 'never-created', { defaultTtl: { alerts: ttl } }),
      ).rejects.toThrow(/TTL/);
    }
    await expect(
      ensureContainers(cosmos.client, 'never-created', [{ id: 'x', partitionKeyPath: '/a/b' }]),
    ).rejects.toThrow(/top-level/);
    const { statusCode } = await cosmos.client
      .database('never-created')
      .read()
      .catch((error: unknown) => ({ statusCode: errorCode(error) }));
    expect(statusCode).toBe(404);
  });

  it('declares composite indexes so ORDER BY over two fields works', async () => {
    const databaseId = scratchDatabaseId();
    const twoFields = 'SELECT VALUE c.id FROM c ORDER BY c.a ASC, c.b DESC';
    const fill = async (container: Container) => {
      for (const [id, a, b] of [
        ['x', 1, 1],
        ['y', 1, 2],
        ['z', 0, 5],
      ] as const) {
        await container.items.create({ id, pk: 'p', a, b });
      }
    };
    const { containers } = await ensureContainers(cosmos.client, databaseId, [
      { id: 'plain', partitionKeyPath: '/pk' },
      {
        id: 'indexed',
        partitionKeyPath: '/pk',
        compositeIndexes: [
          [
            { path: '/a', order: 'ascending' },
            { path: '/b', order: 'descending' },
          ],
        ],
      },
    ]);
    await fill(containers.plain);
    await fill(containers.indexed);
    expect(errorCode(await failure(containers.plain.items.query(twoFields).fetchAll()))).toBe(400);
    const { resources } = await containers.indexed.items.query(twoFields).fetchAll();
    expect(resources).toEqual(['z', 'y', 'x']);
  });

  it('adds composite indexes to an existing container', async () => {
    const databaseId = scratchDatabaseId();
    await ensureContainers(cosmos.client, databaseId, [{ id: 'later', partitionKeyPath: '/pk' }]);
    const { containers } = await ensureContainers(cosmos.client, databaseId, [
      {
        id: 'later',
        partitionKeyPath: '/pk',
        compositeIndexes: [
          [
            { path: '/a', order: 'ascending' },
            { path: '/b', order: 'ascending' },
          ],
        ],
      },
    ]);
    const { resource } = await containers.later.read();
    expect(resource?.indexingPolicy?.compositeIndexes).toEqual([
      [
        { path: '/a', order: 'ascending' },
        { path: '/b', order: 'ascending' },
      ],
    ]);
    await containers.later.items.create({ id: 'i', pk: 'p', a: 1, b: 1 });
    const { resources } = await containers.later.items
      .query('SELECT VALUE c.id FROM c ORDER BY c.a, c.b')
      .fetchAll();
    expect(resources).toEqual(['i']);
  });
});

describe('checkCosmos', () => {
  it('passes for an existing database', async () => {
    await expect(checkCosmos(cosmos.client, cosmos.databaseId)).resolves.toBeUndefined();
  });

  it('fails for a missing database', async () => {
    expect(errorCode(await failure(checkCosmos(cosmos.client, 'no-such-database')))).toBe(404);
  });

  it('fails against a closed port', async () => {
    const client: CosmosClient = createCosmosClient({
      endpoint: `https://127.0.0.1:${await unusedPort()}/`,
      key: COSMOS_EMULATOR_KEY,
      caCertPem: cosmos.caCertPem,
    });
    try {
      expect(errorCode(await failure(checkCosmos(client, cosmos.databaseId)))).toBe('ECONNREFUSED');
    } finally {
      client.dispose();
    }
  });

  it('gives up when its abort signal fires', async () => {
    await expect(
      checkCosmos(cosmos.client, cosmos.databaseId, { abortSignal: AbortSignal.abort() }),
    ).rejects.toThrow();
  });
});

describe("the stand-in's known gaps (dev/cosmos.ts)", () => {
  it('a transactional batch is not atomic: earlier operations stay when one fails', async () => {
    const state = cosmos.containers.pipelineState;
    await state.items.create({ id: 'taken', pk: 'batch' });
    const response = await state.items.batch(
      [
        { operationType: 'Create', resourceBody: { id: 'b1', pk: 'batch' } },
        { operationType: 'Create', resourceBody: { id: 'taken', pk: 'batch' } },
        { operationType: 'Create', resourceBody: { id: 'b2', pk: 'batch' } },
      ],
      'batch',
    );
    expect(response.result?.map((r) => r.statusCode)).toEqual([201, 409, 424]);
    // Cosmos DB would have rolled b1 back.
    expect((await state.item('b1', 'batch').read()).statusCode).toBe(200);
    expect((await state.item('b2', 'batch').read()).statusCode).toBe(404);
  });

  it('the change feed stops after the first read', async () => {
    const letters = cosmos.containers.deadLetters;
    await letters.items.create({ id: 'cf1', equipmentId: 'cf' });
    const feed = letters.items.getChangeFeedIterator({
      // The SDK's own factory; its declared return type is not a subclass of the option's.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
      changeFeedStartFrom: ChangeFeedStartFrom.Beginning('cf'),
    });
    const first = await feed.readNext();
    expect(first.result.map((item: { id: string }) => item.id)).toContain('cf1');
    await letters.items.create({ id: 'cf2', equipmentId: 'cf' });
    const second = await feed.readNext();
    // Cosmos DB would return cf2 here.
    expect(second.statusCode).toBe(304);
    expect(second.result).toHaveLength(0);
  });

  it('a query ignores the partitionKey option: filter on the key in WHERE', async () => {
    const letters = cosmos.containers.deadLetters;
    await letters.items.create({ id: 'pk1', equipmentId: 'scope-a', tag: 'scope' });
    await letters.items.create({ id: 'pk2', equipmentId: 'scope-b', tag: 'scope' });
    const query = "SELECT VALUE c.id FROM c WHERE c.tag = 'scope' ORDER BY c.id";
    const scoped = await letters.items.query<string>(query, { partitionKey: 'scope-a' }).fetchAll();
    // Cosmos DB would return only pk1.
    expect(scoped.resources).toEqual(['pk1', 'pk2']);
  });

  it('has no GROUP BY and no OFFSET LIMIT', async () => {
    const letters = cosmos.containers.deadLetters;
    for (const query of [
      'SELECT c.equipmentId, COUNT(1) AS n FROM c GROUP BY c.equipmentId',
      'SELECT c.id FROM c ORDER BY c.id OFFSET 1 LIMIT 1',
    ]) {
      expect(errorCode(await failure(letters.items.query(query).fetchAll()))).toBe(400);
    }
  });

  it('replacing a container (new TTL or indexes) drops every item in it', async () => {
    const databaseId = scratchDatabaseId();
    const first = await ensureTelemetryContainers(cosmos.client, databaseId);
    await first.containers.deadLetters.items.create({ id: 'kept?', equipmentId: 'e1' });
    const second = await ensureTelemetryContainers(cosmos.client, databaseId, {
      defaultTtl: { deadLetters: 60 },
    });
    // Cosmos DB keeps items when a container's settings change.
    expect((await second.containers.deadLetters.item('kept?', 'e1').read()).statusCode).toBe(404);
  });

  it('compares partition key values as text: 1 and "1" collide', async () => {
    const state = cosmos.containers.pipelineState;
    await state.items.create({ id: 'typed', pk: 1 });
    // Cosmos DB would treat pk "1" as another partition and accept this item.
    expect(errorCode(await failure(state.items.create({ id: 'typed', pk: '1' })))).toBe(409);
  });

  it('does not authenticate: a wrong key is accepted', async () => {
    const client = createCosmosClient({
      endpoint: cosmos.endpoint,
      key: Buffer.from('not the key').toString('base64'),
      caCertPem: cosmos.caCertPem,
    });
    try {
      await checkCosmos(client, cosmos.databaseId);
    } finally {
      client.dispose();
    }
  });
});
