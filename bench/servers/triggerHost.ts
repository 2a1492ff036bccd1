/**
 * The Event Hub half of the local functions host for the end-to-end benchmark: runs the
 * declared `ingestTelemetry` function through the real `EventHubConsumerClient` with blob
 * checkpoints (dev/triggerHost.ts), with services built from the app settings this process
 * was started with (bench/servers/stack.ts `appEnv`).
 * `BENCH_STORAGE` is the Azurite connection string; batches are host.json's (the production
 * settings, batched as the extension does), unless `BENCH_MAX_WAIT_SECONDS` overrides its
 * `maxWaitTime`. Prints `listening 0` once subscribed; stops on SIGTERM.
 */
import { startLocalTriggers } from '../../dev/localTriggers.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { configSections } from '../../lib/config.js';
import { createServices, useServices } from '../../lib/services.js';

/** The settings this child was given: read once, then passed explicitly. */
const settings = { ...process.env };
const services = createServices(configSections(settings));
useServices(services);
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
console.log('listening 0');
process.once('SIGTERM', () => {
  void triggers
    .stop()
    .then(() => services.close())
    .then(() => process.exit(0));
});
