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

export function createHubProbe(config: SectionConfig<'eventHubs'>): {
  probe: HubProbe;
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
    close: async () => {
      if (client) await (await client).close();
    },
  };
}
