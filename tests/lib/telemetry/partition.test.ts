/**
 * The partition fold is exactly-once by construction: whatever batches the host cuts the
 * stream into, and whatever it redelivers, the committed result equals one clean pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceByClock,
  applyBatch,
  dueWindows,
  initialPartitionState,
  deadLetterLimits,
  markEmitted,
  mergeWindow,
  partitionStateFrom,
  type BatchPartial,
  type DeadLetter,
  type PartitionEvent,
  type PartitionState,
  type PipelineSettings,
} from '../../../lib/telemetry/partition.js';
import { parseEventBody, type Reading } from '../../../lib/telemetry/reading.js';
import { addReading, emptyStats, type WindowStats } from '../../../lib/telemetry/stats.js';
import { windowSizeMs } from '../../../lib/telemetry/window.js';
import { enqueuedTimeMs, readingArb } from './arbitraries.js';

const settings: PipelineSettings = { allowedLatenessMs: 60_000, futureToleranceMs: 300_000 };
const base = Date.UTC(2026, 10, 24, 8, 0, 0);

function reading(equipmentId: string, timestamp: number, temperature: number): string {
  return JSON.stringify({ equipmentId, timestamp: new Date(timestamp).toISOString(), temperature });
}

function event(
  sequenceNumber: number,
  body: unknown,
  enqueuedTimeMs = base + sequenceNumber * 1000,
): PartitionEvent {
  return { sequenceNumber, body, enqueuedTimeMs };
}

/** What a committed fold has produced: emitted windows' stats and all dead letters. */
interface Outcome {
  state: PartitionState;
  aggregates: Map<string, WindowStats>;
  deadLetters: Map<string, DeadLetter>;
}

/**
 * Drives the pure fold as the processor does, with commits that can be lost: a `crash`
 * delivery writes its partial, dead letters and aggregates but never commits the state.
 */
function run(
  deliveries: readonly { events: PartitionEvent[]; crash: boolean }[],
  options: { closeEverythingAtEnd?: boolean } = {},
): Outcome {
  let state = initialPartitionState('0');
  const partials = new Map<string, BatchPartial>();
  const aggregates = new Map<string, WindowStats>();
  const deadLetters = new Map<string, DeadLetter>();
  for (const delivery of deliveries) {
    const applied = applyBatch(state, delivery.events, settings);
    if (applied.partial) partials.set(applied.partial.id, applied.partial);
    for (const letter of applied.deadLetters) deadLetters.set(letter.id, letter);
    const due = dueWindows(applied.state);
    for (const { windowStart, partialIds } of due) {
      const merged = mergeWindow(
        partialIds.map((id) => partials.get(id) as BatchPartial),
        windowStart,
      );
      for (const [equipmentId, stats] of merged)
        aggregates.set(`${equipmentId}:${windowStart}`, stats);
    }
    if (!delivery.crash)
      state = markEmitted(
        applied.state,
        due.map((w) => w.windowStart),
      );
  }
  if (options.closeEverythingAtEnd) {
    // The idle-window timer, long after the stream ended: every window closes.
    state = advanceByClock(state, base + 365 * 86_400_000, settings, 0);
    const due = dueWindows(state);
    for (const { windowStart, partialIds } of due) {
      const merged = mergeWindow(
        partialIds.map((id) => partials.get(id) as BatchPartial),
        windowStart,
      );
      for (const [equipmentId, stats] of merged) {
        aggregates.set(`${equipmentId}:${windowStart}`, stats);
      }
    }
    state = markEmitted(
      state,
      due.map((w) => w.windowStart),
    );
  }
  return { state, aggregates, deadLetters };
}

