/**
 * The Event Hub half of the local functions host for the end-to-end benchmark: runs the
 * declared `ingestTelemetry` function through the real `EventHubConsumerClient` with blob
 * checkpoints (dev/triggerHost.ts), against the Cosmos settings in the environment.
 * `BENCH_STORAGE` is the Azurite connection string; batches are host.json's
 * `maxEventBatchSize`, waiting at most `BENCH_MAX_WAIT_SECONDS`. Prints `listening 0` once
 * subscribed; stops on SIGTERM.
 */
import { startLocalTriggers } from '../../dev/localTriggers.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';

const triggers = await startLocalTriggers([ingestTelemetryFunction], {
  connectionString: process.env['EventHubConnection'] ?? '',
  storage: process.env['BENCH_STORAGE'] ?? '',
  checkpointContainer: process.env['BENCH_CHECKPOINTS'] ?? 'checkpoints',
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
