/**
 * Conformance of the Event Hubs stand-in with the real SDK clients: properties, publishing by
 * key, by partition and round robin, batches, annotations, and every start position.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  EventHubBufferedProducerClient,
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { partitionIndexForKey } from '../../../dev/eventhubs/index.js';
import { bodies, fastRetry, receive, startTestStandIn } from './helpers.js';

let standIn: EventHubsStandIn;
let producer: EventHubProducerClient;
let consumer: EventHubConsumerClient;

beforeAll(async () => {
  standIn = await startTestStandIn();
  producer = new EventHubProducerClient(standIn.connectionString('app'), fastRetry);
  consumer = new EventHubConsumerClient('$Default', standIn.connectionString('app'), fastRetry);
});

afterAll(async () => {
  await producer.close();
  await consumer.close();
  await standIn.stop();
});

/** The SDK's own key → partition mapping (internal, so loaded by path). */
const require = createRequire(import.meta.url);
const sdkMapper = require(
  join(dirname(require.resolve('@azure/event-hubs')), 'impl/partitionKeyToIdMapper.js'),
) as { mapPartitionKeyToId(key: string, count: number): number };

async function drain(partitionId: string): Promise<ReceivedEventData[]> {
  const props = await consumer.getPartitionProperties(partitionId);
  const count = props.isEmpty
    ? 0
    : props.lastEnqueuedSequenceNumber - props.beginningSequenceNumber + 1;
  if (count === 0) return [];
  const { events, errors } = await receive(consumer, partitionId, earliestEventPosition, count);
  expect(errors).toEqual([]);
  return events;
}

