/**
 * Whether a partition has events the pipeline has not processed yet, asked of Event Hubs
 * itself (partition properties: the last enqueued sequence number). The idle-window timer
 * closes windows by the wall clock only for partitions that are truly quiet, never for one
 * that is merely behind (after a restart, a rebalance or a burst), whose backlog would
 * otherwise be dead-lettered as late.
 */
import type { EventHubConsumerClient } from '@azure/event-hubs';
import type { SectionConfig } from '../config.js';
import { azureCredential } from '../identity.js';
import { recordHubLag } from '../observability/instruments.js';

/** How far a partition's processing has committed (from its state). */
export interface PartitionProgress {
  lastSequenceNumber: number;
  /** Newest enqueued time committed, or null when unknown (states from before epochs). */
  lastEnqueuedTimeMs: number | null;
}

/**
 * True when the partition holds nothing the pipeline has not processed: nothing enqueued past
 * the committed sequence number, nor after the committed enqueued time. The second check
 * catches a hub recreated or failed over, whose small new sequence numbers would otherwise
 * look processed before its first batch starts the new epoch.
 */
export type HubProbe = (partitionId: string, progress: PartitionProgress) => Promise<boolean>;

/** How far a partition's committed processing is behind what the hub holds. */
export interface PartitionLag {
  /** Events enqueued past the committed sequence number (0 when none, or a new epoch's). */
  events: number;
  /** Seconds between the newest enqueued event and the newest committed one (0: none). */
  seconds: number;
}

/**
 * The lag of a partition as Event Hubs itself sees it: unlike the trigger's own figure, it
 * keeps growing while nothing consumes the partition (the trigger host down or stuck).
 */
export type HubLag = (
  partitionId: string,
  progress: PartitionProgress,
  abortSignal?: AbortSignal,
) => Promise<PartitionLag>;

/** The hub's partition ids, asked of Event Hubs (every partition, consumed or not). */
export type HubPartitions = (abortSignal?: AbortSignal) => Promise<string[]>;

export function createHubProbe(config: SectionConfig<'eventHubs'>): {
  probe: HubProbe;
  lag: HubLag;
  partitionIds: HubPartitions;
  close: () => Promise<void>;
} {
  const hub = config.EVENTHUB_NAME;
  const group = config.EVENTHUB_CONSUMER_GROUP;
  const connection = config.EventHubConnection;
  const namespace = config.EventHubConnection__fullyQualifiedNamespace;
  if (!connection && !namespace) {
    throw new Error('Set EventHubConnection or EventHubConnection__fullyQualifiedNamespace');
  }
  // The SDK loads at the first probe, not when the app is imported (cold start).
  let client: Promise<EventHubConsumerClient> | undefined;
  const connect = () =>
    (client ??= import('@azure/event-hubs').then(({ EventHubConsumerClient: Client }) =>
      connection
        ? new Client(group, connection, hub)
        : new Client(
            group,
            namespace ?? '',
            hub,
            azureCredential(config.EventHubConnection__clientId),
          ),
    ));
  return {
    probe: async (partitionId, progress) => {
      const properties = await (await connect()).getPartitionProperties(partitionId);
      if (properties.isEmpty) return true;
      return (
        properties.lastEnqueuedSequenceNumber <= progress.lastSequenceNumber &&
        (progress.lastEnqueuedTimeMs === null ||
          properties.lastEnqueuedOnUtc.getTime() <= progress.lastEnqueuedTimeMs)
      );
    },
    // Both calls take an abort signal (OperationOptions.abortSignal; they throw AbortError
    // when it fires: Azure/azure-sdk-for-js sdk/eventhub/event-hubs/src/eventHubConsumerClient.ts,
    // getPartitionIds and getPartitionProperties), so a caller answering a person can bound
    // the wait on an unreachable hub instead of waiting out the SDK's retries.
    lag: async (partitionId, progress, abortSignal) => {
      const properties = await (
        await connect()
      ).getPartitionProperties(partitionId, abortSignal ? { abortSignal } : {});
      if (properties.isEmpty) return { events: 0, seconds: 0 };
      const seconds =
        progress.lastEnqueuedTimeMs === null
          ? 0
          : (properties.lastEnqueuedOnUtc.getTime() - progress.lastEnqueuedTimeMs) / 1000;
      return {
        events: Math.max(0, properties.lastEnqueuedSequenceNumber - progress.lastSequenceNumber),
        seconds: Math.max(0, seconds),
      };
    },
    partitionIds: async (abortSignal) =>
      (await connect()).getPartitionIds(abortSignal ? { abortSignal } : {}),
    close: async () => {
      if (client) await (await client).close();
    },
  };
}

/**
 * Records every partition's lag as the hub sees it (`sis.ingest.lag.*`), from the committed
 * states: run by the idle-window timer, so the figure grows while the trigger consumes
 * nothing. A partition the hub cannot be asked about keeps its last figure.
 */
export async function recordHubLags(
  states: readonly {
    partitionId: string;
    lastSequenceNumber: number;
    lastEnqueuedTimeMs: number | null;
  }[],
  lag: HubLag,
): Promise<void> {
  await Promise.all(
    states.map(async (state) => {
      try {
        const { events, seconds } = await lag(state.partitionId, state);
        recordHubLag(state.partitionId, events, seconds);
      } catch {
        // The next tick asks again; closing windows does not depend on this figure.
      }
    }),
  );
}
