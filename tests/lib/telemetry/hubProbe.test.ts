/** The hub probe asks Event Hubs (here the stand-in, over AMQP) how far a partition goes. */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { createHubProbe } from '../../../lib/telemetry/hubProbe.js';

let eventHubs: EventHubsStandIn;

beforeAll(async () => {
  eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 2 }],
    keys: [{ name: 'app', key: 'cHJvYmUta2V5LWZvci10ZXN0cw==', rights: ['Listen', 'Send'] }],
  });
});

afterAll(async () => {
  await eventHubs.stop();
});

describe('createHubProbe', () => {
  it('says a partition is caught up only when nothing was enqueued past the given sequence number or time', async () => {
    const sentAfter = Date.now();
    const producer = new EventHubProducerClient(eventHubs.connectionString('app'), 'telemetry');
    const batch = await producer.createBatch({ partitionId: '0' });
    for (const body of ['a', 'b', 'c']) batch.tryAdd({ body });
    await producer.sendBatch(batch);
    await producer.close();

    const { probe, close } = createHubProbe({
      EventHubConnection: eventHubs.connectionString('app'),
      EVENTHUB_NAME: 'telemetry',
      EVENTHUB_CONSUMER_GROUP: '$Default',
    });
    try {
      const progress = (lastSequenceNumber: number, lastEnqueuedTimeMs: number | null = null) => ({
        lastSequenceNumber,
        lastEnqueuedTimeMs,
      });
      expect(await probe('0', progress(1))).toBe(false);
      expect(await probe('0', progress(2))).toBe(true);
      expect(await probe('0', progress(2, Date.now() + 60_000))).toBe(true);
      expect(await probe('1', progress(-1))).toBe(true);
      // A hub recreated under the same name: its numbers are below what the state committed
      // on the old hub, but its events were enqueued after: not caught up.
      expect(await probe('0', progress(1000, sentAfter - 1))).toBe(false);
    } finally {
      await close();
    }
  });

  it('refuses to start without a connection setting', () => {
    expect(() =>
      createHubProbe({ EVENTHUB_NAME: 'telemetry', EVENTHUB_CONSUMER_GROUP: '$Default' }),
    ).toThrow(/EventHubConnection/);
  });
});
