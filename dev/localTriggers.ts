/**
 * The Event Hub triggers as a local host runs them: the declared functions subscribed through
 * the real `EventHubConsumerClient` (dev/triggerHost.ts), with their checkpoints in a blob
 * container of a storage account (Azurite), batches as host.json sets them. One wiring for
 * `npm start`, the benchmark's trigger host and the end-to-end tests.
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import type { EventHubFunctionDeclaration } from '../lib/host/declarations.js';
import { clearCheckpoints } from './checkpoints.js';
import { hostJsonEventHubs } from './hostJson.js';
import { startEventHubTriggers, type EventHubTriggerOptions, type Running } from './triggerHost.js';

export interface LocalTriggerOptions extends Omit<
  EventHubTriggerOptions,
  'checkpointStore' | 'maxEventBatchSize' | 'minEventBatchSize' | 'maxWaitTimeSeconds'
> {
  /** Connection string of the storage account that keeps the checkpoints (Azurite). */
  storage: string;
  /** The blob container of the checkpoints; created when missing. */
  checkpointContainer: string;
  /**
   * Deletes the checkpoints first, because the hub is new: the in-memory Event Hubs stand-in
   * started by this run has none of the offsets they name (see dev/checkpoints.ts).
   */
  newHub?: boolean;
  /** Default: host.json's `extensions.eventHubs`. */
  maxEventBatchSize?: number;
  /** Default: host.json's `extensions.eventHubs`. */
  minEventBatchSize?: number;
  /** Default: host.json's `extensions.eventHubs`. */
  maxWaitTimeSeconds?: number;
}

export interface LocalTriggers extends Running {
  /** The container of the checkpoints. */
  checkpoints: ContainerClient;
}

/** Subscribes every declaration; resolves once all are subscribed. */
export async function startLocalTriggers(
  declarations: readonly EventHubFunctionDeclaration[],
  options: LocalTriggerOptions,
): Promise<LocalTriggers> {
  const { storage, checkpointContainer, newHub, ...triggerOptions } = options;
  const checkpoints = new ContainerClient(storage, checkpointContainer);
  await checkpoints.createIfNotExists();
  if (newHub) await clearCheckpoints(checkpoints);
  const batches = hostJsonEventHubs();
  const running = startEventHubTriggers(declarations, {
    maxEventBatchSize: batches.maxEventBatchSize,
    minEventBatchSize: batches.minEventBatchSize,
    maxWaitTimeSeconds: batches.maxWaitTimeSeconds,
    prefetchCount: batches.prefetchCount,
    ...triggerOptions,
    checkpointStore: new BlobCheckpointStore(checkpoints),
  });
  return { ...running, checkpoints };
}
