/**
 * One equipment's readings on several Event Hubs partitions, and several instances writing
 * alerts at once, through the real `@azure/cosmos` SDK and the local Cosmos server: one
 * aggregate per window, equal to one partition's pass, and never two open alerts.
 */
import type { Database, ItemDefinition } from '@azure/cosmos';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertSlotId, type Alert } from '../../../lib/telemetry/alerts.js';
import { CosmosTelemetryStore, alertSlotType } from '../../../lib/telemetry/cosmosStore.js';
import type { PartitionEvent } from '../../../lib/telemetry/partition.js';
import {
  closeIdleWindows,
  processBatch,
  type ProcessorOptions,
  type TelemetryStore,
} from '../../../lib/telemetry/processor.js';
import { defaultSeverityRules, rulesFor } from '../../../lib/telemetry/severity.js';
import { windowSizeMs } from '../../../lib/telemetry/window.js';
import { equipmentTelemetry } from '../../../lib/telemetry/queries.js';
import { useTestCosmos } from '../../helpers/cosmos.js';

const cosmos = useTestCosmos();

const at = (hhmmss: string) => Date.parse(`2026-11-24T${hhmmss}Z`);

function event(
  sequenceNumber: number,
  equipmentId: string,
  timestampMs: number,
  temperature: number,
): PartitionEvent {
  return {
    body: JSON.stringify({ equipmentId, timestamp: timestampMs, temperature }),
    sequenceNumber,
    enqueuedTimeMs: timestampMs,
  };
}

/** Every method of `inner`, with `listStates` limited to `partitionIds` (one run's own). */
function scopedStore(inner: TelemetryStore, partitionIds: readonly string[]): TelemetryStore {
  return {
    readState: (id) => inner.readState(id),
    listStates: async () =>
      (await inner.listStates()).filter((s) => partitionIds.includes(s.state.partitionId)),
    commitState: (state, etag) => inner.commitState(state, etag),
    writePartial: (p) => inner.writePartial(p),
    readPartials: (id, ids) => inner.readPartials(id, ids),
    writeDeadLetters: (l) => inner.writeDeadLetters(l),
    parkBatch: (b) => inner.parkBatch(b),
    writeAggregates: (c) => inner.writeAggregates(c),
    latestAlert: (e, m) => inner.latestAlert(e, m),
    unresolvedAlerts: (ids, regraded) => inner.unresolvedAlerts(ids, regraded),
    readAlert: (e, id) => inner.readAlert(e, id),
    readAlertSlot: (e, m) => inner.readAlertSlot(e, m),
    claimAlertSlot: (e, m, slot, etag) => inner.claimAlertSlot(e, m, slot, etag),
    writeAlert: (a, e) => inner.writeAlert(a, e),
  };
}

function storeFor(database: Database): CosmosTelemetryStore {
  return new CosmosTelemetryStore(database, {
    aggregateTtlSeconds: 3600,
    deadLetterTtlSeconds: 3600,
  });
}

function optionsFor(store: TelemetryStore, allowedLatenessMs = 60_000): ProcessorOptions {
  const rules = rulesFor(defaultSeverityRules);
  return {
    store,
    settings: { allowedLatenessMs, futureToleranceMs: 300_000 },
    rules: () => Promise.resolve(() => rules),
  };
}

