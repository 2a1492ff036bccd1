/**
 * The local host's timer triggers, binding expressions, Event Hub trigger shapes, batching
 * (host.json, as the Event Hubs extension applies it) and retry policy.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Timer } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  longOf,
  PartitionBatcher,
  resolveSetting,
  runWithRetryPolicy,
  startTimers,
  triggerMessagesFor,
  triggerMetadataFor,
} from '../../dev/triggerHost.js';
import { hostJsonEventHubs } from '../../dev/hostJson.js';
import type { TimerFunctionDeclaration } from '../../lib/host/declarations.js';
import { readTriggerBatch, sequenceNumberOf } from '../../lib/telemetry/trigger.js';

describe('resolveSetting', () => {
  it('replaces %NAME% with the setting and refuses a missing one by name', () => {
    expect(resolveSetting('%HUB%', { HUB: 'telemetry' })).toBe('telemetry');
    expect(resolveSetting('plain', {})).toBe('plain');
    expect(() => resolveSetting('%MISSING_HUB%', {})).toThrow(/MISSING_HUB/);
  });
});

describe('startTimers', () => {
  it('invokes a timer on its six-field schedule with a Timer and a context, until stopped', async () => {
    const calls: { timer: Timer; functionName: string }[] = [];
    let failures = 0;
    const declaration: TimerFunctionDeclaration = {
      kind: 'timer',
      name: 'everySecond',
      schedule: '* * * * * *',
      handler: (timer, context) => {
        calls.push({ timer, functionName: context.functionName });
        // A failing invocation is logged and does not stop the schedule.
        if (calls.length === 1) {
          failures++;
          return Promise.reject(new Error('first one fails'));
        }
        return Promise.resolve();
      },
    };
    const logged: string[] = [];
    const running = startTimers([declaration], (level, name, message) =>
      logged.push(`${level} ${name} ${message}`),
    );
    const deadline = Date.now() + 10_000;
    while (calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await running.stop();
    const seen = calls.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(calls[0]?.functionName).toBe('everySecond');
    expect(calls[0]?.timer).toMatchObject({ isPastDue: false, schedule: { adjustForDST: false } });
    expect(failures).toBe(1);
    expect(
      logged.some((line) => line.startsWith('error everySecond failed: Error: first one fails')),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.length).toBe(seen);
  });
});

describe('triggerMetadataFor', () => {
  const enqueued = new Date('2026-11-24T08:00:00.250Z');
  const events = [
    {
      sequenceNumber: 5,
      offset: '100',
      enqueuedTimeUtc: enqueued,
      partitionKey: '7',
      properties: { k: 1 },
    },
    {
      sequenceNumber: 2 ** 32 + 6,
      offset: '200',
      enqueuedTimeUtc: new Date('2026-11-24T08:00:01Z'),
      partitionKey: null,
    },
  ];
  const partition = {
    partitionId: '1',
    eventHubName: 'telemetry',
    consumerGroup: '$Default',
    fullyQualifiedNamespace: '127.0.0.1',
  };

  it('lines the metadata arrays up with the events, as the Functions host does', () => {
    expect(triggerMetadataFor(events, partition, 'plain')).toEqual({
      partitionContext: partition,
      sequenceNumberArray: [5, 2 ** 32 + 6],
      offsetArray: ['100', '200'],
      enqueuedTimeUtcArray: ['2026-11-24T08:00:00.250Z', '2026-11-24T08:00:01.000Z'],
      partitionKeyArray: ['7', null],
      propertiesArray: [{ k: 1 }, {}],
      systemPropertiesArray: [
        {
          'x-opt-sequence-number': 5,
          'x-opt-offset': '100',
          'x-opt-enqueued-time': '2026-11-24T08:00:00.250Z',
          'x-opt-partition-key': '7',
        },
        {
          'x-opt-sequence-number': 2 ** 32 + 6,
          'x-opt-offset': '200',
          'x-opt-enqueued-time': '2026-11-24T08:00:01.000Z',
          'x-opt-partition-key': null,
        },
      ],
    });
  });

  it('sends Long sequence numbers and zone-less times under azure fidelity, the default', () => {
    const metadata = triggerMetadataFor(events, partition);
    expect(metadata).toEqual(triggerMetadataFor(events, partition, 'azure'));
    expect(metadata['sequenceNumberArray']).toEqual([
      { low: 5, high: 0, unsigned: false },
      { low: 6, high: 1, unsigned: false },
    ]);
    // As Newtonsoft writes a DateTime of unspecified kind: no zone, fraction trimmed.
    expect(metadata['enqueuedTimeUtcArray']).toEqual([
      '2026-11-24T08:00:00.25',
      '2026-11-24T08:00:01',
    ]);
    expect(metadata['systemPropertiesArray']).toMatchObject([
      { 'x-opt-sequence-number': 5, 'x-opt-enqueued-time': '2026-11-24T08:00:00.25' },
      { 'x-opt-sequence-number': 2 ** 32 + 6, 'x-opt-enqueued-time': '2026-11-24T08:00:01' },
    ]);
    // And the handler's reader takes them back exactly.
    const read = readTriggerBatch(['a', 'b'], metadata);
    expect(read.readable && read.events).toEqual([
      { body: 'a', sequenceNumber: 5, enqueuedTimeMs: enqueued.getTime() },
      { body: 'b', sequenceNumber: 2 ** 32 + 6, enqueuedTimeMs: Date.UTC(2026, 10, 24, 8, 0, 1) },
    ]);
  });
});

describe('longOf', () => {
  it.each([0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER])(
    'holds %d as 32-bit words that sequenceNumberOf reads back',
    (value) => {
      const long = longOf(value);
      expect(Number.isInteger(long.low) && long.low >= -(2 ** 31) && long.low < 2 ** 31).toBe(true);
      expect(sequenceNumberOf(long)).toBe(value);
    },
  );
});

describe('triggerMessagesFor', () => {
  // Bodies as the SDK receives them with skipParsingBodyAsJson: the data section's bytes.
  const json = Buffer.from('{"equipmentId":"7"}', 'utf8');
  const empty = Buffer.alloc(0);
  const text = Buffer.from('not json', 'utf8');

  it('hands binary bodies over as Buffers, empty ones kept (dataType binary)', () => {
    const messages = triggerMessagesFor([json, empty, new Uint8Array([0x31]), text], 'binary');
    expect(messages).toEqual([json, empty, Buffer.from('1'), text]);
    for (const message of messages) expect(Buffer.isBuffer(message)).toBe(true);
  });

  it('drops empty bodies and parses JSON text for dataType string, as the host and library do', () => {
    expect(triggerMessagesFor([json, empty, text, Buffer.from('42')], 'string')).toEqual([
      { equipmentId: '7' },
      'not json',
      42,
    ]);
  });

  it('passes the SDK-decoded bodies through under plain fidelity', () => {
    const decoded = [{ equipmentId: '7' }, 'x'];
    expect(triggerMessagesFor(decoded, 'binary', 'plain')).toEqual(decoded);
  });
});

describe('runWithRetryPolicy', () => {
  const policy = (maxRetryCount: number) =>
    ({
      strategy: 'exponentialBackoff',
      maxRetryCount,
      minimumInterval: { seconds: 5 },
      maximumInterval: { minutes: 5 },
    }) as const;

  /** An invocation that fails `failures` times, then succeeds; records the waits asked for. */
  function harness(failures: number, stopAfterWaits = Infinity) {
    let calls = 0;
    const waits: number[] = [];
    const logs: string[] = [];
    let stopping = false;
    return {
      invoke: () => {
        calls += 1;
        return calls > failures ? Promise.resolve() : Promise.reject(new Error(`down ${calls}`));
      },
      options: {
        sleep: (ms: number) => {
          waits.push(ms);
          if (waits.length >= stopAfterWaits) stopping = true;
          return Promise.resolve();
        },
        isStopping: () => stopping,
        log: (level: string, message: string) => logs.push(`${level}: ${message}`),
      },
      calls: () => calls,
      waits,
      logs,
    };
  }

  it('retries indefinitely under -1, backing off to the maximum interval, until it succeeds', async () => {
    const run = harness(12);
    expect(await runWithRetryPolicy(run.invoke, policy(-1), run.options)).toBe('succeeded');
    expect(run.calls()).toBe(13);
    expect(run.waits).toEqual([
      5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000, 300_000,
      300_000,
    ]);
    expect(run.logs.every((line) => line.startsWith('warning: attempt'))).toBe(true);
  });

  it('gives up after maxRetryCount retries, saying the batch is checkpointed anyway', async () => {
    const run = harness(100);
    expect(await runWithRetryPolicy(run.invoke, policy(2), run.options)).toBe('gave-up');
    expect(run.calls()).toBe(3);
    expect(run.logs.at(-1)).toMatch(/^error: failed after 3 attempts; checkpointing anyway/);
  });

  it('stops retrying when the host stops, without running the batch again', async () => {
    const run = harness(100, 3);
    expect(await runWithRetryPolicy(run.invoke, policy(-1), run.options)).toBe('stopped');
    expect(run.calls()).toBe(3);
  });
});

