/**
 * Whether a partition has events the pipeline has not processed yet, asked of Event Hubs
 * itself (partition properties: the last enqueued sequence number). The idle-window timer
 * closes windows by the wall clock only for partitions that are truly quiet, never for one
 * that is merely behind (after a restart, a rebalance or a burst), whose backlog would
 * otherwise be dead-lettered as late.
 */
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { EventHubConsumerClient } from '@azure/event-hubs';
import type { SectionConfig } from '../config.js';

/** True when every event enqueued in the partition is at or below `lastSequenceNumber`. */
export type HubProbe = (partitionId: string, lastSequenceNumber: number) => Promise<boolean>;

export function createHubProbe(config: SectionConfig<'eventHubs'>): {
  probe: HubProbe;
  close: () => Promise<void>;
} {
  const hub = config.EVENTHUB_NAME;
  const group = config.EVENTHUB_CONSUMER_GROUP;
  let client: EventHubConsumerClient;
  if (config.EventHubConnection) {
    client = new EventHubConsumerClient(group, config.EventHubConnection, hub);
  } else if (config.EventHubConnection__fullyQualifiedNamespace) {
    const credential = config.EventHubConnection__clientId
      ? new ManagedIdentityCredential({ clientId: config.EventHubConnection__clientId })
      : new DefaultAzureCredential();
    client = new EventHubConsumerClient(
      group,
      config.EventHubConnection__fullyQualifiedNamespace,
      hub,
      credential,
    );
  } else {
    throw new Error('Set EventHubConnection or EventHubConnection__fullyQualifiedNamespace');
  }
  return {
    probe: async (partitionId, lastSequenceNumber) => {
      const properties = await client.getPartitionProperties(partitionId);
      return properties.isEmpty || properties.lastEnqueuedSequenceNumber <= lastSequenceNumber;
    },
    close: () => client.close(),
  };
}
