/**
 * The processor against the real `@azure/cosmos` SDK and the local Cosmos server: a stream
 * with known contents gives exactly the expected aggregates, alerts and dead letters, and so
 * does the same stream replayed, redelivered, or interrupted at any write.
 */
import { randomBytes } from 'node:crypto';
import type { Database, ItemDefinition } from '@azure/cosmos';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTelemetryContainers } from '../../../lib/cosmos/client.js';
import { CosmosTelemetryStore, alertSlotType } from '../../../lib/telemetry/cosmosStore.js';
import type { PartitionEvent } from '../../../lib/telemetry/partition.js';
import {
  closeIdleWindows,
  processBatch,
  type ProcessorOptions,
  type TelemetryStore,
} from '../../../lib/telemetry/processor.js';
import { defaultSeverityRules, rulesFor } from '../../../lib/telemetry/severity.js';
import { useTestCosmos } from '../../helpers/cosmos.js';

const cosmos = useTestCosmos();
const databases: Database[] = [];

afterAll(async () => {
  for (const database of databases) await database.delete();
});

const at = (hhmmss: string) => Date.parse(`2026-11-24T${hhmmss}Z`);

function reading(equipmentId: string, time: string, metrics: Record<string, number>) {
  return JSON.stringify({ equipmentId, timestamp: `2026-11-24T${time}Z`, ...metrics });
}

/** The known stream (see each line), with enqueued times close to event times. */
const stream: PartitionEvent[] = [
  [reading('E1', '08:00:10', { temperature: 70 }), '08:00:11'],
  [reading('E2', '08:00:20', { temperature: 92 }), '08:00:21'],
  [reading('E3', '08:00:30', { vibration: 5.5, pressure: 11 }), '08:00:31'],
  [reading('E2', '08:01:00', { temperature: 95 }), '08:01:01'],
  [reading('E1', '08:02:00', { temperature: 72 }), '08:02:01'],
  ['{"equipmentId": "E1", "timestamp": ', '08:02:10'], // malformed
  [reading('E1', '08:02:30', { temperature: 9999 }), '08:02:31'], // invalid: out of bounds
  [reading('E1', '08:20:00', { temperature: 70 }), '08:03:00'], // future: 17 min ahead
  [reading('E2', '08:05:10', { temperature: 85 }), '08:05:11'],
  [reading('E1', '08:04:30', { temperature: 71 }), '08:05:12'], // out of order, within lateness
  [reading('E2', '08:06:30', { temperature: 85 }), '08:06:31'], // watermark passes 08:05
  [reading('E1', '08:03:00', { temperature: 60 }), '08:06:40'], // late: window 08:00 closed
  [reading('E3', '08:11:30', { vibration: 1 }), '08:11:31'], // watermark passes 08:10
].map(([body, enqueued], sequenceNumber) => ({
  body,
  sequenceNumber,
  enqueuedTimeMs: at(enqueued as string),
}));

const batches = [stream.slice(0, 4), stream.slice(4, 8), stream.slice(8, 11), stream.slice(11)];

async function freshDatabase(): Promise<Database> {
  const { database } = await ensureTelemetryContainers(
    cosmos.client,
    `sis_proc_${randomBytes(5).toString('hex')}`,
  );
  databases.push(database);
  return database;
}

function optionsFor(store: TelemetryStore): ProcessorOptions {
  const rules = rulesFor(defaultSeverityRules);
  return {
    store,
    settings: { allowedLatenessMs: 60_000, futureToleranceMs: 300_000 },
    rules: () => Promise.resolve(() => rules),
  };
}

function storeFor(database: Database): CosmosTelemetryStore {
  return new CosmosTelemetryStore(database, {
    aggregateTtlSeconds: 3600,
    deadLetterTtlSeconds: 3600,
  });
}

async function all(database: Database, container: string): Promise<ItemDefinition[]> {
  const { resources } = await database
    .container(container)
    .items.readAll<ItemDefinition>()
    .fetchAll();
  return resources;
}