describe('PartitionBatcher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A batcher whose dispatches are recorded; the timer is vitest's, driven by the test. */
  function recording(settings: {
    minEventBatchSize: number;
    maxEventBatchSize: number;
    maxWaitTimeSeconds: number;
  }) {
    vi.useFakeTimers();
    const dispatched: number[][] = [];
    const batcher = new PartitionBatcher<number>(settings, (events) => {
      dispatched.push(events);
      return Promise.resolve();
    });
    return { batcher, dispatched };
  }

  it('dispatches every read at once when the minimum is 1 (maxWaitTime unused)', async () => {
    const { batcher, dispatched } = recording({
      minEventBatchSize: 1,
      maxEventBatchSize: 10,
      maxWaitTimeSeconds: 30,
    });
    await batcher.received([1, 2]);
    await batcher.received([]);
    await batcher.received([3]);
    expect(dispatched).toEqual([[1, 2], [3]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds events until the minimum, dispatches at most the maximum, keeps the rest held', async () => {
    const { batcher, dispatched } = recording({
      minEventBatchSize: 3,
      maxEventBatchSize: 4,
      maxWaitTimeSeconds: 3,
    });
    await batcher.received([1, 2]);
    expect(dispatched).toEqual([]);
    expect(batcher.held).toBe(2);
    await batcher.received([3, 4, 5]);
    expect(dispatched).toEqual([[1, 2, 3, 4]]);
    expect(batcher.held).toBe(1);
    // The held one goes out as a partial batch when maxWaitTime passes without more.
    await vi.advanceTimersByTimeAsync(2999);
    expect(dispatched).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(dispatched).toEqual([[1, 2, 3, 4], [5]]);
    expect(batcher.held).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('dispatches a quiet partition after maxWaitTime, counted from the first held event', async () => {
    const { batcher, dispatched } = recording({
      minEventBatchSize: 500,
      maxEventBatchSize: 1000,
      maxWaitTimeSeconds: 3,
    });
    await batcher.received([1]);
    await vi.advanceTimersByTimeAsync(2000);
    await batcher.received([2]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(dispatched).toEqual([[1, 2]]);
    // The next event starts a new wait.
    await batcher.received([3]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(dispatched).toEqual([[1, 2], [3]]);
  });

  it('drops what it holds on close, without dispatching it', async () => {
    const { batcher, dispatched } = recording({
      minEventBatchSize: 5,
      maxEventBatchSize: 10,
      maxWaitTimeSeconds: 3,
    });
    await batcher.received([1, 2]);
    await batcher.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(dispatched).toEqual([]);
    expect(batcher.held).toBe(0);
  });
});

describe('hostJsonEventHubs', () => {
  const withHostJson = (content: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-host-json-'));
    writeFileSync(join(dir, 'host.json'), JSON.stringify(content));
    try {
      return hostJsonEventHubs(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("reads the batching settings, with the extension's defaults for those left out", () => {
    expect(
      withHostJson({
        extensions: {
          eventHubs: { minEventBatchSize: 500, maxEventBatchSize: 1000, maxWaitTime: '00:01:05' },
        },
      }),
    ).toEqual({
      minEventBatchSize: 500,
      maxEventBatchSize: 1000,
      maxWaitTimeSeconds: 65,
      prefetchCount: 300,
    });
    expect(withHostJson({ extensions: {} })).toEqual({
      minEventBatchSize: 1,
      maxEventBatchSize: 100,
      maxWaitTimeSeconds: 60,
      prefetchCount: 300,
    });
  });

  it('refuses a wait that is not hh:mm:ss', () => {
    expect(() => withHostJson({ extensions: { eventHubs: { maxWaitTime: '1s' } } })).toThrow(
      /hh:mm:ss/,
    );
  });
});
