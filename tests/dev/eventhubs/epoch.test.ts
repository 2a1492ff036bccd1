/**
 * Exclusive (epoch) receivers on the Event Hubs stand-in, through the real SDK's `ownerLevel`:
 * a higher or equal epoch takes the partition, a lower one and non-epoch receivers are refused
 * while it holds it, all with `amqp:link:stolen` (the SDK's ReceiverDisconnectedError).
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  latestEventPosition,
  type Subscription,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { fastRetry, receive, startTestStandIn, waitFor } from './helpers.js';

let standIn: EventHubsStandIn;
let producer: EventHubProducerClient;
const clients: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  standIn = await startTestStandIn();
  producer = new EventHubProducerClient(standIn.connectionString('app'), fastRetry);
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await producer.close();
  await standIn.stop();
});

function consumer(): EventHubConsumerClient {
  const client = new EventHubConsumerClient('$Default', standIn.connectionString('app'), fastRetry);
  clients.push(client);
  return client;
}

/** A subscription that records what it sees, and a promise for its link being open. */
function watch(client: EventHubConsumerClient, partitionId: string, ownerLevel?: number) {
  const seen = { events: [] as unknown[], errors: [] as Error[], receiving: false };
  const subscription: Subscription = client.subscribe(
    partitionId,
    {
      processEvents: async (events) => {
        seen.receiving = true;
        seen.events.push(...events.map((e) => e.body as unknown));
        await Promise.resolve();
      },
      processError: async (error) => {
        seen.errors.push(error);
        await Promise.resolve();
      },
    },
    {
      startPosition: latestEventPosition,
      maxWaitTimeInSeconds: 0.2,
      ...(ownerLevel === undefined ? {} : { ownerLevel }),
    },
  );
  return { seen, subscription };
}

describe('epoch receivers', () => {
  it('a higher epoch kicks out a lower one, which cannot come back', async () => {
    const low = watch(consumer(), '0', 1);
    await waitFor(() => low.seen.receiving);

    const high = watch(consumer(), '0', 2);
    await waitFor(() => high.seen.receiving);
    await waitFor(() => low.seen.errors.length > 0);
    expect(low.seen.errors[0]).toMatchObject({
      code: 'ReceiverDisconnectedError',
      message: expect.stringContaining("higher epoch of '2'") as unknown,
    });

    // Only the holder gets what is sent now.
    await low.subscription.close();
    await producer.sendBatch([{ body: 'to the holder' }], { partitionId: '0' });
    await waitFor(() => high.seen.events.length > 0);
    expect(high.seen.events).toEqual(['to the holder']);

    // A lower epoch is refused while the higher one holds the partition.
    const lower = await receive(consumer(), '0', latestEventPosition, 1, {
      stopOnError: true,
      subscribe: { ownerLevel: 1 },
    });
    expect(lower.errors[0]).toMatchObject({
      code: 'ReceiverDisconnectedError',
      message: expect.stringContaining("a higher epoch '2' already exists") as unknown,
    });
    // So is a receiver without an epoch.
    const plain = await receive(consumer(), '0', latestEventPosition, 1, { stopOnError: true });
    expect(plain.errors[0]).toMatchObject({
      code: 'ReceiverDisconnectedError',
      message: expect.stringContaining('non-epoch receiver is not allowed') as unknown,
    });
    expect(high.seen.errors).toEqual([]);
    await high.subscription.close();
  });

  it('an epoch receiver takes the partition from receivers without one', async () => {
    const plain = watch(consumer(), '1');
    await waitFor(() => plain.seen.receiving);
    // Not 0: the consumer client drops a falsy ownerLevel.
    const exclusive = watch(consumer(), '1', 1);
    await waitFor(() => plain.seen.errors.length > 0);
    expect(plain.seen.errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError' });
    await plain.subscription.close();
    await exclusive.subscription.close();
  });

  it('after the holder closes, the partition is free again', async () => {
    const first = watch(consumer(), '2', 5);
    await waitFor(() => first.seen.receiving);
    await first.subscription.close();
    const { errors } = await receive(consumer(), '2', latestEventPosition, 1, {
      timeoutMs: 600,
      stopOnError: true,
    });
    expect(errors).toEqual([]);
  });

  it('allows five receivers without epoch per partition and group, not six', async () => {
    const five = Array.from({ length: 5 }, () => watch(consumer(), '3'));
    await waitFor(() => five.every((w) => w.seen.receiving));
    const sixth = await receive(consumer(), '3', latestEventPosition, 1, { stopOnError: true });
    expect(sixth.errors[0]).toMatchObject({ code: 'QuotaExceededError' });
    for (const w of five) await w.subscription.close();
  });
});