/** What a run leaves behind, without Cosmos' system properties. */
async function contents(database: Database) {
  const aggregates = (await all(database, 'aggregates'))
    .map((a) => ({ id: a.id, summary: a['summary'] as unknown }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const alerts = (await all(database, 'alerts'))
    .filter((a) => a['type'] !== alertSlotType)
    .map((a) => ({
      id: a.id,
      severity: a['severity'] as unknown,
      occurrences: a['occurrences'] as unknown,
      lastWindowStart: a['lastWindowStart'] as unknown,
      status: a['status'] as unknown,
      breach: a['breach'] as unknown,
    }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const deadLetters = (await all(database, 'deadLetters'))
    .map((d) => ({
      id: d.id,
      reason: d['reason'] as unknown,
      equipmentId: d['equipmentId'] as unknown,
    }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  return { aggregates, alerts, deadLetters };
}

let cleanContents: Awaited<ReturnType<typeof contents>> | undefined;

async function cleanRun() {
  if (!cleanContents) {
    const database = await freshDatabase();
    const options = optionsFor(storeFor(database));
    for (const batch of batches) await processBatch(options, '0', batch);
    cleanContents = await contents(database);
  }
  return cleanContents;
}

describe('processBatch through Cosmos', () => {
  it('turns the known stream into exactly the expected aggregates, alerts and dead letters', async () => {
    const { aggregates, alerts, deadLetters } = await cleanRun();
    expect(aggregates.map((a) => a.id)).toEqual([
      'E1:2026-11-24T08:00:00.000Z',
      'E2:2026-11-24T08:00:00.000Z',
      'E2:2026-11-24T08:05:00.000Z',
      'E3:2026-11-24T08:00:00.000Z',
    ]);
    const summary = (id: string) => aggregates.find((a) => a.id === id)?.summary;
    expect(summary('E1:2026-11-24T08:00:00.000Z')).toEqual({
      readings: 3,
      metrics: { temperature: { count: 3, min: 70, max: 72, mean: 71 } },
    });
    expect(summary('E2:2026-11-24T08:00:00.000Z')).toEqual({
      readings: 2,
      metrics: { temperature: { count: 2, min: 92, max: 95, mean: 93.5 } },
    });
    expect(summary('E2:2026-11-24T08:05:00.000Z')).toEqual({
      readings: 2,
      metrics: { temperature: { count: 2, min: 85, max: 85, mean: 85 } },
    });

    expect(
      alerts.map((a) => [a.id, a.severity, a.occurrences, a.lastWindowStart, a.status]),
    ).toEqual([
      [
        'E2:temperature:2026-11-24T08:00:00.000Z',
        'critical',
        2,
        '2026-11-24T08:05:00.000Z',
        'open',
      ],
      ['E3:pressure:2026-11-24T08:00:00.000Z', 'medium', 1, '2026-11-24T08:00:00.000Z', 'open'],
      ['E3:vibration:2026-11-24T08:00:00.000Z', 'high', 1, '2026-11-24T08:00:00.000Z', 'open'],
    ]);
    // The latest breach is the high one of the second window: storm control never de-escalates.
    expect(alerts[0]?.breach).toMatchObject({ severity: 'high', mean: 85, threshold: 80 });

    expect(deadLetters).toEqual([
      { id: '0:11', reason: 'late', equipmentId: 'E1' },
      { id: '0:5', reason: 'malformed', equipmentId: '(unknown)' },
      { id: '0:6', reason: 'invalid', equipmentId: 'E1' },
      { id: '0:7', reason: 'future', equipmentId: 'E1' },
    ]);
  });

  it('changes nothing when every batch is delivered again, or the whole stream replayed', async () => {
    const database = await freshDatabase();
    const options = optionsFor(storeFor(database));
    for (const batch of batches) {
      await processBatch(options, '0', batch);
      const again = await processBatch(options, '0', batch);
      expect(again.accepted).toBe(false);
    }
    const replay = await processBatch(options, '0', stream);
    expect(replay).toMatchObject({ accepted: false, skippedEvents: stream.length });
    expect(await contents(database)).toEqual(await cleanRun());
  });

  it('gives the clean result however the stream is cut into batches', async () => {
    const database = await freshDatabase();
    const options = optionsFor(storeFor(database));
    for (const event of stream) await processBatch(options, '0', [event]);
    expect(await contents(database)).toEqual(await cleanRun());
  });

  it('never double counts when two instances own the partition at once', async () => {
    const database = await freshDatabase();
    // Separate store instances, as two hosts would have; they race on the state's ETag.
    const first = optionsFor(storeFor(database));
    const second = optionsFor(storeFor(database));
    // Both start from the same checkpoint and are handed overlapping stretches of the stream.
    await Promise.all([
      (async () => {
        for (const batch of batches) await processBatch(first, '0', batch);
      })(),
      (async () => {
        await processBatch(second, '0', stream.slice(0, 6));
        await processBatch(second, '0', stream.slice(6));
      })(),
    ]);
    expect(await contents(database)).toEqual(await cleanRun());
  });

  it('emits nothing from a state the timer read before a batch moved the partition on', async () => {
    const database = await freshDatabase();
    const store = storeFor(database);
    const options = optionsFor(store);
    await processBatch(options, '0', [stream[1] as PartitionEvent]); // E2 08:00:20, 92 °C
    const stale = await store.listStates();
    const cool: PartitionEvent = {
      body: reading('E2', '08:04:00', { temperature: 50 }),
      sequenceNumber: 2,
      enqueuedTimeMs: at('08:04:01'),
    };
    await processBatch(options, '0', [cool]);
    // The timer, holding the state from before the second batch, tries to close 08:00.
    const staleStore: TelemetryStore = {
      readState: (id) => store.readState(id),
      listStates: () => Promise.resolve(stale),
      commitState: (state, etag) => store.commitState(state, etag),
      writePartial: (p) => store.writePartial(p),
      readPartials: (id, ids) => store.readPartials(id, ids),
      writeDeadLetters: (l) => store.writeDeadLetters(l),
      parkBatch: (b) => store.parkBatch(b),
      writeAggregates: (a) => store.writeAggregates(a),
      latestAlert: (e, m) => store.latestAlert(e, m),
      unresolvedAlerts: (ids, regraded) => store.unresolvedAlerts(ids, regraded),
      readAlert: (e, id) => store.readAlert(e, id),
      readAlertSlot: (e, m) => store.readAlertSlot(e, m),
      claimAlertSlot: (e, m, slot, etag) => store.claimAlertSlot(e, m, slot, etag),
      writeAlert: (a, e) => store.writeAlert(a, e),
    };
    const timer = optionsFor(staleStore);
    const result = await closeIdleWindows(timer, at('08:20:00'), 0);
    expect(result.failures).toEqual([]);
    expect(result.windowsClosed).toBe(0);
    expect(await all(database, 'alerts')).toEqual([]);
    expect(await all(database, 'aggregates')).toEqual([]);
    // A fresh tick closes it from the committed state: both readings, mean 71, no alert.
    expect((await closeIdleWindows(options, at('08:20:00'), 0)).windowsClosed).toBe(1);
    expect((await contents(database)).aggregates).toEqual([
      {
        id: 'E2:2026-11-24T08:00:00.000Z',
        summary: {
          readings: 2,
          metrics: { temperature: { count: 2, min: 50, max: 92, mean: 71 } },
        },
      },
    ]);
    expect(await all(database, 'alerts')).toEqual([]);
  });

  it('closes the last window of a quiet partition by the clock', async () => {
    const database = await freshDatabase();
    const options = optionsFor(storeFor(database));
    for (const batch of batches) await processBatch(options, '0', batch);
    const early = await closeIdleWindows(options, at('08:16:29'), 120_000);
    expect(early.windowsClosed).toBe(0);
    // Late enough, but Event Hubs still holds events the partition has not processed.
    const behind = await closeIdleWindows(options, at('08:18:00'), 120_000, () =>
      Promise.resolve(false),
    );
    expect(behind.windowsClosed).toBe(0);
    const due = await closeIdleWindows(options, at('08:18:00'), 120_000);
    expect(due.windowsClosed).toBe(1);
    const ids = (await all(database, 'aggregates')).map((a) => a.id);
    expect(ids).toContain('E3:2026-11-24T08:10:00.000Z');
  });
});

describe('processBatch when the hub starts numbering again', () => {
  /** The stream again, 20 minutes later, numbered from 0 as a recreated hub numbers it. */
  const shiftMs = 20 * 60_000;
  const restamp = (body: unknown) =>
    String(body).replace(/"timestamp":"([^"]+)"/, (_, iso: string) => {
      const ms = Date.parse(iso);
      return `"timestamp":"${Number.isNaN(ms) ? iso : new Date(ms + shiftMs).toISOString()}"`;
    });
  const recreated: PartitionEvent[] = stream.map((e) => ({
    body: restamp(e.body),
    sequenceNumber: e.sequenceNumber,
    enqueuedTimeMs: e.enqueuedTimeMs + shiftMs,
  }));
  const continued = recreated.map((e) => ({ ...e, sequenceNumber: e.sequenceNumber + 100 }));

  it('counts the new epoch as if the numbering had gone on, and keeps both epochs’ documents', async () => {
    const restarted = await freshDatabase();
    const reference = await freshDatabase();
    const options = optionsFor(storeFor(restarted));
    for (const batch of batches) await processBatch(options, '0', batch);
    const outcomes = [];
    for (const batch of [recreated.slice(0, 5), recreated.slice(5)])
      outcomes.push(await processBatch(options, '0', batch));
    expect(outcomes.map((o) => o.epochsStarted.map((c) => c.epoch))).toEqual([[1], []]);
    // Redelivered: nothing changes.
    const before = await contents(restarted);
    expect((await processBatch(options, '0', recreated)).accepted).toBe(false);
    expect(await contents(restarted)).toEqual(before);

    const referenceOptions = optionsFor(storeFor(reference));
    for (const batch of batches) await processBatch(referenceOptions, '0', batch);
    await processBatch(referenceOptions, '0', continued);
    const got = await contents(restarted);
    const expected = await contents(reference);
    expect(got.aggregates).toEqual(expected.aggregates);
    expect(got.alerts).toEqual(expected.alerts);
    // Each epoch's dead letters under their own ids: `0:5` and `0:e1:5` both exist.
    expect(got.deadLetters.map((d) => d.id)).toEqual(
      [
        ...(await cleanRun()).deadLetters.map((d) => d.id),
        '0:e1:11',
        '0:e1:5',
        '0:e1:6',
        '0:e1:7',
      ].sort(),
    );
    const { state } = await storeFor(restarted).readState('0');
    expect(state).toMatchObject({ epoch: 1, lastSequenceNumber: stream.length - 1 });
    expect(state?.epochs).toEqual([
      {
        epoch: 1,
        startedAt: new Date(at('08:00:11') + shiftMs).toISOString(),
        firstSequenceNumber: 0,
        previousLastSequenceNumber: stream.length - 1,
        previousLastEnqueuedTime: new Date(at('08:11:31')).toISOString(),
      },
    ]);
  });

  it('reads a state document written before epochs existed', async () => {
    const database = await freshDatabase();
    const options = optionsFor(storeFor(database));
    await processBatch(options, '0', batches[0] ?? []);
    // Strip the epoch fields, as a document from the previous release has none.
    const container = database.container('pipelineState');
    const { resource } = await container.item('state', 'partition:0').read<ItemDefinition>();
    if (!resource) throw new Error('no state');
    const { epoch: _e, lastEnqueuedTimeMs: _t, epochs: _h, ...legacy } = resource;
    await container.item('state', 'partition:0').replace(legacy);
    for (const batch of batches.slice(1)) await processBatch(options, '0', batch);
    expect(await contents(database)).toEqual(await cleanRun());
    expect((await storeFor(database).readState('0')).state).toMatchObject({
      epoch: 0,
      epochs: [],
      lastEnqueuedTimeMs: at('08:11:31'),
    });
  });
});

describe('processBatch with a registry of equipment', () => {
  it('dead-letters unregistered readings, and fails the batch untouched when the registry cannot answer', async () => {
    const database = await freshDatabase();
    const store = storeFor(database);
    const down: ProcessorOptions = {
      ...optionsFor(store),
      registry: () => Promise.reject(new Error('connect ECONNREFUSED')),
    };
    await expect(processBatch(down, '0', stream)).rejects.toThrow('ECONNREFUSED');
    expect(await contents(database)).toEqual({ aggregates: [], alerts: [], deadLetters: [] });
    expect((await store.readState('0')).state).toBeUndefined();

    const asked: string[][] = [];
    const up: ProcessorOptions = {
      ...optionsFor(store),
      registry: (ids) => {
        asked.push([...ids]);
        return Promise.resolve((id) => id !== 'E2');
      },
    };
    for (const batch of batches) await processBatch(up, '0', batch);
    expect(asked[0]).toEqual(['E1', 'E2', 'E3']);
    const { aggregates, alerts, deadLetters } = await contents(database);
    expect(aggregates.map((a) => a.id)).toEqual([
      'E1:2026-11-24T08:00:00.000Z',
      'E3:2026-11-24T08:00:00.000Z',
    ]);
    expect(alerts.map((a) => a.id)).toEqual([
      'E3:pressure:2026-11-24T08:00:00.000Z',
      'E3:vibration:2026-11-24T08:00:00.000Z',
    ]);
    expect(deadLetters.filter((d) => d.reason === 'unregistered')).toEqual(
      ['0:1', '0:10', '0:3', '0:8'].map((id) => ({
        id,
        reason: 'unregistered',
        equipmentId: 'E2',
      })),
    );
  });
});

/** Thrown by the fault-injecting store: the process died at this write. */
class Crash extends Error {}

/**
 * The real store, made to die at its Nth write: before it (nothing written) or right after it
 * (written, but the process never learned).
 */
function crashingStore(
  inner: TelemetryStore,
  crashAt: number,
  when: 'before' | 'after',
  counter = { writes: 0 },
): TelemetryStore {
  const write =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const write = ++counter.writes;
      if (write === crashAt && when === 'before') throw new Crash();
      const result = await fn(...args);
      if (write === crashAt) throw new Crash();
      return result;
    };
  return {
    readState: (id) => inner.readState(id),
    listStates: () => inner.listStates(),
    readPartials: (id, ids) => inner.readPartials(id, ids),
    latestAlert: (e, m) => inner.latestAlert(e, m),
    unresolvedAlerts: (ids, regraded) => inner.unresolvedAlerts(ids, regraded),
    readAlert: (e, id) => inner.readAlert(e, id),
    readAlertSlot: (e, m) => inner.readAlertSlot(e, m),
    claimAlertSlot: write((e, m, slot, etag) => inner.claimAlertSlot(e, m, slot, etag)),
    commitState: write((s, e) => inner.commitState(s, e)),
    writePartial: write((p) => inner.writePartial(p)),
    writeDeadLetters: write((l) => inner.writeDeadLetters(l)),
    parkBatch: write((b) => inner.parkBatch(b)),
    writeAggregates: write((a) => inner.writeAggregates(a)),
    writeAlert: write((a, e) => inner.writeAlert(a, e)),
  };
}

const crashPoints = 22;

describe('crash at any write', () => {
  it('covers every write of a clean pass with a crash point', async () => {
    const database = await freshDatabase();
    const counter = { writes: 0 };
    const options = optionsFor(
      crashingStore(storeFor(database), Number.MAX_SAFE_INTEGER, 'before', counter),
    );
    for (const batch of batches) await processBatch(options, '0', batch);
    expect(counter.writes).toBeGreaterThan(10);
    expect(counter.writes).toBeLessThanOrEqual(crashPoints);
  });

  // Crash at each write, before and after it lands.
  const points = Array.from({ length: crashPoints }, (_, i) => i + 1).flatMap((n) => [
    [n, 'before'] as const,
    [n, 'after'] as const,
  ]);

  it.each(points)(
    'redelivery after a crash at write %i (%s) gives the clean result',
    async (crashAt, when) => {
      const database = await freshDatabase();
      const faulty = optionsFor(crashingStore(storeFor(database), crashAt, when));
      const healthy = optionsFor(storeFor(database));
      let crashed = false;
      for (const batch of batches) {
        try {
          await processBatch(crashed ? healthy : faulty, '0', batch);
        } catch (error) {
          if (!(error instanceof Crash)) throw error;
          crashed = true;
          // The host had not checkpointed this batch: a new instance gets it again.
          await processBatch(healthy, '0', batch);
        }
      }
      expect(await contents(database)).toEqual(await cleanRun());
    },
  );
});

describe('hysteresis: clearing and flapping, interrupted at any write', () => {
  /** One batch per line: each reading closes the window before its own (lateness 60 s). */
  const flapping: PartitionEvent[][] = [
    ['08:00:30', 85], // window 08:00: high
    ['08:06:30', 65], // closes 08:00: raised
    ['08:11:30', 65], // closes 08:05 (65): first normal window
    ['08:16:30', 78], // closes 08:10 (65): second → cleared at 08:15
    ['08:21:30', 65], // closes 08:15 (78, medium): a breach right after clearing → reopened
    ['08:26:30', 72], // closes 08:20 (65): first normal window
    ['08:31:30', 65], // closes 08:25 (72, between clear 70 and medium 75): the count restarts
    ['08:36:30', 65], // closes 08:30 (65): first normal window
    ['08:41:30', 65], // closes 08:35 (65): second → cleared again at 08:40
  ].map(([time, temperature], sequenceNumber) => [
    {
      body: reading('E9', time as string, { temperature: temperature as number }),
      sequenceNumber,
      enqueuedTimeMs: at(time as string) + 1000,
    },
  ]);

  /** Every alert document's own fields (not Cosmos's), slots included. */
  async function alertDocuments(database: Database) {
    return (await all(database, 'alerts'))
      .map((document) =>
        Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('_'))),
      )
      .sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
  }

  let clean: Awaited<ReturnType<typeof alertDocuments>> | undefined;
  let cleanWrites = 0;
  async function cleanFlapping() {
    if (!clean) {
      const database = await freshDatabase();
      const counter = { writes: 0 };
      const options = optionsFor(
        crashingStore(storeFor(database), Number.MAX_SAFE_INTEGER, 'before', counter),
      );
      for (const batch of flapping) await processBatch(options, '0', batch);
      clean = await alertDocuments(database);
      cleanWrites = counter.writes;
    }
    return clean;
  }

  it('clears after two normal windows, reopens the same alert on a flap, and clears again', async () => {
    const documents = await cleanFlapping();
    const alerts = documents.filter((d) => d['type'] !== alertSlotType);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      id: 'E9:temperature:2026-11-24T08:00:00.000Z',
      status: 'cleared',
      flapCount: 1,
      severity: 'high',
      occurrences: 2,
      lastWindowStart: '2026-11-24T08:15:00.000Z',
      clearedWindowStart: '2026-11-24T08:35:00.000Z',
      clearedAt: '2026-11-24T08:40:00.000Z',
    });
    expect(alerts[0]?.['normalStreak']).toBeUndefined();
    const timeline = alerts[0]?.['timeline'] as { action: string; at: string; to?: string }[];
    expect(timeline.map((e) => [e.action, e.at, e.to])).toEqual([
      ['raised', '2026-11-24T08:05:00.000Z', 'high'],
      ['cleared', '2026-11-24T08:15:00.000Z', undefined],
      ['reopened', '2026-11-24T08:20:00.000Z', '1'],
      ['cleared', '2026-11-24T08:40:00.000Z', undefined],
    ]);
  });

  it('writes the same documents when a batch is redelivered after a crash at any write', async () => {
    const expected = await cleanFlapping();
    expect(cleanWrites).toBeGreaterThan(20);
    for (let crashAt = 1; crashAt <= cleanWrites; crashAt++) {
      const database = await freshDatabase();
      const faulty = optionsFor(crashingStore(storeFor(database), crashAt, 'after'));
      const healthy = optionsFor(storeFor(database));
      let crashed = false;
      for (const batch of flapping) {
        try {
          await processBatch(crashed ? healthy : faulty, '0', batch);
        } catch (error) {
          if (!(error instanceof Crash)) throw error;
          crashed = true;
          await processBatch(healthy, '0', batch);
        }
      }
      expect(crashed, `crash at write ${crashAt}`).toBe(true);
      expect(await alertDocuments(database), `crash after write ${crashAt}`).toEqual(expected);
    }
  }, 300_000);
});
