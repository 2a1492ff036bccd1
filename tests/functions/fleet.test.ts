/**
 * GET /api/fleet over the real stores: equipment in a private MariaDB (through the shared
 * fleet cache on the test run's Redis), readings through the app's processor into the local
 * Cosmos server (whose presence documents give `lastReadingAt`), and the offline detector
 * run at chosen instants. A technician sees their assigned machines only; every write,
 * the detector's status change included, is in the next read.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fleetColumns, fleetSchema, type Fleet } from '../../lib/api/fleet.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { appServices } from '../helpers/appServices.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { adminFixtures } from '../helpers/fixtures.js';
import { expectParameterProblem, expectProblem } from '../helpers/problems.js';

useAppCosmos();
useAppWebPubSub();
useTestDatabase();
const issuer = useTestIssuer();
const tokens = { admin: '', technician: '', stranger: '' };
const { createEquipment, createTechnician } = adminFixtures(tokens);

const minute = 60_000;
const t0 = Date.parse('2026-11-30T08:00:00.000Z');

/** The fleet as `token` reads it, checked against its schema; rows by id. */
async function fleet(token: string, query = ''): Promise<Map<number, Fleet['rows'][number]>> {
  const result = await call('GET', `/api/fleet${query}`, { token });
  expect(result.status, result.text.slice(0, 300)).toBe(200);
  const parsed = fleetSchema.parse(result.body);
  expect(parsed.columns).toEqual(fleetColumns);
  return new Map(parsed.rows.map((row) => [row[0], row]));
}

let mine: number;
let theirs: number;

beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-fleet');
  tokens.technician = await issuer.token(['Technician'], 'tech-fleet');
  tokens.stranger = await issuer.token(['Technician'], 'tech-unknown');
  mine = (await createEquipment({ name: 'Mine', location: 'North', serialNumber: 'F-1' })).id;
  theirs = (await createEquipment({ name: 'Theirs', location: 'South', serialNumber: 'F-2' })).id;
  const technician = await createTechnician({ externalId: 'tech-fleet' });
  const assigned = await call('PUT', `/api/equipment/${mine}/technicians/${technician.id}`, {
    token: tokens.admin,
  });
  expect(assigned.status, assigned.text).toBeLessThan(300);
});

describe('GET /api/fleet', () => {
  it('gives an admin every machine, compact, and a technician only their assigned ones', async () => {
    const all = await fleet(tokens.admin);
    expect(all.get(mine)).toEqual([mine, 'Mine', 'excavator', 'North', 'F-1', 'Operational', null]);
    expect(all.get(theirs)?.[1]).toBe('Theirs');
    expect([...(await fleet(tokens.technician)).keys()]).toEqual([mine]);
    // A technician without a record (or assignments) sees nothing, not everything.
    expect((await fleet(tokens.stranger)).size).toBe(0);
  });

  it('filters by status, type and location', async () => {
    expect([...(await fleet(tokens.admin, '?location=South')).keys()]).toEqual([theirs]);
    expect((await fleet(tokens.admin, '?status=Retired')).size).toBe(0);
    expect((await fleet(tokens.admin, '?type=excavator&status=Operational')).size).toBe(2);
  });

  it('refuses bad query input with a 400 naming the parameter', async () => {
    expectParameterProblem(
      await call('GET', '/api/fleet?status=Broken', { token: tokens.admin }),
      'status',
    );
    expectParameterProblem(
      await call('GET', '/api/fleet?limit=5', { token: tokens.admin }),
      'limit',
    );
    expectProblem(
      await call('GET', '/api/fleet?location=a&location=b', { token: tokens.admin }),
      400,
    );
  });

  it('answers 401 without a valid token', async () => {
    const anonymous = await call('GET', '/api/fleet');
    expectProblem(anonymous, 401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectProblem(
      await call('GET', '/api/fleet', { token: await issuer.foreignToken(['Admin']) }),
      401,
    );
  });

  it('is current after every write through the API', async () => {
    expect((await fleet(tokens.admin)).get(theirs)?.[3]).toBe('South'); // cached now
    const created = await createEquipment({ name: 'New', location: 'East' });
    expect((await fleet(tokens.admin)).get(created.id)?.[1]).toBe('New');
    const replaced = await call('PUT', `/api/equipment/${created.id}`, {
      token: tokens.admin,
      json: { name: 'Renamed', type: 'loader', status: 'Maintenance' },
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status, replaced.text).toBe(200);
    expect((await fleet(tokens.admin)).get(created.id)).toEqual([
      created.id,
      'Renamed',
      'loader',
      null,
      null,
      'Maintenance',
      null,
    ]);
    const removed = await call('DELETE', `/api/equipment/${created.id}`, {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(removed.status).toBe(204);
    expect((await fleet(tokens.admin)).has(created.id)).toBe(false);
  });

  it('gives lastReadingAt once readings passed the pipeline, and the detector’s status change at once', async () => {
    // Readings of `mine` on two partitions: the newest minute of either is its last reading.
    const send = (partitionId: string, atMs: number, sequenceNumber: number) =>
      appServices().telemetryProcessor.processBatch(partitionId, [
        {
          body: {
            equipmentId: String(mine),
            timestamp: new Date(atMs).toISOString(),
            pressure: 40,
          },
          sequenceNumber,
          enqueuedTimeMs: atMs,
        },
      ]);
    await send('0', t0 + 30_000, 0);
    await send('1', t0 + 3 * minute + 45_000, 0);
    const read = await fleet(tokens.technician);
    expect(read.get(mine)?.[6]).toBe('2026-11-30T08:03:00.000Z');
    expect((await fleet(tokens.admin)).get(theirs)?.[6]).toBeNull();

    // Silent past its timeout, the detector sets it Offline; the next read says so, in the
    // fleet and in the single read (both cached before the change).
    expect(
      (await call('GET', `/api/equipment/${mine}`, { token: tokens.admin })).body,
    ).toMatchObject({ status: 'Operational' });
    const report = await appServices().detectOffline(t0 + 30 * minute);
    expect(report).toMatchObject({ raised: 1, failures: [] });
    expect((await fleet(tokens.technician)).get(mine)?.[5]).toBe('Offline');
    const single = await call('GET', `/api/equipment/${mine}`, { token: tokens.admin });
    expect(single.body).toMatchObject({ status: 'Offline' });
  });
});