describe('management', () => {
  it('reports the hub and its partitions', async () => {
    const props = await producer.getEventHubProperties();
    expect(props.name).toBe('telemetry');
    expect(props.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(props.createdOn).toBeInstanceOf(Date);
    expect(await consumer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
  });

  it('reports an empty partition, then its last event', async () => {
    const before = await producer.getPartitionProperties('3');
    expect(before).toMatchObject({
      partitionId: '3',
      eventHubName: 'telemetry',
      isEmpty: true,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: '-1',
    });
    await producer.sendBatch([{ body: 'a' }, { body: 'b' }], { partitionId: '3' });
    const after = await consumer.getPartitionProperties('3');
    expect(after.isEmpty).toBe(false);
    expect(after.beginningSequenceNumber).toBe(0);
    expect(after.lastEnqueuedSequenceNumber).toBe(1);
    expect(Number(after.lastEnqueuedOffset)).toBeGreaterThan(0);
    expect(Math.abs(after.lastEnqueuedOnUtc.getTime() - Date.now())).toBeLessThan(10_000);
  });

  it('refuses a partition that does not exist, as the service does', async () => {
    await expect(producer.getPartitionProperties('9')).rejects.toMatchObject({
      code: 'ArgumentOutOfRangeError',
    });
    await expect(producer.sendBatch([{ body: 'x' }], { partitionId: '9' })).rejects.toMatchObject({
      code: 'ArgumentOutOfRangeError',
    });
  });
});

describe('publishing', () => {
  it('keeps every key in one partition, the one the SDK computes', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `equipment-${i + 1}`);
    for (const round of [1, 2]) {
      for (const partitionKey of keys) {
        const batch = await producer.createBatch({ partitionKey });
        expect(batch.tryAdd({ body: { key: partitionKey, round } })).toBe(true);
        await producer.sendBatch(batch);
      }
    }
    // A plain array with a key goes the same way.
    await producer.sendBatch([{ body: { key: 'equipment-1', round: 3 } }], {
      partitionKey: 'equipment-1',
    });

    const seen = new Map<string, Set<string>>();
    for (const id of ['0', '1', '2', '3']) {
      for (const event of await drain(id)) {
        const body = event.body as { key?: string };
        if (!body.key) continue;
        expect(event.partitionKey).toBe(body.key);
        const set = seen.get(body.key) ?? new Set<string>();
        set.add(id);
        seen.set(body.key, set);
      }
    }
    for (const key of keys) {
      const expected = String(sdkMapper.mapPartitionKeyToId(key, 4));
      expect([...(seen.get(key) ?? [])], key).toEqual([expected]);
      expect(partitionIndexForKey(key, 4)).toBe(Number(expected));
    }
    // Twelve keys over four partitions: the hash spreads them.
    expect(new Set([...seen.values()].flatMap((s) => [...s])).size).toBeGreaterThan(1);
  });

  it('delivers a batch to the partition asked for, in order, with annotations', async () => {
    const batch = await producer.createBatch({ partitionId: '1' });
    for (let i = 0; i < 5; i++) {
      expect(
        batch.tryAdd({
          body: { i },
          properties: { seq: i, kind: 'reading' },
          contentType: 'application/json',
          messageId: `m-${i}`,
        }),
      ).toBe(true);
    }
    const before = await consumer.getPartitionProperties('1');
    await producer.sendBatch(batch);
    const { events } = await receive(
      consumer,
      '1',
      { sequenceNumber: before.lastEnqueuedSequenceNumber },
      5,
    );
    expect(bodies(events)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    const first = before.lastEnqueuedSequenceNumber + 1;
    events.forEach((event, n) => {
      expect(event.sequenceNumber).toBe(first + n);
      expect(typeof event.offset).toBe('string');
      expect(event.enqueuedTimeUtc).toBeInstanceOf(Date);
      expect(event.properties).toEqual({ seq: n, kind: 'reading' });
      expect(event.contentType).toBe('application/json');
      expect(event.messageId).toBe(`m-${n}`);
      expect(event.partitionKey).toBeUndefined();
      const annotations = event.getRawAmqpMessage().messageAnnotations ?? {};
      expect(annotations['x-opt-sequence-number']).toBe(first + n);
      expect(annotations['x-opt-offset']).toBe(event.offset);
      expect(annotations['x-opt-enqueued-time']).toBeInstanceOf(Date);
    });
    // Offsets are byte positions: strictly increasing, not sequence numbers.
    const offsets = events.map((e) => Number(e.offset));
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(offsets).size).toBe(5);
  });

  it('spreads events without key or partition over the partitions (round robin)', async () => {
    const before = await Promise.all(
      ['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)),
    );
    for (let i = 0; i < 8; i++) await producer.sendBatch([{ body: `rr-${i}` }]);
    const after = await Promise.all(
      ['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)),
    );
    const added = after.map(
      (p, i) => p.lastEnqueuedSequenceNumber - (before[i]?.lastEnqueuedSequenceNumber ?? 0),
    );
    expect(added).toEqual([2, 2, 2, 2]);
  });

  it('refuses a batch bigger than the service limit', async () => {
    const batch = await producer.createBatch({ partitionId: '0' });
    // The SDK sizes batches from the limit the link advertised (1 MiB).
    expect(batch.maxSizeInBytes).toBe(1024 * 1024);
    expect(batch.tryAdd({ body: 'x'.repeat(1024 * 1024) })).toBe(false);
  });

  it('takes events from the buffered producer, whose client-side key mapping agrees', async () => {
    const flushed: string[] = [];
    const buffered = new EventHubBufferedProducerClient(standIn.connectionString('device'), {
      ...fastRetry,
      onSendEventsErrorHandler: () => undefined,
      onSendEventsSuccessHandler: (ctx) => {
        flushed.push(ctx.partitionId);
      },
    });
    try {
      const before = await consumer.getPartitionProperties(
        String(sdkMapper.mapPartitionKeyToId('buffered-7', 4)),
      );
      await buffered.enqueueEvents([{ body: 'b1' }, { body: 'b2' }], {
        partitionKey: 'buffered-7',
      });
      await buffered.flush();
      const expected = String(sdkMapper.mapPartitionKeyToId('buffered-7', 4));
      expect(new Set(flushed)).toEqual(new Set([expected]));
      const { events } = await receive(
        consumer,
        expected,
        { sequenceNumber: before.lastEnqueuedSequenceNumber },
        2,
      );
      expect(bodies(events)).toEqual(['b1', 'b2']);
      // The buffered producer maps keys itself and sends to the partition: no key goes out.
      expect(events.map((e) => e.partitionKey)).toEqual([undefined, undefined]);
    } finally {
      await buffered.close({ flush: false });
    }
  });
});

describe('start positions', () => {
  const partitionId = '2';
  let stream: ReceivedEventData[] = [];

  beforeAll(async () => {
    // Separate sends a few milliseconds apart, so enqueued times differ.
    for (let i = 0; i < 5; i++) {
      await producer.sendBatch([{ body: `pos-${i}` }], { partitionId });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    stream = (await drain(partitionId)).filter((e) => String(e.body).startsWith('pos-'));
    expect(bodies(stream)).toEqual(['pos-0', 'pos-1', 'pos-2', 'pos-3', 'pos-4']);
  });

  const from = (n: number) => stream[n]!;
  const expectStart = async (position: Parameters<typeof receive>[2], first: number) => {
    const { events, errors } = await receive(consumer, partitionId, position, 5 - first);
    expect(errors).toEqual([]);
    expect(bodies(events).filter((b) => String(b).startsWith('pos-'))).toEqual(
      bodies(stream.slice(first)),
    );
  };

  it('earliest', async () => {
    await expectStart(earliestEventPosition, 0);
  });

  it('offset, exclusive and inclusive', async () => {
    await expectStart({ offset: from(1).offset }, 2);
    await expectStart({ offset: from(1).offset, isInclusive: true }, 1);
  });

  it('refuses a position past the end of the stream, as the service does', async () => {
    const last = from(4);
    for (const position of [
      { offset: String(Number(last.offset) + 1) },
      { sequenceNumber: last.sequenceNumber + 5 },
    ]) {
      const refused = await receive(consumer, partitionId, position, 1, { stopOnError: true });
      expect(refused.events).toEqual([]);
      expect(refused.errors[0]).toMatchObject({ code: 'ArgumentOutOfRangeError' });
      expect(String(refused.errors[0])).toMatch(/is invalid\. The last .* in the system is/);
    }
    // The last event itself, exclusive, is a valid place to wait for what comes next.
    await expectStart({ offset: last.offset }, 5);
  });

  it('sequence number, exclusive and inclusive', async () => {
    await expectStart({ sequenceNumber: from(2).sequenceNumber }, 3);
    await expectStart({ sequenceNumber: from(2).sequenceNumber, isInclusive: true }, 2);
  });

  it('enqueued time (after the given instant)', async () => {
    await expectStart({ enqueuedOn: from(2).enqueuedTimeUtc }, 3);
    await expectStart({ enqueuedOn: from(2).enqueuedTimeUtc.getTime() - 1 }, 2);
  });

  it('latest: only what is sent after the receiver opened', async () => {
    const { events, errors } = await receive(consumer, partitionId, latestEventPosition, 1, {
      whenReceiving: async () => {
        await producer.sendBatch([{ body: 'late' }], { partitionId });
      },
    });
    expect(errors).toEqual([]);
    expect(bodies(events)).toEqual(['late']);
  });

  it('a configured consumer group reads independently; an unknown one is refused', async () => {
    const analytics = new EventHubConsumerClient(
      'analytics',
      standIn.connectionString('app'),
      fastRetry,
    );
    const unknown = new EventHubConsumerClient('nope', standIn.connectionString('app'), fastRetry);
    try {
      const { events } = await receive(
        analytics,
        partitionId,
        { sequenceNumber: from(3).sequenceNumber, isInclusive: true },
        2,
      );
      expect(bodies(events).slice(0, 2)).toEqual(['pos-3', 'pos-4']);
      const refused = await receive(unknown, partitionId, earliestEventPosition, 1, {
        stopOnError: true,
      });
      expect(refused.events).toEqual([]);
      expect(refused.errors[0]).toMatchObject({ code: 'MessagingEntityNotFoundError' });
    } finally {
      await analytics.close();
      await unknown.close();
    }
  });

  it('reports last-enqueued properties when tracking is asked for', async () => {
    let last: { sequenceNumber?: number } | undefined;
    const tracking = new EventHubConsumerClient(
      '$Default',
      standIn.connectionString('app'),
      fastRetry,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error('no events'));
        }, 8_000);
        const sub = tracking.subscribe(
          partitionId,
          {
            processEvents: async (events, context) => {
              if (events.length === 0) return;
              last = context.lastEnqueuedEventProperties;
              clearTimeout(timer);
              await sub.close();
              resolve();
            },
            processError: async () => {},
          },
          {
            startPosition: earliestEventPosition,
            trackLastEnqueuedEventProperties: true,
            maxWaitTimeInSeconds: 0.2,
          },
        );
      });
      const props = await tracking.getPartitionProperties(partitionId);
      expect(last?.sequenceNumber).toBe(props.lastEnqueuedSequenceNumber);
    } finally {
      await tracking.close();
    }
  });
});
