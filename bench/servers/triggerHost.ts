/**
 * The Event Hub half of the local functions host for the end-to-end benchmark: runs the
 * declared `ingestTelemetry` function through the real `EventHubConsumerClient` with blob
 * checkpoints (dev/triggerHost.ts), against the Cosmos settings in the environment.
 * `BENCH_STORAGE` is the Azurite connection string; batches are host.json's
 * `maxEventBatchSize`, waiting at most `BENCH_MAX_WAIT_SECONDS`. Prints `listening 0` once
 * subscribed; stops on SIGTERM.
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { hostJsonEventHubs } from '../../dev/hostJson.js';
import { startEventHubTriggers } from '../../dev/triggerHost.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';

const checkpoints = new ContainerClient(
  process.env['BENCH_STORAGE'] ?? '',
  process.env['BENCH_CHECKPOINTS'] ?? 'checkpoints',
);
await checkpoints.createIfNotExists();
const triggers = startEventHubTriggers([ingestTelemetryFunction], {
  connectionString: process.env['EventHubConnection'] ?? '',
  checkpointStore: new BlobCheckpointStore(checkpoints),
  maxEventBatchSize: hostJsonEventHubs().maxEventBatchSize,
  maxWaitTimeSeconds: Number(process.env['BENCH_MAX_WAIT_SECONDS'] ?? 1),
  // Only problems: a line per batch would measure the terminal.
  log: (level, name, message) => {
    if (level !== 'information') console.error(`${name}: ${message}`);
  },
});
console.log('listening 0');
process.once('SIGTERM', () => {
  void triggers.stop().then(() => process.exit(0));
});
