/**
 * The fleet at 10,000 machines, end to end through the route: rows in a private MariaDB,
 * presence documents in the local Cosmos server (as the pipeline writes them, one per
 * partition), the fleet cache on the test run's Redis. The answer's size is checked (bytes
 * are deterministic); its time is measured and printed, never asserted.
 */
import { describe, expect, it } from 'vitest';
import { fleetSchema, latestReadings } from '../../../lib/api/fleet.js';
import { call } from '../../helpers/api.js';
import { useAppCosmos } from '../../helpers/appCosmos.js';
import { appServices } from '../../helpers/appServices.js';
import { useTestIssuer } from '../../helpers/auth.js';
import { useTestDatabase } from '../../helpers/database.js';
import { insertEquipmentRows } from '../../helpers/fixtures.js';

useAppCosmos();
const db = useTestDatabase();
const issuer = useTestIssuer();

const machines = 10_000;
const t0 = Date.parse('2026-11-30T08:00:00.000Z');

describe('latestReadings', () => {
  it('takes the newest minute of each machine over every partition', () => {
    const latest = latestReadings([{ '1': t0, '2': t0 + 60_000 }, { '1': t0 + 120_000 }, {}]);
    expect(Object.fromEntries(latest)).toEqual({ '1': t0 + 120_000, '2': t0 + 60_000 });
  });
});

describe(`GET /api/fleet with ${machines} machines`, () => {
  it('answers every machine in one compact response, with its last reading', async () => {
    const ids = await insertEquipmentRows(db.pool, machines);
    // Presence as four partitions hold it: each machine on one, every other one silent.
    const store = appServices().telemetryStore;
    for (let partition = 0; partition < 4; partition++) {
      const presence: Record<string, number> = {};
      ids.forEach((id, index) => {
        if (index % 4 === partition && index % 2 === 0) presence[String(id)] = t0 + index * 1000;
      });
      await store.recordPresence(String(partition), presence);
    }
    const token = await issuer.token(['Admin'], 'admin-fleet-bench');
    const timed = async () => {
      const started = performance.now();
      const result = await call('GET', '/api/fleet', { token });
      return { result, ms: performance.now() - started };
    };
    const cold = await timed(); // loads MySQL, stores the copy in Redis
    const warm = await timed(); // from memory
    expect(cold.result.status).toBe(200);
    expect(warm.result.text).toBe(cold.result.text);
    const fleet = fleetSchema.parse(cold.result.body);
    expect(fleet.rows.map(([id]) => id)).toEqual(ids);
    expect(fleet.rows[0]?.[6]).toBe('2026-11-30T08:00:00.000Z');
    expect(fleet.rows[1]?.[6]).toBeNull();
    const bytes = Buffer.byteLength(cold.result.text);
    // About 77 bytes a machine with these names; objects with keys would be about 150.
    expect(bytes).toBeLessThan(machines * 100);
    console.info(
      `[fleet] ${machines} machines: ${(bytes / 1e6).toFixed(2)} MB of JSON; ` +
        `${cold.ms.toFixed(0)} ms from MySQL, ${warm.ms.toFixed(0)} ms from the cache`,
    );
  }, 60_000);
});
