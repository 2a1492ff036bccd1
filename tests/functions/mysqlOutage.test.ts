/**
 * A MySQL outage under load, against a MariaDB server of this file's own (so stopping it
 * disturbs no other test): hung (SIGSTOP), resumed, killed and restarted on the same data
 * folder and port, while a few workers keep calling the API in-process. Every answer during
 * the outage is a 503 problem with Retry-After within the configured timeouts (plus generous
 * slack for a loaded machine), never a 500; the app recovers without a restart; and a write
 * issued during the outage is stored at most once, exactly once when it was confirmed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, ensureDatabase, type MariaDbServer } from '../../dev/mariadb.js';
import { migrate } from '../../lib/mysql/migrations.js';
import { poolOptions } from '../../lib/mysql/pool.js';
import { call, type ApiResult } from '../helpers/api.js';
import { closeAppServices, useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer } from '../helpers/auth.js';
import { unusedPort } from '../../dev/ports.js';
import { expectProblem } from '../helpers/problems.js';

/** The app's timeouts for this file: short, so an outage phase takes seconds. */
const timeouts = { connect: 1000, acquire: 1000, query: 1500 };
/**
 * The longest a request may take during the outage: it waits for a connection, then for one
 * statement, then answers. The slack absorbs a loaded 2-core machine; it is not a speed claim.
 */
const boundMs = timeouts.acquire + timeouts.query + 6000;
const workers = 4;
const roundsPerPhase = 3;

const issuer = useTestIssuer();
let dataDir = '';
let port = 0;
let server: MariaDbServer | undefined;
/** The server's process while it is stopped with SIGSTOP (resumed in afterAll if need be). */
let stoppedPid: number | undefined;
/** The test's own pool, for arranging and checking rows; never used while the server is down. */
let rows: Pool | undefined;
let admin = '';
let equipmentId = 0;
let writeCounter = 0;

function serverPid(): number {
  return Number(readFileSync(join(dataDir, 'mysqld.pid'), 'utf8').trim());
}

/**
 * Waits (bounded) until every thread of `pid` is stopped: `kill` only queues SIGSTOP, and a
 * thread of a server on a busy machine may still be on its way to the stop when the first
 * request arrives.
 */
async function waitUntilStopped(pid: number): Promise<void> {
  const states = () =>
    readdirSync(`/proc/${pid}/task`).map((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    });
  for (let attempt = 0; attempt < 500; attempt++) {
    if (states().every((state) => state === 'T')) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`MariaDB ${pid} did not stop: thread states ${states().join('')}`);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-test-outage-'));
  port = await unusedPort();
  server = await startMariaDb({ dataDir, port, log: () => undefined });
  await ensureDatabase(server.url, 'sis_outage');
  const url = `${server.url}sis_outage`;
  rows = createPool(poolOptions({ MYSQL_URL: url, MYSQL_POOL_SIZE: 2, MYSQL_TLS: false }));
  await migrate(rows);
});
useAppSettings(() => ({
  MYSQL_URL: `${server?.url ?? ''}sis_outage`,
  MYSQL_CONNECT_TIMEOUT_MS: String(timeouts.connect),
  MYSQL_ACQUIRE_TIMEOUT_MS: String(timeouts.acquire),
  MYSQL_QUERY_TIMEOUT_MS: String(timeouts.query),
}));

beforeAll(async () => {
  admin = await issuer.token(['Admin']);
  const created = await call('POST', '/api/equipment', {
    token: admin,
    json: { serialNumber: 'OUT-1', name: 'Loader', type: 'loader', status: 'Operational' },
  });
  expect(created.status, created.text).toBe(201);
  equipmentId = (created.body as { id: number }).id;
});

afterAll(async () => {
  // Whatever failed above: resume a stopped server, then stop everything this file started.
  if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
  await closeAppServices();
  await rows?.end().catch(() => undefined);
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Outcome {
  kind: 'read' | 'write';
  marker?: string;
  result: ApiResult;
  elapsedMs: number;
}

/** One read or one write (a service record tagged with a unique marker), timed. */
async function request(kind: 'read' | 'write'): Promise<Outcome> {
  const started = performance.now();
  if (kind === 'read') {
    // A read MySQL must answer: a single equipment row would come from the shared cache.
    const result = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: admin,
    });
    return { kind, result, elapsedMs: performance.now() - started };
  }
  writeCounter += 1;
  const marker = `outage-write-${writeCounter}`;
  const result = await call('POST', '/api/service-records', {
    token: admin,
    json: {
      equipmentId,
      serviceType: 'inspection',
      status: 'completed',
      serviceDate: '2025-01-01T00:00:00Z',
      description: marker,
    },
  });
  return { kind, marker, result, elapsedMs: performance.now() - started };
}

