/**
 * Offline detection against the real stores: batches through the app's processor into the
 * local Cosmos server, equipment in a private MariaDB, and the detector run at chosen
 * instants (never the wall clock). Two detectors running at once raise one alert and make
 * one status change.
 */
import type { ItemDefinition } from '@azure/cosmos';
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { CosmosTelemetryStore } from '../../../lib/telemetry/cosmosStore.js';
import { raiseOffline } from '../../../lib/telemetry/offline.js';
import { presenceRecorder } from '../../../lib/telemetry/offlineDetector.js';
import { useAppCosmos } from '../../helpers/appCosmos.js';
import { appServices, renewAppServices } from '../../helpers/appServices.js';
import { useAppWebPubSub } from '../../helpers/appWebPubSub.js';
import { useTestDatabase } from '../../helpers/database.js';
import { insertEquipment } from '../../helpers/telemetry.js';

const cosmos = useAppCosmos();
useAppWebPubSub();
const db = useTestDatabase();

const minute = 60_000;
const t0 = Date.parse('2026-11-30T08:00:00.000Z');
const sequences = new Map<string, number>();

/** One batch on `partitionId`: a reading of each machine, enqueued at `atMs`. */
async function send(partitionId: string, equipmentIds: readonly string[], atMs: number) {
  const sequenceNumber = sequences.get(partitionId) ?? 0;
  sequences.set(partitionId, sequenceNumber + equipmentIds.length);
  await appServices().telemetryProcessor.processBatch(
    partitionId,
    equipmentIds.map((equipmentId, index) => ({
      body: { equipmentId, timestamp: new Date(atMs).toISOString(), temperature: 60 },
      sequenceNumber: sequenceNumber + index,
      enqueuedTimeMs: atMs,
    })),
  );
}

async function offlineAlerts(equipmentId: string): Promise<ItemDefinition[]> {
  const { resources } = await cosmos.database
    .container('alerts')
    .items.query<ItemDefinition>({
      query: "SELECT * FROM c WHERE c.equipmentId = @id AND c.metric = 'offline'",
      parameters: [{ name: '@id', value: equipmentId }],
    })
    .fetchAll();
  return resources;
}

async function statusOf(id: number): Promise<string> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status FROM equipment WHERE id = ?', [
    id,
  ]);
  return String(rows[0]?.['status']);
}

async function statusEvents(id: number): Promise<unknown[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    "SELECT actor, before_state, after_state FROM change_events WHERE aggregate = 'equipment' AND aggregate_id = ? AND event_type = 'StatusChanged' ORDER BY id",
    [id],
  );
  return rows.map((row): unknown[] => [row['actor'], row['before_state'], row['after_state']]);
}

