/**
 * The Event Hub half of the local functions host for the end-to-end benchmark: runs the
 * declared `ingestTelemetry` function through the real `EventHubConsumerClient` with blob
 * checkpoints (dev/triggerHost.ts), with services built from the app settings this process
 * was started with (bench/servers/stack.ts `appEnv`).
 * `BENCH_STORAGE` is the Azurite connection string; batches are host.json's (the production
 * settings, batched as the extension does), unless `BENCH_MAX_WAIT_SECONDS` overrides its
 * `maxWaitTime`. Prints `listening 0` once it owns every partition of the hub; stops on SIGTERM.
 */
import { EventHubConsumerClient } from '@azure/event-hubs';
import { startLocalTriggers } from '../../dev/localTriggers.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { configSections } from '../../lib/config.js';
import { createServices, useServices } from '../../lib/services.js';

/** The settings this child was given: read once, then passed explicitly. */
const settings = { ...process.env };
const services = createServices(configSections(settings));
useServices(services);
const subscribedAt = Date.now();
const triggers = await startLocalTriggers([ingestTelemetryFunction], {
  connectionString: settings['EventHubConnection'] ?? '',
  settings,
  storage: settings['BENCH_STORAGE'] ?? '',
  checkpointContainer: settings['BENCH_CHECKPOINTS'] ?? 'checkpoints',
  ...(settings['BENCH_MAX_WAIT_SECONDS'] === undefined
    ? {}
    : { maxWaitTimeSeconds: Number(settings['BENCH_MAX_WAIT_SECONDS']) }),
  // Only problems: a line per batch would measure the terminal.
  log: (level, name, message) => {
    if (level !== 'information') console.error(`${name}: ${message}`);
  },
});
await ownEveryPartition();
console.log('listening 0');
/**
 * Waits until this host has claimed every partition, so a benchmark that starts sending on
 * `listening` measures the pipeline and not the host's start-up. Subscribing only starts the
 * consumer's load-balancing loop; the claims come after (as ownership blobs in the checkpoint
 * container, `BlobCheckpointStore.getBlobPrefix` in Azure/azure-sdk-for-js
 * sdk/eventhub/eventhubs-checkpointstore-blob/src/blobCheckpointStore.ts:
 * `<namespace>/<hub>/<consumer group>/ownership/<partition>`), and a partition's receiver
 * starts once it is claimed (sdk/eventhub/event-hubs/src/eventProcessor.ts `_claimOwnership`,
 * which calls `_startPump` after the claim).
 */
async function ownEveryPartition(): Promise<void> {
  const hub = settings['EVENTHUB_NAME'] ?? 'telemetry';
  const probe = new EventHubConsumerClient(
    settings['EVENTHUB_CONSUMER_GROUP'] ?? '$Default',
    settings['EventHubConnection'] ?? '',
    hub,
  );
  const partitions = (await probe.getPartitionIds()).length;
  await probe.close();
  const limit = Date.now() + 60_000;
  for (;;) {
    let owned = 0;
    for await (const blob of triggers.checkpoints.listBlobsFlat()) {
      // Claimed by this host: written since it subscribed (the listing's times are whole seconds).
      const modified = blob.properties.lastModified.getTime();
      if (blob.name.includes('/ownership/') && modified >= subscribedAt - 1000) owned++;
    }
    if (owned >= partitions) return;
    if (Date.now() > limit) throw new Error(`owns ${owned} of ${partitions} partitions after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

process.once('SIGTERM', () => {
  void triggers
    .stop()
    .then(() => services.close())
    .then(() => process.exit(0));
});
