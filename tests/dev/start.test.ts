/**
 * `npm start` end to end: the real local host as a child process (run from source with tsx,
 * since a build is not guaranteed), against a fresh database on the test server, over real
 * HTTP. Stopped with SIGINT and started again on the same data.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadDevIssuer } from '../../dev/issuer.js';
import { onTestServer } from '../helpers/database.js';
import { allLocalEnv, startLocalHost, type RunningHost } from '../helpers/localHost.js';
import { unusedPort } from '../../dev/ports.js';

const startupLimitMs = 60_000;
const stopLimitMs = 30_000;

type Running = RunningHost;

/** Every host started here, stopped after the file's tests whatever became of them. */
const hosts: RunningHost[] = [];
let dataDir: string;
let databaseName: string;
let databaseUrl: string;
let azuritePorts: string;

/** Starts `dev/start.ts` with every service local, on free ports. */
async function startHost(): Promise<Running> {
  const host = await startLocalHost(
    allLocalEnv({ dataDir, mysqlUrl: databaseUrl, azuritePorts }),
    startupLimitMs,
  );
  hosts.push(host);
  return host;
}

/** Sends SIGINT and resolves with the exit code, failing when the process does not stop. */
async function interrupt(running: Running): Promise<number | null> {
  running.child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`No exit within ${stopLimitMs} ms of SIGINT:\n${running.output()}`));
    }, stopLimitMs);
  });
  try {
    return await Promise.race([running.exited, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function allEquipment(base: string, token: string): Promise<{ id: number }[]> {
  const items: { id: number }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await fetch(`${base}/api/equipment?limit=50${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: { id: number }[]; nextCursor: string | null };
    expect(body.items.length).toBeLessThanOrEqual(50);
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error('paging did not end');
}

let first: Running;
let adminToken: string;
let createdId: number;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-start-'));
  databaseName = `sis_test_start_${randomBytes(6).toString('hex')}`;
  await onTestServer((c) =>
    c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [databaseName]),
  );
  databaseUrl = `${inject('mysqlServerUrl')}${databaseName}`;
  azuritePorts = [await unusedPort(), await unusedPort(), await unusedPort()].join(',');
  first = await startHost();
  const issuer = await loadDevIssuer(join(dataDir, 'dev-issuer'));
  adminToken = await issuer.sign({ sub: 'start-test-admin', roles: ['Admin'] }, '10m');
});

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  if (databaseName)
    await onTestServer((c) => c.query('DROP DATABASE IF EXISTS ??', [databaseName]));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (dev/start.ts)', () => {
  it('prints what runs where and seeds the empty database', () => {
    const output = first.output();
    expect(output).toContain('Applied migrations: 1');
    expect(output).toContain('Seeded demo data');
    expect(output).toContain(`${first.base}/api/health`);
    // It names the database it uses.
    expect(output).toContain(databaseName);
  });

  it('runs the Communication Services stand-in and names where to see what was sent', async () => {
    const listing = /what was sent: (http:\/\/127\.0\.0\.1:\d+\/_standin\/messages)/.exec(
      first.output(),
    );
    expect(listing, first.output()).not.toBeNull();
    expect(first.output()).toContain('from DoNotReply@sis.example.com and +15555550100');
    const response = await fetch(listing?.[1] ?? '');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ emails: [], sms: [] });
  });

  it('answers /api/health over real HTTP', async () => {
    const response = await fetch(`${first.base}/api/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; checks: Record<string, unknown> };
    expect(body.status).toBe('healthy');
    expect(body.checks['mysql']).toMatchObject({ status: 'up' });
    expect(JSON.stringify(body)).not.toContain(databaseName);
  });

  it('serves the dev issuer JWKS without the private key', async () => {
    const response = await fetch(`${first.base}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    const issuer = await loadDevIssuer(join(dataDir, 'dev-issuer'));
    expect(jwks).toEqual(issuer.jwks);
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', alg: 'ES256' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('refuses the API without a token', async () => {
    const response = await fetch(`${first.base}/api/equipment`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('refuses a token from another issuer key', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'sis-start-other-'));
    try {
      const other = await loadDevIssuer(otherDir);
      const token = await other.sign({ sub: 'start-test-admin', roles: ['Admin'] });
      const response = await fetch(`${first.base}/api/equipment`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(401);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('lists the 200 seeded pieces of equipment across pages', async () => {
    const items = await allEquipment(first.base, adminToken);
    expect(items.map((item) => item.id)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('creates a row', async () => {
    const response = await fetch(`${first.base}/api/equipment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        serialNumber: 'START-TEST-0001',
        name: 'Survives a restart',
        type: 'crane',
        status: 'Operational',
      }),
    });
    expect(response.status).toBe(201);
    createdId = ((await response.json()) as { id: number }).id;
    expect(createdId).toBeGreaterThan(200);
  });

  it(
    'stops cleanly on SIGINT and keeps its data across a restart',
    { timeout: 120_000 },
    async () => {
      expect(createdId).toBeGreaterThan(0);
      expect(await interrupt(first)).toBe(0);
      expect(first.output()).toContain('Stopped.');
      await expect(fetch(`${first.base}/api/health`)).rejects.toThrow();

      const second = await startHost();
      try {
        expect(second.output()).toContain('Schema is up to date.');
        expect(second.output()).not.toContain('Seeded demo data');
        const items = await allEquipment(second.base, adminToken);
        expect(items).toHaveLength(201);
        const created = await fetch(`${second.base}/api/equipment/${createdId}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        expect(created.status).toBe(200);
        expect(await created.json()).toMatchObject({
          id: createdId,
          serialNumber: 'START-TEST-0001',
          name: 'Survives a restart',
        });
      } finally {
        expect(await interrupt(second)).toBe(0);
      }
    },
  );
});