describe('offline detection', () => {
  it('raises one alert for a silent machine, and clears it when readings return', async () => {
    for (const id of [11, 12, 13, 14, 15]) await insertEquipment(db.pool, id);
    await db.pool.query("UPDATE equipment SET status = 'Retired' WHERE id = 13");
    await db.pool.query("UPDATE equipment SET status = 'Maintenance' WHERE id = 14");
    await db.pool.query('UPDATE equipment SET offline_timeout_minutes = 5 WHERE id = 15');
    // 11 stops on partition 0 but goes on on partition 1; 12 stops everywhere; 13 is
    // retired, 14 in maintenance; 15 has a 5-minute timeout of its own; 16 never sent.
    await send('0', ['11', '12', '13', '14', '15', '99'], t0); // 99 is not registered
    await send('1', ['11', '12'], t0 + minute);
    for (let m = 2; m <= 30; m += 2) await send('1', ['11'], t0 + m * minute);

    const seen = (await appServices().telemetryStore.listPresence()).flatMap(Object.keys);
    expect(new Set(seen)).toEqual(new Set(['11', '12', '13', '14', '15']));

    const detect = appServices().detectOffline;
    // Last seen at 08:00, 14 is offline from 08:17 and 15 from 08:07; 12, last seen at
    // 08:01, from 08:18 (timeout plus two minutes of slack).
    expect(await detect(t0 + 17 * minute + 59_999)).toMatchObject({ raised: 2, failures: [] });
    const reports = await Promise.all([detect(t0 + 18 * minute), detect(t0 + 18 * minute)]);
    expect(reports.map((r) => r.failures)).toEqual([[], []]);
    expect(reports[0].raised + reports[1].raised).toBe(1);

    expect(await offlineAlerts('11')).toEqual([]);
    expect(await offlineAlerts('13')).toEqual([]);
    expect(await offlineAlerts('16')).toEqual([]);
    const [alert12, ...more12] = await offlineAlerts('12');
    expect(more12).toEqual([]);
    expect(alert12).toMatchObject({
      id: '12:offline:2026-11-30T08:01:00.000Z',
      status: 'open',
      raisedAt: '2026-11-30T08:18:00.000Z',
      offline: { lastSeenAt: '2026-11-30T08:01:00.000Z', timeoutMinutes: 15 },
      breach: { metric: 'offline', threshold: 15 },
    });
    expect(await statusOf(12)).toBe('Offline');
    expect(await statusEvents(12)).toEqual([
      ['pipeline', { status: 'Operational' }, { status: 'Offline' }],
    ]);
    const [alert14] = await offlineAlerts('14');
    expect(alert14).toMatchObject({ suppressed: { reason: 'maintenance' } });
    expect(await statusOf(14)).toBe('Maintenance');
    expect(await statusOf(15)).toBe('Offline');

    // Nothing more on later runs.
    expect(await detect(t0 + 40 * minute)).toMatchObject({ raised: 0, backOnline: 0 });
    expect(await offlineAlerts('12')).toHaveLength(1);

    // 12 sends again; a person moved 15 to Maintenance meanwhile: its status stays theirs.
    await db.pool.query("UPDATE equipment SET status = 'Maintenance' WHERE id = 15");
    await send('2', ['12', '15'], t0 + 45 * minute);
    // (11, last seen at 08:30, would be offline from 08:47.)
    const backAt = t0 + 45.5 * minute;
    const back = await Promise.all([detect(backAt), detect(backAt)]);
    expect(back[0].backOnline + back[1].backOnline).toBe(2);
    const [cleared] = await offlineAlerts('12');
    expect(cleared).toMatchObject({
      status: 'resolved',
      resolvedBy: 'pipeline',
      offline: { backOnlineAt: '2026-11-30T08:45:00.000Z' },
    });
    expect((cleared?.['timeline'] as { action: string }[]).map((e) => e.action)).toEqual([
      'raised',
      'resolved',
      'back-online',
    ]);
    expect(await statusOf(12)).toBe('Operational');
    expect(await statusEvents(12)).toHaveLength(2);
    expect(await statusOf(15)).toBe('Maintenance');
  }, 60_000);
});