/** Events 0..n-1 delivered as a consumer would: in batches from its checkpoint. */
function schedule(
  events: readonly PartitionEvent[],
  steps: readonly { size: number; crash: boolean; duplicate: boolean }[],
): { events: PartitionEvent[]; crash: boolean }[] {
  const deliveries: { events: PartitionEvent[]; crash: boolean }[] = [];
  let checkpoint = 0;
  let previous: PartitionEvent[] = [];
  for (const step of steps) {
    if (checkpoint >= events.length) break;
    if (step.duplicate && previous.length) deliveries.push({ events: previous, crash: false });
    const batch = events.slice(checkpoint, checkpoint + step.size);
    deliveries.push({ events: batch, crash: step.crash });
    // The host checkpoints after every batch, even a failed one, but a crashed instance never
    // got that far: the next owner starts from the last checkpoint.
    if (!step.crash) checkpoint += batch.length;
    previous = batch;
  }
  if (checkpoint < events.length)
    deliveries.push({ events: events.slice(checkpoint), crash: false });
  return deliveries;
}

const equipmentIds = ['eq-1', 'eq-2', 'eq-3'];

/** Readings mostly in order, some out of order within lateness, some late, some malformed. */
const streamArbitrary = fc
  .array(
    fc.record({
      equipment: fc.integer({ min: 0, max: equipmentIds.length - 1 }),
      jitterSeconds: fc.integer({ min: -200, max: 20 }),
      temperature: fc.integer({ min: 200, max: 1000 }).map((t) => t / 10),
      kind: fc.constantFrom('reading', 'reading', 'reading', 'pair', 'malformed', 'invalid'),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((specs) =>
    specs.map((spec, sequenceNumber) => {
      const id = equipmentIds[spec.equipment] ?? 'eq-1';
      // Event time advances 20 s per event, so several windows close within a stream.
      const timestamp = base + sequenceNumber * 20_000 + spec.jitterSeconds * 1000;
      const body =
        spec.kind === 'malformed'
          ? '{"equipmentId": "eq-1", "timestamp": '
          : spec.kind === 'invalid'
            ? reading(id, timestamp, 9999)
            : spec.kind === 'pair'
              ? `[${reading(id, timestamp, spec.temperature)},${reading('eq-9', timestamp - 1000, spec.temperature)}]`
              : reading(id, timestamp, spec.temperature);
      return event(sequenceNumber, body, base + sequenceNumber * 20_000);
    }),
  );

const stepsArbitrary = fc.array(
  fc.record({
    size: fc.integer({ min: 1, max: 12 }),
    crash: fc.boolean(),
    duplicate: fc.boolean(),
  }),
  { maxLength: 40 },
);

describe('applyBatch', () => {
  it('gives one clean pass whatever the batches, crashes and duplicate deliveries', () => {
    fc.assert(
      fc.property(streamArbitrary, stepsArbitrary, (events, steps) => {
        const clean = run([{ events: [...events], crash: false }]);
        const messy = run(schedule(events, steps));
        expect(messy.aggregates).toEqual(clean.aggregates);
        expect(new Set(messy.deadLetters.keys())).toEqual(new Set(clean.deadLetters.keys()));
        expect(messy.state.lastSequenceNumber).toBe(clean.state.lastSequenceNumber);
        expect(messy.state.closedBefore).toBe(clean.state.closedBefore);
        expect(messy.state.maxEventTime).toBe(clean.state.maxEventTime);
      }),
      { numRuns: 300 },
    );
  });

  it('accounts for every reading sent: aggregated once or dead-lettered once', () => {
    fc.assert(
      fc.property(streamArbitrary, stepsArbitrary, (events, steps) => {
        const messy = run(schedule(events, steps), { closeEverythingAtEnd: true });
        // A 'pair' event carries two readings; every other event one (or one unreadable body).
        const sent = events.reduce((sum, e) => sum + (String(e.body).startsWith('[') ? 2 : 1), 0);
        const aggregated = [...messy.aggregates.values()].reduce((sum, s) => sum + s.readings, 0);
        const lost = [...messy.deadLetters.values()].reduce((sum, d) => sum + d.rejectedCount, 0);
        expect(aggregated + lost).toBe(sent);
        expect(messy.state.pending).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('matches a plain reference fold over the distinct events', () => {
    /** Event-time windows with a watermark, written as directly as possible. */
    function referenceFold(events: readonly PartitionEvent[]) {
      const byWindow = new Map<string, number[]>();
      let newest = -Infinity;
      const distinct = [...new Map(events.map((e) => [e.sequenceNumber, e])).values()].sort(
        (a, b) => a.sequenceNumber - b.sequenceNumber,
      );
      for (const e of distinct) {
        for (const r of parseEventBody(e.body, { enqueuedTimeMs: e.enqueuedTimeMs }).readings) {
          const start = Math.floor(r.timestamp / windowSizeMs) * windowSizeMs;
          if (start + windowSizeMs <= newest - settings.allowedLatenessMs) continue; // late
          const key = `${r.equipmentId}:${start}`;
          byWindow.set(key, [...(byWindow.get(key) ?? []), r.temperature ?? NaN]);
          // The watermark counts each reading at most at its event's enqueued time, so a device
          // with a fast clock cannot close other devices' windows early.
          newest = Math.max(newest, Math.min(r.timestamp, e.enqueuedTimeMs));
        }
      }
      return new Map(
        [...byWindow].map(([key, temps]) => [
          key,
          { count: temps.length, min: Math.min(...temps), max: Math.max(...temps) },
        ]),
      );
    }
    fc.assert(
      fc.property(streamArbitrary, stepsArbitrary, (events, steps) => {
        const deliveries = schedule(events, steps);
        const messy = run(deliveries, { closeEverythingAtEnd: true });
        const folded = new Map(
          [...messy.aggregates].map(([key, stats]) => [
            key,
            {
              count: stats.temperature?.count,
              min: stats.temperature?.min,
              max: stats.temperature?.max,
            },
          ]),
        );
        expect(folded).toEqual(referenceFold(deliveries.flatMap((d) => d.events)));
      }),
      { numRuns: 200 },
    );
  });

  it("folds a batch's readings per window and equipment, in order, newest reading as latest", () => {
    // Few instants, so one equipment often has several readings in a window, some stamped alike
    // (the later of those is the latest); lateness wide enough that none is late.
    const reading = fc
      .tuple(readingArb, fc.integer({ min: 0, max: 5 }))
      .map(([r, k]): Reading => ({ ...r, timestamp: enqueuedTimeMs - k * 150_000 }));
    const wide: PipelineSettings = { ...settings, allowedLatenessMs: 3_600_000 };
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 40 }), (readings) => {
        const events = readings.map((r, sequenceNumber) => ({
          body: JSON.stringify(r),
          sequenceNumber,
          enqueuedTimeMs,
        }));
        const {
          partial,
          state,
          readings: folded,
        } = applyBatch(initialPartitionState('0'), events, wide);
        expect(folded).toBe(readings.length);
        const expected = new Map<string, BatchPartial['entries'][number]>();
        for (const r of readings) {
          const windowStart = Math.floor(r.timestamp / windowSizeMs) * windowSizeMs;
          const key = `${windowStart}|${r.equipmentId}`;
          const held = expected.get(key);
          if (held === undefined) {
            expected.set(key, {
              equipmentId: r.equipmentId,
              windowStart,
              stats: addReading(emptyStats(), r),
              latest: r,
            });
          } else {
            held.stats = addReading(held.stats, r);
            if (r.timestamp >= held.latest.timestamp) held.latest = r;
          }
        }
        const sorted = [...expected.values()].sort(
          (a, b) =>
            a.windowStart - b.windowStart ||
            (a.equipmentId < b.equipmentId ? -1 : a.equipmentId > b.equipmentId ? 1 : 0),
        );
        expect(partial?.entries).toStrictEqual(sorted);
        expect(JSON.stringify(partial?.entries)).toBe(JSON.stringify(sorted));
        expect(state.pending[0]?.windows).toEqual([...new Set(sorted.map((e) => e.windowStart))]);
      }),
      { numRuns: 300 },
    );
  });

  it("does not let a device with a fast clock close other devices' windows early", () => {
    // FAST is stamped 4 minutes ahead of when its event was enqueued (within the tolerance).
    const events = [
      event(0, reading('FAST', base + 6 * 60_000 + 30_000, 70), base + 2 * 60_000 + 30_000),
      event(1, reading('E1', base + 2 * 60_000 + 40_000, 71), base + 2 * 60_000 + 41_000),
      event(2, reading('E1', base + 4 * 60_000 + 40_000, 72), base + 4 * 60_000 + 41_000),
    ];
    const { deadLetters, partial, state } = applyBatch(
      initialPartitionState('0'),
      events,
      settings,
    );
    expect(deadLetters).toEqual([]);
    expect(partial?.entries.find((e) => e.equipmentId === 'E1')?.stats.readings).toBe(2);
    // The fast reading counts at its enqueued time (08:02:30); the newest is 08:04:40, less 60 s.
    expect(state.closedBefore).toBe(base + 3 * 60_000 + 40_000);
  });

  it('skips a batch it has committed and changes nothing', () => {
    const events = [
      event(0, reading('eq-1', base, 70)),
      event(1, reading('eq-1', base + 1000, 71)),
    ];
    const first = applyBatch(initialPartitionState('0'), events, settings);
    const again = applyBatch(first.state, events, settings);
    expect(again.state).toBe(first.state);
    expect(again.partial).toBeNull();
    expect(again.deadLetters).toEqual([]);
    expect(again.skipped).toBe(2);
  });

  it('dead-letters a reading for a closed window as late, with its origin', () => {
    const events = [
      event(0, reading('eq-1', base + 10 * 60_000, 70), base + 10 * 60_000),
      event(1, reading('eq-1', base + 60_000, 71), base + 11 * 60_000),
    ];
    const { deadLetters, partial, state } = applyBatch(
      initialPartitionState('3'),
      events,
      settings,
    );
    expect(state.closedBefore).toBe(base + 9 * 60_000);
    expect(partial?.entries).toHaveLength(1);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        id: '3:1',
        reason: 'late',
        reasons: ['late'],
        equipmentId: 'eq-1',
        equipmentIds: ['eq-1'],
        partitionId: '3',
        sequenceNumber: 1,
        enqueuedTime: new Date(base + 11 * 60_000).toISOString(),
        rejectedCount: 1,
        omittedCount: 0,
      }),
    ]);
    expect(deadLetters[0]?.rejections).toEqual([
      {
        index: null,
        reason: 'late',
        equipmentId: 'eq-1',
        issues: [{ path: '/timestamp', message: expect.stringContaining('closed') }],
        raw: JSON.stringify({ equipmentId: 'eq-1', timestamp: base + 60_000, temperature: 71 }),
        rawTruncated: false,
      },
    ]);
  });

  it('accepts a reading within the allowed lateness into its still-open window', () => {
    const events = [
      event(0, reading('eq-1', base + windowSizeMs + 30_000, 70), base + windowSizeMs + 30_000),
      event(1, reading('eq-1', base + windowSizeMs - 1, 80), base + windowSizeMs + 31_000),
    ];
    const { partial, deadLetters } = applyBatch(initialPartitionState('0'), events, settings);
    expect(deadLetters).toEqual([]);
    expect(partial?.entries.map((e) => e.windowStart)).toEqual([base, base + windowSizeMs]);
  });

  it('closes a quiet partition by the clock only after lateness and grace', () => {
    const { state } = applyBatch(
      initialPartitionState('0'),
      [event(0, reading('eq-1', base + 1000, 70))],
      settings,
    );
    const windowEnd = base + windowSizeMs;
    const grace = 120_000;
    const tooEarly = advanceByClock(state, windowEnd + 60_000 + grace - 1, settings, grace);
    expect(dueWindows(tooEarly)).toEqual([]);
    const onTime = advanceByClock(state, windowEnd + 60_000 + grace, settings, grace);
    expect(dueWindows(onTime)).toEqual([{ windowStart: base, partialIds: ['0:0-0'] }]);
    expect(markEmitted(onTime, [base]).pending).toEqual([]);
  });
});

