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
  markEmitted,
  mergeWindow,
  type BatchPartial,
  type DeadLetter,
  type PartitionEvent,
  type PartitionState,
  type PipelineSettings,
} from '../../../lib/telemetry/partition.js';
import { parseEventBody } from '../../../lib/telemetry/reading.js';
import type { WindowStats } from '../../../lib/telemetry/stats.js';
import { windowSizeMs } from '../../../lib/telemetry/window.js';

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
        expect(aggregated + messy.deadLetters.size).toBe(sent);
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
        id: '3:1:late-0',
        reason: 'late',
        equipmentId: 'eq-1',
        partitionId: '3',
        sequenceNumber: 1,
        enqueuedTime: new Date(base + 11 * 60_000).toISOString(),
      }),
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