async function documentsOf(database: Database, container: string, equipmentId: string) {
  const { resources } = await database
    .container(container)
    .items.query<ItemDefinition>({
      query: 'SELECT * FROM c WHERE c.equipmentId = @equipmentId',
      parameters: [{ name: '@equipmentId', value: equipmentId }],
    })
    .fetchAll();
  return resources.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** An equipment's aggregates and alerts, with its id taken out so two runs compare. */
async function outcome(database: Database, equipmentId: string) {
  const strip = (id: string | undefined) => String(id).slice(equipmentId.length);
  const aggregates = (await documentsOf(database, 'aggregates', equipmentId)).map((a) => ({
    id: strip(a.id),
    summary: a['summary'] as unknown,
    stats: a['stats'] as unknown,
  }));
  const documents = await documentsOf(database, 'alerts', equipmentId);
  const alerts = documents
    .filter((a) => a['type'] !== alertSlotType)
    .map((a) => a as unknown as Alert);
  return {
    aggregates,
    slots: documents.filter((a) => a['type'] === alertSlotType).length,
    alerts: alerts.map((a) => ({
      id: strip(a.id),
      severity: a.severity,
      occurrences: a.occurrences,
      firstWindowStart: a.firstWindowStart,
      lastWindowStart: a.lastWindowStart,
      status: a.status,
      withdrawn: a.withdrawn ?? false,
      breach: a.breach,
      window: a.window,
    })),
  };
}

const windowStart = at('08:00:00');

describe('one equipment on two partitions', () => {
  it('merges both partitions into one aggregate, and a redo writes nothing', async () => {
    const store = storeFor(cosmos.database);
    const options = optionsFor(store);
    // 70 on partition a, 90 on b: 80 is exactly on the high threshold, so neither half alone
    // is graded like the whole (a: none, b: high), and the whole is medium (> 75).
    await processBatch(options, 'two-a', [
      event(0, 'TWO', at('08:01:00'), 70),
      event(1, 'TWO', at('08:06:30'), 20),
    ]);
    await processBatch(options, 'two-b', [
      event(0, 'TWO', at('08:02:00'), 90),
      event(1, 'TWO', at('08:06:30'), 20),
    ]);
    const [aggregate] = await documentsOf(cosmos.database, 'aggregates', 'TWO');
    expect(aggregate).toMatchObject({
      id: 'TWO:2026-11-24T08:00:00.000Z',
      windowStart: '2026-11-24T08:00:00.000Z',
      windowEnd: '2026-11-24T08:05:00.000Z',
      partitionId: 'two-a',
      summary: { readings: 2, metrics: { temperature: { count: 2, min: 70, max: 90, mean: 80 } } },
      contributions: {
        'two-a': { readings: 1, temperature: { count: 1, min: 70, max: 70, sumScaled: 700_000 } },
        'two-b': { readings: 1, temperature: { count: 1, min: 90, max: 90, sumScaled: 900_000 } },
      },
    });
    const { alerts } = await outcome(cosmos.database, 'TWO');
    expect(alerts).toMatchObject([
      { id: ':temperature:2026-11-24T08:00:00.000Z', severity: 'medium', occurrences: 1 },
    ]);

    // Re-emitting a contribution the aggregate holds writes nothing.
    const before = aggregate?._etag;
    const merged = await store.writeAggregates([
      {
        equipmentId: 'TWO',
        windowStart,
        partitionId: 'two-a',
        key: 'two-a',
        stats: { readings: 1, temperature: { count: 1, min: 70, max: 70, sumScaled: 700_000 } },
      },
    ]);
    expect(merged[0]?.summary).toEqual(aggregate?.['summary']);
    const [after] = await documentsOf(cosmos.database, 'aggregates', 'TWO');
    expect(after?._etag).toBe(before);
  });

  it('withdraws an alert raised from one partition when the merged window no longer breaches', async () => {
    const options = optionsFor(storeFor(cosmos.database));
    await processBatch(options, 'wd-a', [
      event(0, 'WD', at('08:01:00'), 95),
      event(1, 'WD', at('08:06:30'), 20),
    ]);
    expect((await outcome(cosmos.database, 'WD')).alerts).toMatchObject([
      { status: 'open', severity: 'critical', withdrawn: false },
    ]);
    await processBatch(options, 'wd-b', [
      event(0, 'WD', at('08:02:00'), 40),
      event(1, 'WD', at('08:06:30'), 20),
    ]);
    const { alerts } = await outcome(cosmos.database, 'WD');
    expect(alerts).toMatchObject([
      {
        id: ':temperature:2026-11-24T08:00:00.000Z',
        status: 'resolved',
        withdrawn: true,
        occurrences: 1,
        window: { summary: { readings: 2, metrics: { temperature: { mean: 67.5 } } } },
      },
    ]);
    // The next breaching window opens a new alert, as on one partition.
    await processBatch(options, 'wd-a', [
      event(2, 'WD', at('08:10:00'), 95),
      event(3, 'WD', at('08:16:30'), 20),
    ]);
    const next = (await outcome(cosmos.database, 'WD')).alerts;
    expect(next.map((a) => [a.id, a.status])).toEqual([
      [':temperature:2026-11-24T08:00:00.000Z', 'resolved'],
      [':temperature:2026-11-24T08:10:00.000Z', 'open'],
    ]);
  });

  it('shows the newest reading by time, whichever partition and sequence numbers hold it', async () => {
    const options = optionsFor(storeFor(cosmos.database));
    // Partition a has sent many batches (high sequence numbers) with older readings; the
    // newest reading came on partition b, whose numbers are low.
    for (let batch = 0; batch < 6; batch++) {
      await processBatch(options, 'newest-a', [
        event(1000 + batch, 'NEWEST', at(`09:0${batch}:00`), 60 + batch),
      ]);
    }
    await processBatch(options, 'newest-b', [event(3, 'NEWEST', at('09:07:00'), 99)]);
    const view = await equipmentTelemetry(cosmos.database, 'NEWEST', {
      from: new Date(at('08:00:00')),
      to: new Date(at('10:00:00')),
    });
    expect(view.latest).toMatchObject({ temperature: 99 });
  });

  it('shows a window open on one partition and closed on another once, with both parts', async () => {
    const options = optionsFor(storeFor(cosmos.database));
    // Partition a closes 08:00 (another machine's reading moves its watermark on) and merges
    // its part; partition b still holds its part of the same window open.
    await processBatch(options, 'live-a', [
      event(0, 'LIVE', at('08:01:00'), 70),
      event(1, 'LIVE-OTHER', at('08:06:30'), 20),
    ]);
    await processBatch(options, 'live-b', [event(0, 'LIVE', at('08:02:00'), 90)]);
    const view = await equipmentTelemetry(cosmos.database, 'LIVE', {
      from: new Date(at('07:00:00')),
      to: new Date(at('09:00:00')),
    });
    expect(view.latest).toMatchObject({ temperature: 90 });
    expect(view.currentWindow).toEqual({
      start: '2026-11-24T08:00:00.000Z',
      end: '2026-11-24T08:05:00.000Z',
      summary: { readings: 2, metrics: { temperature: { count: 2, min: 70, max: 90, mean: 80 } } },
    });
    expect(view.history).toEqual([]);
  });

  /**
   * Readings of one equipment over half an hour, temperatures around the thresholds, each
   * on partition a or b, each partition's stream cut into batches anywhere, the batches of
   * both interleaved in any order. Lateness is long, so only the timer closes windows.
   */
  const split = fc.record({
    readings: fc.array(
      fc.record({
        offsetMs: fc.integer({ min: 0, max: 6 * windowSizeMs - 1 }),
        temperature: fc.integer({ min: 600, max: 1000 }).map((t) => t / 10),
        partition: fc.constantFrom(0, 1),
      }),
      { minLength: 1, maxLength: 14 },
    ),
    cuts: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
    order: fc.array(fc.boolean(), { minLength: 28, maxLength: 28 }),
  });

  type SplitInput = typeof split extends fc.Arbitrary<infer T> ? T : never;

  /** `'101'` as `[true, false, true]`. */
  const bits = (text: string): boolean[] => Array.from(text, (c) => c === '1');

  function batchesOf(events: PartitionEvent[], cuts: readonly boolean[]): PartitionEvent[][] {
    const batches: PartitionEvent[][] = [[]];
    events.forEach((e, i) => {
      if (i > 0 && cuts[i]) batches.push([]);
      batches.at(-1)?.push(e);
    });
    return batches.filter((b) => b.length > 0);
  }

  let run = 0;
  async function splitRun(input: SplitInput, close: 'window by window' | 'all at once') {
    run++;
    const clean = `C${run}`;
    const splitId = `S${run}`;
    const ids = { clean: `p${run}-c`, a: `p${run}-a`, b: `p${run}-b` };
    const lateness = 2 * 3_600_000;
    const options = optionsFor(
      scopedStore(storeFor(cosmos.database), Object.values(ids)),
      lateness,
    );
    const base = at('08:00:00');
    const sorted = [...input.readings].sort((x, y) => x.offsetMs - y.offsetMs);
    const streams: PartitionEvent[][] = [[], []];
    sorted.forEach((r) => {
      const stream = streams[r.partition] ?? [];
      stream.push(event(stream.length, splitId, base + r.offsetMs, r.temperature));
    });
    const cleanEvents = sorted.map((r, i) => event(i, clean, base + r.offsetMs, r.temperature));

    await processBatch(options, ids.clean, cleanEvents);
    const queues = [
      batchesOf(streams[0] ?? [], input.cuts).map((b) => [ids.a, b] as const),
      batchesOf(streams[1] ?? [], input.cuts).map((b) => [ids.b, b] as const),
    ];
    for (const pickA of input.order) {
      const [queueA = [], queueB = []] = queues;
      const next = (pickA && queueA.length) || !queueB.length ? queueA.shift() : queueB.shift();
      if (next) await processBatch(options, next[0], next[1]);
    }
    for (const queue of queues) {
      for (const [partitionId, batch] of queue) await processBatch(options, partitionId, batch);
    }

    const closeAt = (end: number) => closeIdleWindows(options, end + lateness, 0);
    if (close === 'window by window') {
      // Both partitions close each window before either grades the next.
      for (let w = 1; w <= 6; w++) {
        const result = await closeAt(base + w * windowSizeMs);
        expect(result.failures).toEqual([]);
      }
    } else {
      expect((await closeAt(base + 6 * windowSizeMs)).failures).toEqual([]);
    }
    return {
      clean: await outcome(cosmos.database, clean),
      split: await outcome(cosmos.database, splitId),
    };
  }

  const splitCounterexamples: [SplitInput][] = [
    [
      {
        readings: [
          { offsetMs: 1164846, temperature: 64, partition: 1 },
          { offsetMs: 748230, temperature: 62.1, partition: 1 },
          { offsetMs: 995438, temperature: 63.1, partition: 1 },
          { offsetMs: 914866, temperature: 95.9, partition: 0 },
          { offsetMs: 1031472, temperature: 65.3, partition: 0 },
          { offsetMs: 568390, temperature: 71.9, partition: 1 },
          { offsetMs: 393889, temperature: 96.1, partition: 1 },
          { offsetMs: 870400, temperature: 74.6, partition: 0 },
          { offsetMs: 643544, temperature: 84, partition: 0 },
        ],
        cuts: bits('11000110001011'),
        order: bits('0011100101000010101011110001'),
      },
    ],
    [
      {
        readings: [
          { offsetMs: 1799981, temperature: 60.3, partition: 1 },
          { offsetMs: 1799980, temperature: 60.7, partition: 1 },
          { offsetMs: 263244, temperature: 98.3, partition: 0 },
          { offsetMs: 1639262, temperature: 81.1, partition: 0 },
          { offsetMs: 1218973, temperature: 60.2, partition: 0 },
          { offsetMs: 1677661, temperature: 74.8, partition: 0 },
          { offsetMs: 555345, temperature: 97.9, partition: 1 },
        ],
        cuts: bits('00011010011100'),
        order: bits('0111010101010001001001010111'),
      },
    ],
    [
      {
        readings: [
          { offsetMs: 339932, temperature: 99.2, partition: 1 },
          { offsetMs: 1697369, temperature: 80.8, partition: 1 },
          { offsetMs: 1357648, temperature: 62.7, partition: 1 },
          { offsetMs: 1758927, temperature: 61.2, partition: 0 },
          { offsetMs: 1484316, temperature: 62.6, partition: 0 },
          { offsetMs: 1497175, temperature: 75.8, partition: 0 },
          { offsetMs: 1586461, temperature: 78.8, partition: 1 },
          { offsetMs: 1593227, temperature: 72.1, partition: 1 },
          { offsetMs: 1015220, temperature: 96.1, partition: 0 },
        ],
        cuts: bits('10001001110011'),
        order: bits('1001001100001101100101100001'),
      },
    ],
  ];

  it('gives the aggregates and alerts of one partition for any split and batching', async () => {
    await fc.assert(
      fc.asyncProperty(split, async (input) => {
        const { clean, split: result } = await splitRun(input, 'window by window');
        expect(result.aggregates).toEqual(clean.aggregates);
        // A withdrawn alert is one a single partition never raised; everything else matches.
        expect(result.alerts.filter((a) => !a.withdrawn)).toEqual(clean.alerts);
      }),
      // A failing run reports its counterexample at once rather than shrinking past the bound.
      // The examples are earlier counterexamples: a window counted normal on one partition's
      // readings, then not on all of them (the run must restart), a breach on one partition
      // taken back by the other (the run must go on from before it), and a window that cleared
      // the alert on one partition's readings, then not on all (the clearing is taken back).
      { numRuns: 25, endOnFailure: true, examples: splitCounterexamples },
    );
    // 25 bounded runs against the local Cosmos server: seconds alone, far more on a loaded
    // 2-core machine running the whole suite.
  }, 120_000);

  it('keeps aggregates exact, and one alert per metric, when partitions close windows far apart', async () => {
    await fc.assert(
      fc.asyncProperty(split, async (input) => {
        const { clean, split: result } = await splitRun(input, 'all at once');
        expect(result.aggregates).toEqual(clean.aggregates);
        const unresolved = result.alerts.filter((a) => a.status !== 'resolved');
        expect(unresolved.length).toBeLessThanOrEqual(1);
        expect(result.slots).toBe(result.alerts.length > 0 ? 1 : 0);
      }),
      { numRuns: 15, endOnFailure: true },
    );
  }, 120_000);
});

describe('two instances writing alerts', () => {
  /**
   * The real store, with one instance stopped right after it looked for the current alert
   * (slot and query both read), until `resume`: the moment a stale read would do harm.
   */
  function pausedAfterLookup(inner: TelemetryStore) {
    let resume: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    let reached: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => (reached = resolve));
    let first = true;
    const store: TelemetryStore = {
      ...scopedStore(inner, []),
      latestAlert: async (e, m) => {
        const found = await inner.latestAlert(e, m);
        if (first) {
          first = false;
          reached();
          await gate;
        }
        return found;
      },
    };
    return { store, paused, resume };
  }

  it('opens one alert when both saw none: the loser folds into the winner', async () => {
    const database = cosmos.database;
    const slow = pausedAfterLookup(storeFor(database));
    const first = optionsFor(slow.store);
    const second = optionsFor(storeFor(database)); // another host, its own client state
    // Partition a closes RACE's 08:00 window, partition b its 08:05 window: both too hot.
    const a = processBatch(first, 'race-a', [
      event(0, 'RACE', at('08:01:00'), 95),
      event(1, 'RACE', at('08:06:30'), 20),
    ]);
    await slow.paused; // a has read: no slot, no alert
    await processBatch(second, 'race-b', [
      event(0, 'RACE', at('08:05:30'), 92),
      event(1, 'RACE', at('08:11:30'), 20),
    ]);
    slow.resume();
    await a;

    const { alerts, slots } = await outcome(database, 'RACE');
    expect(alerts.map((x) => [x.id, x.status])).toEqual([
      [':temperature:2026-11-24T08:05:00.000Z', 'open'],
    ]);
    expect(slots).toBe(1);
    const { resource: slot } = await database
      .container('alerts')
      .item(alertSlotId('RACE', 'temperature'), 'RACE')
      .read<ItemDefinition>();
    expect(slot?.['alertId']).toBe('RACE:temperature:2026-11-24T08:05:00.000Z');
  });

  it('finishes an alert whose opener moved the slot and died before creating it', async () => {
    const database = cosmos.database;
    const store = storeFor(database);
    const dying: TelemetryStore = {
      ...scopedStore(store, []),
      writeAlert: () => Promise.reject(new Error('host died')),
    };
    const batch = [event(0, 'DIED', at('08:01:00'), 95), event(1, 'DIED', at('08:06:30'), 20)];
    await expect(processBatch(optionsFor(dying), 'died-a', batch)).rejects.toThrow('host died');
    expect((await outcome(database, 'DIED')).alerts).toEqual([]);
    // The redelivered batch (or any other writer) creates the alert the slot names, once.
    await processBatch(optionsFor(store), 'died-a', batch);
    const { alerts, slots } = await outcome(database, 'DIED');
    expect(alerts.map((x) => [x.id, x.occurrences])).toEqual([
      [':temperature:2026-11-24T08:00:00.000Z', 1],
    ]);
    expect(slots).toBe(1);
  });
});
