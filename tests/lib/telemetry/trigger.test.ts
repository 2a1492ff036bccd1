/**
 * Reading the Event Hub trigger's batch as the Functions host really passes it: sequence
 * numbers as numbers, digit strings or Long objects, enqueued times with or without a zone,
 * and every way the metadata can fail to line up, which never throws.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { longOf } from '../../../dev/triggerHost.js';
import {
  enqueuedTimeOf,
  readTriggerBatch,
  lastEnqueuedOf,
  sequenceNumberOf,
  type TriggerBatch,
  type UnreadableBatch,
} from '../../../lib/telemetry/trigger.js';

/** Trigger metadata as the Functions host passes it for `cardinality: 'many'`. */
function hostMetadata(count: number, overrides: Record<string, unknown> = {}) {
  return {
    partitionContext: {
      eventHubName: 'telemetry',
      consumerGroup: '$Default',
      fullyQualifiedNamespace: 'sis.servicebus.windows.net',
      partitionId: '2',
    },
    sequenceNumberArray: Array.from({ length: count }, (_, i) => 100 + i),
    enqueuedTimeUtcArray: Array.from({ length: count }, (_, i) => `2026-11-24T08:00:0${i}.000Z`),
    offsetArray: Array.from({ length: count }, (_, i) => String(4096 * i)),
    partitionKeyArray: Array.from({ length: count }, () => '7'),
    propertiesArray: Array.from({ length: count }, () => ({})),
    systemPropertiesArray: Array.from({ length: count }, () => ({})),
    ...overrides,
  };
}

function readable(batch: TriggerBatch) {
  if (!batch.readable) throw new Error(`unreadable: ${batch.batch.detail}`);
  return batch;
}

function unreadable(batch: TriggerBatch): UnreadableBatch {
  if (batch.readable) throw new Error('expected an unreadable batch');
  return batch.batch;
}

describe('sequenceNumberOf', () => {
  it.each([
    ['a number', 7, 7],
    ['a digit string', '9007199254740', 9007199254740],
    ['a Long below 2^32', { low: 2251, high: 0, unsigned: false }, 2251],
    ['a Long whose low word is negative as int32', longOf(2 ** 32 - 1), 2 ** 32 - 1],
    ['a Long above 2^32', longOf(2 ** 32 + 5), 2 ** 32 + 5],
    ['a Long far above 2^32', longOf(123_456_789_012_345), 123_456_789_012_345],
    [
      'the largest safe integer as a Long',
      longOf(Number.MAX_SAFE_INTEGER),
      Number.MAX_SAFE_INTEGER,
    ],
    ['an unsigned Long', { low: -1, high: 1, unsigned: true }, 2 ** 33 - 1],
    ['a bigint', 2n ** 40n, 2 ** 40],
  ])('reads %s exactly', (_name, value, expected) => {
    expect(sequenceNumberOf(value)).toBe(expected);
  });

  it.each([
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['a number past 2^53', 2 ** 53],
    ['a digit string past 2^53', '9007199254740993'],
    ['a signed string', '-3'],
    ['an empty string', ''],
    ['a Long past 2^53', { low: 0, high: 2 ** 21, unsigned: false }],
    ['a negative Long', { low: 5, high: -1, unsigned: false }],
    ['a Long with a word out of range', { low: 2 ** 32, high: 0, unsigned: false }],
    ['a Long with fractional words', { low: 0.5, high: 0 }],
    ['an object without words', { value: 3 }],
    ['null', null],
    ['a bigint past 2^53', 2n ** 60n],
  ])('refuses %s', (_name, value) => {
    expect(sequenceNumberOf(value)).toBeUndefined();
  });
});

