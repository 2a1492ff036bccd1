/** Bounded retention seen through the real SDK: old events go, the beginning moves on. */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
} from '@azure/event-hubs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { bodies, fastRetry, receive } from './helpers.js';

let standIn: EventHubsStandIn;
let producer: EventHubProducerClient;
let consumer: EventHubConsumerClient;

beforeAll(async () => {
  standIn = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'small', partitions: 1 }],
    keys: [{ name: 'app', key: 'k', rights: ['Listen', 'Send'] }],
    retention: { maxEventsPerPartition: 3 },
  });
  producer = new EventHubProducerClient(standIn.connectionString('app'), fastRetry);
  consumer = new EventHubConsumerClient('$Default', standIn.connectionString('app'), fastRetry);
});

afterAll(async () => {
  await producer.close();
  await consumer.close();
  await standIn.stop();
});

it('keeps the newest events only', async () => {
  await producer.sendBatch([0, 1, 2, 3, 4].map((i) => ({ body: i })));
  const props = await consumer.getPartitionProperties('0');
  expect(props).toMatchObject({ beginningSequenceNumber: 2, lastEnqueuedSequenceNumber: 4 });
  const { events } = await receive(consumer, '0', earliestEventPosition, 3);
  expect(bodies(events)).toEqual([2, 3, 4]);
  // A position before the beginning starts at the beginning, as the service does.
  const old = await receive(consumer, '0', { sequenceNumber: 0, isInclusive: true }, 3);
  expect(bodies(old.events)).toEqual([2, 3, 4]);
});