/** `workers` concurrent loops of `rounds` requests each, alternating reads and writes. */
async function load(rounds = roundsPerPhase): Promise<Outcome[]> {
  const all = await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      const outcomes: Outcome[] = [];
      for (let round = 0; round < rounds; round++) {
        outcomes.push(await request((worker + round) % 2 === 0 ? 'read' : 'write'));
      }
      return outcomes;
    }),
  );
  return all.flat();
}

const writes: Outcome[] = [];

function expectAllUnavailable(outcomes: Outcome[]): void {
  for (const outcome of outcomes) {
    const path =
      outcome.kind === 'read'
        ? `/api/equipment/${equipmentId}/technicians`
        : '/api/service-records';
    expectProblem(outcome.result, 503, path);
    expect(outcome.result.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(outcome.result.headers.get('x-content-type-options')).toBe('nosniff');
    expect(outcome.elapsedMs, `${outcome.kind} took ${outcome.elapsedMs} ms`).toBeLessThan(boundMs);
    // Nothing about the server leaks: no port, no driver message.
    expect(outcome.result.text).not.toContain(String(port));
    expect(outcome.result.text).not.toMatch(/ECONN|PROTOCOL_|ETIMEDOUT|127\.0\.0\.1/);
    if (outcome.kind === 'write') {
      expect(outcome.result.body.detail).toMatch(/may or may not have been applied/);
    }
  }
}

/** Retries a read (a bounded number of times) until MySQL answers again, then loads. */
async function expectRecovery(): Promise<void> {
  let last: ApiResult | undefined;
  for (let attempt = 0; attempt < 40; attempt++) {
    last = (await request('read')).result;
    if (last.status === 200) break;
    expect(last.status, last.text).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(last?.status, last?.text).toBe(200);
  const outcomes = await load(1);
  writes.push(...outcomes.filter((o) => o.kind === 'write'));
  for (const outcome of outcomes) {
    expect(outcome.result.status, outcome.result.text).toBe(outcome.kind === 'read' ? 200 : 201);
  }
}

async function healthOf(): Promise<ApiResult> {
  return call('GET', '/api/health');
}

describe('MySQL outage under load', () => {
  it('serves normally before the outage', async () => {
    const outcomes = await load(1);
    writes.push(...outcomes.filter((o) => o.kind === 'write'));
    for (const outcome of outcomes) {
      expect(outcome.result.status, outcome.result.text).toBe(outcome.kind === 'read' ? 200 : 201);
      expect(outcome.result.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('answers 503 with Retry-After within the bound while the server hangs (SIGSTOP)', async () => {
    stoppedPid = serverPid();
    process.kill(stoppedPid, 'SIGSTOP');
    await waitUntilStopped(stoppedPid);
    const outcomes = await load();
    writes.push(...outcomes.filter((o) => o.kind === 'write'));
    expectAllUnavailable(outcomes);
    const health = await healthOf();
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(health.body.checks.mysql).toMatchObject({ status: 'down', reason: 'timed out' });
  });

  it('recovers once the server resumes (SIGCONT), without restarting the app', async () => {
    if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
    stoppedPid = undefined;
    await expectRecovery();
    const health = await healthOf();
    expect(health.body.checks.mysql).toMatchObject({ status: 'up' });
  });

  it('answers 503 at once while the server is gone, and recovers when it restarts', async () => {
    process.kill(serverPid(), 'SIGKILL');
    await server?.stop(); // waits for the exit
    const outcomes = await load();
    writes.push(...outcomes.filter((o) => o.kind === 'write'));
    expectAllUnavailable(outcomes);
    // Refused connections fail without waiting for any timeout to run out.
    for (const outcome of outcomes) {
      expect(outcome.elapsedMs).toBeLessThan(timeouts.connect + 6000);
    }
    const health = await healthOf();
    expect(health.body.checks.mysql).toMatchObject({ status: 'down', reason: 'unreachable' });

    server = await startMariaDb({ dataDir, port, log: () => undefined });
    await expectRecovery();
  });

  it('stored every write at most once, and every confirmed write exactly once', async () => {
    const confirmed = writes.filter((w) => w.result.status === 201);
    const refused = writes.filter((w) => w.result.status === 503);
    expect(confirmed.length + refused.length).toBe(writes.length);
    expect(refused.length).toBeGreaterThan(0);
    const [stored] = await (rows as Pool).query<RowDataPacket[]>(
      `SELECT description, COUNT(*) AS n FROM service_records
        WHERE description LIKE 'outage-write-%' GROUP BY description`,
    );
    const counts = new Map(stored.map((r) => [String(r['description']), Number(r['n'])]));
    for (const write of confirmed) expect(counts.get(write.marker ?? ''), write.marker).toBe(1);
    for (const write of refused) {
      expect(counts.get(write.marker ?? '') ?? 0, write.marker).toBeLessThanOrEqual(1);
    }
    // Nothing was stored that no request asked for.
    const markers = new Set(writes.map((w) => w.marker));
    for (const description of counts.keys()) expect(markers.has(description)).toBe(true);
  });
});
