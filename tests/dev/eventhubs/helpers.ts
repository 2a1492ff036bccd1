/**
 * Shared set-up for the Event Hubs stand-in conformance tests: a stand-in with the three keys the
 * product uses (device send-only, app listen+send, root manage), and a bounded receive helper over
 * the real `EventHubConsumerClient`.
 */
import {
  EventHubConsumerClient,
  type EventPosition,
  type ReceivedEventData,
  type SubscribeOptions,
} from '@azure/event-hubs';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';

export const keys = {
  device: 'ZGV2aWNlLWtleS1mb3ItdGVzdHMtb25seS0wMDAwMDA=',
  app: 'YXBwLWtleS1mb3ItdGVzdHMtb25seS0wMDAwMDAwMDA=',
  root: 'cm9vdC1rZXktZm9yLXRlc3RzLW9ubHktMDAwMDAwMDA=',
};

/** Fails fast: the SDK's default retries (with backoff) would turn every refusal into seconds. */
export const fastRetry = { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } };

/** A stand-in on a free port with hub `telemetry` (4 partitions, group `analytics` too). */
export function startTestStandIn(): Promise<EventHubsStandIn> {
  return startEventHubsStandIn({
    host: '127.0.0.1',
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 4, consumerGroups: ['$Default', 'analytics'] }],
    keys: [
      { name: 'device', key: keys.device, rights: ['Send'] },
      { name: 'app', key: keys.app, rights: ['Listen', 'Send'] },
      { name: 'RootManageSharedAccessKey', key: keys.root, rights: ['Manage', 'Listen', 'Send'] },
    ],
  });
}

/** What one bounded subscription saw. */
export interface Received {
  events: ReceivedEventData[];
  errors: Error[];
}

/**
 * Subscribes to one partition from `startPosition` until `count` events arrived, an error was
 * reported (when `stopOnError`), or `timeoutMs` passed; then closes the subscription. When
 * `whenReceiving` is given it runs once the receive link is open (the first, empty, batch), which
 * lets a test send after a `latest` receiver is in place.
 */
export async function receive(
  consumer: EventHubConsumerClient,
  partitionId: string,
  startPosition: EventPosition,
  count: number,
  options: {
    timeoutMs?: number;
    whenReceiving?: () => Promise<void>;
    stopOnError?: boolean;
    subscribe?: SubscribeOptions;
  } = {},
): Promise<Received> {
  const events: ReceivedEventData[] = [];
  const errors: Error[] = [];
  let whenReceiving = options.whenReceiving;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const timer = setTimeout(finish, options.timeoutMs ?? 8_000);
  const subscription = consumer.subscribe(
    partitionId,
    {
      processEvents: async (batch) => {
        if (whenReceiving) {
          const run = whenReceiving;
          whenReceiving = undefined;
          await run();
        }
        events.push(...batch);
        if (events.length >= count) finish();
      },
      processError: async (error) => {
        errors.push(error);
        if (options.stopOnError) finish();
        await Promise.resolve();
      },
    },
    { startPosition, maxWaitTimeInSeconds: 0.2, maxBatchSize: 50, ...options.subscribe },
  );
  await done;
  clearTimeout(timer);
  await subscription.close();
  return { events, errors };
}

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A body decoded from JSON by the SDK, as text for comparisons. */
export function bodies(events: readonly ReceivedEventData[]): unknown[] {
  return events.map((e) => e.body as unknown);
}