describe('enqueuedTimeOf', () => {
  const originalTz = process.env['TZ'];
  afterEach(() => {
    if (originalTz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = originalTz;
  });

  it.each(['America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'])(
    'reads a zone-less time as UTC with TZ=%s, not in that zone',
    (zone) => {
      process.env['TZ'] = zone;
      expect(Date.parse('2025-06-07T14:46:55.145')).not.toBe(Date.UTC(2025, 5, 7, 14, 46, 55, 145));
      // Node applies a runtime TZ change: Date.parse now reads zone-less times in `zone`.
      expect(enqueuedTimeOf('2025-06-07T14:46:55.145')).toBe(Date.UTC(2025, 5, 7, 14, 46, 55, 145));
      expect(enqueuedTimeOf('2025-06-07T14:46:55')).toBe(Date.UTC(2025, 5, 7, 14, 46, 55));
      // Newtonsoft writes up to seven fraction digits (ticks); the rest is cut, not rounded.
      expect(enqueuedTimeOf('2025-06-07T14:46:55.1459999')).toBe(
        Date.UTC(2025, 5, 7, 14, 46, 55, 145),
      );
      expect(enqueuedTimeOf('2025-06-07T14:46:55.1')).toBe(Date.UTC(2025, 5, 7, 14, 46, 55, 100));
    },
  );

  it('honours an explicit zone, Dates and epoch ms', () => {
    expect(enqueuedTimeOf('2025-06-07T14:46:55.145Z')).toBe(Date.UTC(2025, 5, 7, 14, 46, 55, 145));
    expect(enqueuedTimeOf('2025-06-07T16:46:55.145+02:00')).toBe(
      Date.UTC(2025, 5, 7, 14, 46, 55, 145),
    );
    expect(enqueuedTimeOf('2025-06-07T09:16:55-05:30')).toBe(Date.UTC(2025, 5, 7, 14, 46, 55));
    expect(enqueuedTimeOf(new Date(5000))).toBe(5000);
    expect(enqueuedTimeOf(5000)).toBe(5000);
  });

  it.each([
    'yesterday',
    '2025-06-07',
    '2025-06-07 14:46:55',
    '2025-02-30T00:00:00',
    '2025-06-07T24:00:00',
    '2025-06-07T14:46:55+25:00',
    '',
    Number.NaN,
    1.5,
    new Date(Number.NaN),
    null,
    { time: 1 },
  ])('refuses %s', (value) => {
    expect(enqueuedTimeOf(value)).toBeUndefined();
  });
});

describe('readTriggerBatch', () => {
  it('pairs each message with its sequence number and enqueued time', () => {
    const { partitionId, events } = readable(readTriggerBatch(['a', { b: 1 }], hostMetadata(2)));
    expect(partitionId).toBe('2');
    expect(events).toEqual([
      { body: 'a', sequenceNumber: 100, enqueuedTimeMs: Date.parse('2026-11-24T08:00:00.000Z') },
      {
        body: { b: 1 },
        sequenceNumber: 101,
        enqueuedTimeMs: Date.parse('2026-11-24T08:00:01.000Z'),
      },
    ]);
  });

  it('reads the shapes the Azure host sends: Longs and zone-less times', () => {
    const { events } = readable(
      readTriggerBatch(
        [Buffer.from('x'), Buffer.alloc(0)],
        hostMetadata(2, {
          sequenceNumberArray: [longOf(2 ** 32 + 1), longOf(2 ** 32 + 2)],
          enqueuedTimeUtcArray: ['2026-11-24T08:00:00.5', '2026-11-24T08:00:01'],
        }),
      ),
    );
    expect(events.map((e) => [e.sequenceNumber, e.enqueuedTimeMs])).toEqual([
      [2 ** 32 + 1, Date.parse('2026-11-24T08:00:00.500Z')],
      [2 ** 32 + 2, Date.parse('2026-11-24T08:00:01.000Z')],
    ]);
    // Bodies go through untouched (an empty one is the fold's to dead-letter).
    expect(events[1]?.body).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['no metadata', undefined, /no trigger metadata/],
    [
      'no partition context',
      { ...hostMetadata(1), partitionContext: undefined },
      /partitionContext.partitionId/,
    ],
    [
      'an empty partition id',
      hostMetadata(1, { partitionContext: { partitionId: '' } }),
      /partitionContext/,
    ],
    [
      'no sequence numbers',
      { ...hostMetadata(1), sequenceNumberArray: undefined },
      /sequenceNumberArray: missing/,
    ],
    [
      'a negative sequence number',
      hostMetadata(1, { sequenceNumberArray: [-1] }),
      /sequenceNumberArray: 1 unusable entry \(first at 0: -1\)/,
    ],
    [
      'a time that is not one',
      hostMetadata(1, { enqueuedTimeUtcArray: ['yesterday'] }),
      /enqueuedTimeUtcArray: 1 unusable entry/,
    ],
    [
      'more enqueued times than messages',
      hostMetadata(1, { enqueuedTimeUtcArray: ['2026-11-24T08:00:00Z', '2026-11-24T08:00:01Z'] }),
      /1 events but 2 enqueued times/,
    ],
  ])('returns %s as unreadable, with the reason', (_name, metadata, reason) => {
    const batch = unreadable(readTriggerBatch(['a'], metadata));
    expect(batch.detail).toMatch(reason);
    expect(batch.bodies).toEqual(['a']);
  });

  it('keeps what it could read of an unreadable batch', () => {
    // The host dropped an empty string body: three metadata entries, two messages.
    const batch = unreadable(
      readTriggerBatch(
        ['a', 'c'],
        hostMetadata(3, { sequenceNumberArray: [longOf(7), longOf(8), longOf(9)] }),
      ),
    );
    expect(batch).toEqual({
      detail: '2 events but 3 sequence numbers; 2 events but 3 enqueued times',
      bodies: ['a', 'c'],
      partitionId: '2',
      sequenceNumbers: [7, 8, 9],
      enqueuedTimesMs: [0, 1, 2].map((s) => Date.UTC(2026, 10, 24, 8, 0, s)),
    });
  });
});

describe('lastEnqueuedOf', () => {
  it('reads the newest enqueued event from partitionContext, in either casing', () => {
    expect(
      lastEnqueuedOf({
        partitionContext: {
          partitionId: '0',
          lastEnqueuedEventProperties: { sequenceNumber: 41, enqueuedTime: '2026-11-30T10:00:05Z' },
        },
      }),
    ).toEqual({ sequenceNumber: 41, enqueuedTimeMs: Date.UTC(2026, 10, 30, 10, 0, 5) });
    // The extension's own property names, a Long and a zoneless UTC time.
    expect(
      lastEnqueuedOf({
        partitionContext: {
          PartitionId: '1',
          LastEnqueuedEventProperties: {
            SequenceNumber: { low: 7, high: 1, unsigned: false },
            EnqueuedTime: '2026-11-30T10:00:05.5',
          },
        },
      }),
    ).toEqual({
      sequenceNumber: 2 ** 32 + 7,
      enqueuedTimeMs: Date.UTC(2026, 10, 30, 10, 0, 5, 500),
    });
  });

  it('is undefined when the host does not say', () => {
    expect(lastEnqueuedOf(undefined)).toBeUndefined();
    expect(lastEnqueuedOf({ partitionContext: { partitionId: '0' } })).toBeUndefined();
    expect(
      lastEnqueuedOf({
        partitionContext: {
          lastEnqueuedEventProperties: { sequenceNumber: -1, enqueuedTime: 'x' },
        },
      }),
    ).toBeUndefined();
  });
});