/**
 * The hub starts numbering again (recreated under the same name, failover, restore): the
 * second run of the stream reuses sequence numbers from 0, enqueued after the first.
 */
describe('applyBatch across a restart of the sequence numbers', () => {
  /** `events` renumbered from `from`, every enqueued time moved by `shiftMs`. */
  const renumber = (events: readonly PartitionEvent[], from: number, shiftMs: number) =>
    events.map((e, i) => ({
      ...e,
      sequenceNumber: from + i,
      enqueuedTimeMs: e.enqueuedTimeMs + shiftMs,
    }));
  /** The stream's readings restamped `shiftMs` later (the second epoch continues in time). */
  const later = (events: readonly PartitionEvent[], shiftMs: number) =>
    events.map((e) => ({
      ...e,
      body: String(e.body).replace(
        /"timestamp":"([^"]+)"/g,
        (_, iso: string) => `"timestamp":"${new Date(Date.parse(iso) + shiftMs).toISOString()}"`,
      ),
    }));

  const restartArbitrary = fc
    .tuple(streamArbitrary, streamArbitrary, fc.integer({ min: 1, max: 30 }))
    .map(([first, second, gapMinutes]) => {
      const lastEnqueued = first.at(-1)?.enqueuedTimeMs ?? base;
      const shift = lastEnqueued - base + gapMinutes * 60_000;
      return { first, second: renumber(later(second, shift), 0, shift) };
    });

  it('counts every reading after the restart, as if the numbering had gone on', () => {
    fc.assert(
      fc.property(restartArbitrary, stepsArbitrary, stepsArbitrary, (stream, s1, s2) => {
        const { first, second } = stream;
        const continued = renumber(second, first.length, 0);
        const reference = run([
          { events: [...first], crash: false },
          { events: continued, crash: false },
        ]);
        // Delivered in batches with crashes and duplicates, and an old batch redelivered
        // late (an instance still reading the old hub).
        const deliveries = [...schedule(first, s1), ...schedule(second, s2)];
        deliveries.push({ events: first.slice(0, 3), crash: false });
        const messy = run(deliveries);
        expect(messy.aggregates).toEqual(reference.aggregates);
        expect(messy.deadLetters.size).toBe(reference.deadLetters.size);
        expect(messy.state).toMatchObject({
          epoch: 1,
          lastSequenceNumber: second.length - 1,
          lastEnqueuedTimeMs: second.at(-1)?.enqueuedTimeMs,
          closedBefore: reference.state.closedBefore,
          maxEventTime: reference.state.maxEventTime,
        });
        expect(messy.state.epochs).toEqual([
          {
            epoch: 1,
            startedAt: new Date(second[0]?.enqueuedTimeMs ?? 0).toISOString(),
            firstSequenceNumber: 0,
            previousLastSequenceNumber: first.length - 1,
            previousLastEnqueuedTime: new Date(first.at(-1)?.enqueuedTimeMs ?? 0).toISOString(),
          },
        ]);
        // The new epoch's ids never collide with the old epoch's.
        for (const id of messy.deadLetters.keys()) {
          const sequence = Number(id.split(':').at(-1));
          const letter = messy.deadLetters.get(id);
          expect(id).toBe(
            letter && second.some((e) => e.enqueuedTimeMs === Date.parse(letter.enqueuedTime))
              ? `0:e1:${sequence}`
              : `0:${sequence}`,
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('starts the epoch at the same event however the batches are cut', () => {
    const first = [0, 1, 2, 3].map((n) => event(n, reading('eq-1', base + n * 1000, 70)));
    const second = [0, 1, 2, 3, 4, 5].map((n) =>
      event(n, reading('eq-1', base + 60_000 + n * 1000, 71), base + 60_000 + n * 1000),
    );
    const whole = applyBatch(
      applyBatch(initialPartitionState('0'), first, settings).state,
      second,
      settings,
    );
    expect(whole.epochsStarted.map((c) => [c.epoch, c.firstSequenceNumber])).toEqual([[1, 0]]);
    expect(whole.partial?.id).toBe('0:e1:0-5');
    expect(whole.skipped).toBe(0);
    // One event at a time, each delivered twice.
    let state = applyBatch(initialPartitionState('0'), first, settings).state;
    for (const e of second) {
      state = applyBatch(state, [e], settings).state;
      const again = applyBatch(state, [e], settings);
      expect(again.state).toBe(state);
      expect(again.skipped).toBe(1);
    }
    expect(state.epochs).toEqual(whole.state.epochs);
    expect(state.lastSequenceNumber).toBe(5);
    // A second restart is a second epoch.
    const third = applyBatch(
      state,
      [event(2, reading('eq-1', base + 90_000, 72), base + 90_000)],
      settings,
    );
    expect(third.state.epoch).toBe(2);
    expect(third.partial?.id).toBe('0:e2:2-2');
  });

  it('skips a redelivery: same sequence numbers, same enqueued times', () => {
    const events = [0, 1, 2].map((n) => event(n, reading('eq-1', base + n * 1000, 70)));
    const { state } = applyBatch(initialPartitionState('0'), events, settings);
    const again = applyBatch(state, [...events].reverse(), settings);
    expect(again.state).toBe(state);
    expect(again.epochsStarted).toEqual([]);
    // An event enqueued earlier than the newest committed one is old, whatever its number.
    const older = applyBatch(state, [event(1, reading('eq-1', base, 70), base + 1500)], settings);
    expect(older.state).toBe(state);
  });

  it('reads a state stored before epochs existed, and never guesses an epoch from it', () => {
    const legacy = {
      partitionId: '0',
      lastSequenceNumber: 10,
      maxEventTime: base,
      closedBefore: 0,
      pending: [],
    };
    const state = partitionStateFrom(legacy);
    expect(state).toEqual({ ...legacy, epoch: 0, lastEnqueuedTimeMs: null, epochs: [] });
    // Without a recorded enqueued time a number at or below the mark is a redelivery.
    const replay = applyBatch(
      state,
      [event(3, reading('eq-1', base, 70), base + 10 ** 9)],
      settings,
    );
    expect(replay.state).toBe(state);
    // The next new event records one, and detection works from then on.
    const next = applyBatch(state, [event(11, reading('eq-1', base, 70), base + 1000)], settings);
    expect(next.state.lastEnqueuedTimeMs).toBe(base + 1000);
    expect(next.partial?.id).toBe('0:11-11');
    const restarted = applyBatch(
      next.state,
      [event(0, reading('eq-1', base, 70), base + 2000)],
      settings,
    );
    expect(restarted.state.epoch).toBe(1);
  });
});

describe('applyBatch dead letters', () => {
  it('stores one dead letter per event, whatever it lost', () => {
    const body = JSON.stringify([
      {
        equipmentId: 'eq-2',
        timestamp: new Date(base + 10 * 60_000).toISOString(),
        vibration: 'x',
      },
      JSON.parse(reading('eq-1', base + 10 * 60_000, 70)) as object,
      { equipmentId: 7, timestamp: new Date(base).toISOString(), temperature: 70 },
      JSON.parse(reading('ghost', base + 10 * 60_000, 70)) as object,
      JSON.parse(reading('eq-2', base + 10 * 60_000, 9999)) as object,
    ]);
    const first = applyBatch(
      initialPartitionState('2'),
      [event(0, reading('eq-1', base + 20 * 60_000, 70), base + 20 * 60_000)],
      settings,
    );
    const { deadLetters, partial } = applyBatch(
      first.state,
      [event(1, body, base + 20 * 60_000), event(2, 'not json', base + 20 * 60_000)],
      settings,
      { isRegistered: (id) => id !== 'ghost' },
    );
    expect(partial).toBeNull(); // the one valid reading for eq-1 is late
    expect(deadLetters.map((d) => [d.id, d.equipmentId, d.reason])).toEqual([
      ['2:1', 'eq-2', 'invalid'],
      ['2:2', '(unknown)', 'malformed'],
    ]);
    const [letter] = deadLetters;
    expect(letter).toMatchObject({
      equipmentIds: ['eq-2', '7', 'eq-1', 'ghost'],
      reasons: ['invalid', 'late', 'unregistered'],
      rejectedCount: 5,
      omittedCount: 0,
    });
    expect(letter?.rejections.map((r) => [r.index, r.reason, r.equipmentId])).toEqual([
      [0, 'invalid', 'eq-2'],
      [2, 'invalid', '7'],
      [4, 'invalid', 'eq-2'],
      [null, 'late', 'eq-1'],
      [null, 'unregistered', 'ghost'],
    ]);
  });

  it('bounds the document: raw text up to 64 KiB, then issues only, then a count', () => {
    const longId = 'x'.repeat(64);
    const bad = Array.from({ length: 500 }, (_, i) => ({
      equipmentId: `${longId.slice(0, 60)}${String(i).padStart(4, '0')}`,
      timestamp: new Date(base).toISOString(),
      temperature: 9999,
      vibration: -1,
      pressure: 5000,
      status: 'x'.repeat(200),
    }));
    const { deadLetters } = applyBatch(
      initialPartitionState('0'),
      [event(0, JSON.stringify(bad))],
      settings,
    );
    expect(deadLetters).toHaveLength(1);
    const [letter] = deadLetters;
    if (!letter) throw new Error('no dead letter');
    expect(letter.rejectedCount).toBe(500);
    expect(letter.omittedCount).toBeGreaterThan(0);
    expect(letter.rejections.length + letter.omittedCount).toBe(500);
    expect(letter.equipmentIds).toHaveLength(deadLetterLimits.equipmentIds);
    // The kept rejections are the first ones, in order; raw text is a prefix of them.
    expect(letter.rejections.map((r) => r.index)).toEqual(letter.rejections.map((_, i) => i));
    const withRaw = letter.rejections.filter((r) => r.raw !== null);
    expect(withRaw.length).toBeGreaterThan(0);
    expect(letter.rejections.slice(0, withRaw.length)).toEqual(withRaw);
    expect(letter.rejections.slice(withRaw.length).every((r) => r.rawTruncated)).toBe(true);
    const rawBytes = withRaw.reduce((sum, r) => sum + Buffer.byteLength(r.raw ?? ''), 0);
    expect(rawBytes).toBeLessThanOrEqual(deadLetterLimits.rawBytes);
    expect(Buffer.byteLength(JSON.stringify(letter))).toBeLessThan(
      deadLetterLimits.rawBytes + deadLetterLimits.detailBytes + 16 * 1024,
    );
  });

  it('never folds or alerts on an unregistered machine, nor lets it move the watermark', () => {
    const events = [
      event(0, reading('known', base + 1000, 70), base + 1000),
      event(1, reading('stranger', base + 30 * 60_000, 70), base + 30 * 60_000),
      event(2, reading('known', base + 2000, 71), base + 30 * 60_000),
    ];
    const { partial, deadLetters, state } = applyBatch(
      initialPartitionState('0'),
      events,
      settings,
      {
        isRegistered: (id) => id === 'known',
      },
    );
    expect(partial?.entries.map((e) => [e.equipmentId, e.stats.readings])).toEqual([['known', 2]]);
    expect(deadLetters.map((d) => [d.id, d.reason, d.equipmentId])).toEqual([
      ['0:1', 'unregistered', 'stranger'],
    ]);
    expect(state.maxEventTime).toBe(base + 2000);
  });
});