describe('offline detection under a silence', () => {
  it('mutes the offline alert of a machine whose site is silenced, and still sets Offline', async () => {
    await insertEquipment(db.pool, 31);
    await insertEquipment(db.pool, 32);
    await db.pool.query("UPDATE equipment SET location = 'North pit' WHERE id IN (31, 32)");
    // A planned shutdown of the site from 08:10 to 09:00; a temperature-only silence does not
    // hold offline alerts.
    const [silence] = await db.pool.query<import('mysql2/promise').ResultSetHeader>(
      `INSERT INTO silences (scope, location, starts_at, ends_at, reason, created_by, updated_by)
       VALUES ('location', 'North pit', '2026-11-30 08:10:00', '2026-11-30 09:00:00', 'Shutdown', 'admin-ada', 'admin-ada')`,
    );
    await db.pool.query(
      `INSERT INTO silences (scope, equipment_id, metric, starts_at, ends_at, reason, created_by, updated_by)
       VALUES ('equipment', 32, 'temperature', '2026-11-30 08:00:00', '2026-11-30 12:00:00', 'Sensor swap', 'admin-ada', 'admin-ada')`,
    );
    // A new worker: the registry read by earlier tests did not know 31 and 32 yet.
    await renewAppServices();
    await send('5', ['31'], t0);
    expect(await appServices().detectOffline(t0 + 17 * minute)).toMatchObject({
      raised: 1,
      failures: [],
    });
    const [muted] = await offlineAlerts('31');
    expect(muted).toMatchObject({
      suppressed: { reason: 'silence', silenceId: silence.insertId },
      delivery: { pending: [], withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'] },
    });
    expect(muted).not.toHaveProperty('deliveryPending');
    expect(await statusOf(31)).toBe('Offline');

    // 32 stops after the site's silence ended: its temperature silence holds nothing here.
    await send('5', ['32'], t0 + 50 * minute);
    // (Machines of the tests before go offline at this instant too.)
    expect((await appServices().detectOffline(t0 + 67 * minute)).failures).toEqual([]);
    const [loud] = await offlineAlerts('32');
    expect(loud).not.toHaveProperty('suppressed');
    // Owed (and delivered by the fan-out), not withheld.
    expect(loud?.['delivery']).toMatchObject({ type: 'alert.raised' });
    expect(loud?.['delivery']).not.toHaveProperty('withheld');
  }, 60_000);
});

describe('offline detection after a crash', () => {
  it('sets the status a crashed detector did not, unless a person changed it since', async () => {
    for (const id of [17, 18]) await insertEquipment(db.pool, id);
    const lastSeenMs = t0 + 200 * minute;
    await send('5', ['17', '18'], lastSeenMs);
    // A detector raised their alerts (slot, then alert) and crashed before the status.
    const store: CosmosTelemetryStore = appServices().telemetryStore;
    for (const equipmentId of ['17', '18']) {
      const alert = raiseOffline(undefined, {
        equipmentId,
        lastSeenMs,
        timeoutMinutes: 15,
        statusBefore: 'Operational',
        suppressed: false,
        lastWindowSummary: { readings: 0, metrics: {} },
      });
      if (!alert) throw new Error('expected an alert');
      expect(
        await store.claimAlertSlot(
          equipmentId,
          'offline',
          { alertId: alert.id, opening: alert },
          undefined,
        ),
      ).toBe(true);
      expect(await store.writeAlert(alert, undefined)).toBe(true);
    }
    // Meanwhile a person changed 18's status and changed it back.
    await db.pool.query(
      `INSERT INTO change_events (aggregate, aggregate_id, event_type, actor, occurred_at)
       VALUES ('equipment', 18, 'StatusChanged', 'admin-ada', CURRENT_TIMESTAMP(3))`,
    );

    const runs = await Promise.all([
      appServices().detectOffline(lastSeenMs + 20 * minute),
      appServices().detectOffline(lastSeenMs + 20 * minute),
    ]);
    // (Machines of the test above go offline in these runs too; 17 and 18 are watched.)
    expect(runs.map((r) => r.failures)).toEqual([[], []]);
    expect(await statusOf(17)).toBe('Offline');
    expect(await statusEvents(17)).toEqual([
      ['pipeline', { status: 'Operational' }, { status: 'Offline' }],
    ]);
    expect(await statusOf(18)).toBe('Operational');
    expect(await offlineAlerts('17')).toHaveLength(1);
  }, 60_000);
});

describe('presenceRecorder', () => {
  it('writes a partition’s presence at most once a minute, and at once for a new machine', async () => {
    const store: CosmosTelemetryStore = appServices().telemetryStore;
    const writes: Record<string, number>[] = [];
    const record = presenceRecorder({
      recordPresence: async (partitionId, update) => {
        writes.push(update);
        await store.recordPresence(partitionId, update);
      },
    });
    const m = (n: number) => t0 + 100 * minute + n * minute;
    await record('3', { '21': m(0) });
    await record('3', { '21': m(0) }); // same minute: held
    await record('3', { '22': m(0) }); // a machine new to the process: written at once
    await record('3', { '21': m(0), '22': m(0) });
    await record('3', { '23': m(0) });
    await record('3', {}); // a batch of nothing readable
    await record('3', { '21': m(1) }); // a newer minute: written
    await record('3', { '22': m(1) }); // held...
    await record('3', { '21': m(2) }); // ...and written with the next minute
    expect(writes).toEqual([
      { '21': m(0) },
      { '21': m(0), '22': m(0) },
      { '21': m(0), '22': m(0), '23': m(0) },
      { '21': m(1) },
      { '21': m(2), '22': m(1) },
    ]);
    const [presence] = (await store.listPresence()).filter((p) => '23' in p);
    expect(presence).toEqual({ '21': m(2), '22': m(1), '23': m(0) });
  });
});
