/**
 * `npm run simulate -- --devices N --interval S --duration T [--anomaly-rate P]
 * [--malformed-rate P] [--connection-string CS | --namespace FQNS] [--hub NAME] [--ledger FILE]
 * [--seed N]`: sends simulated readings (dev/simulator.ts) and prints progress and a summary.
 * `--namespace` signs in with Microsoft Entra ID (DefaultAzureCredential: `az login`, a
 * service principal's environment variables or a managed identity), which needs "Azure
 * Event Hubs Data Sender" on the hub; `--connection-string` is a send-only SAS connection.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EventHubProducerClient } from '@azure/event-hubs';
import { DefaultAzureCredential } from '@azure/identity';
import { localDeviceConnectionString } from './localStack.js';
import { simulate, type SimulationOptions } from './simulator.js';

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new Error(`--${name} must be a number from ${min} to ${max}`);
  }
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      interval: { type: 'string' },
      duration: { type: 'string' },
      'anomaly-rate': { type: 'string' },
      'malformed-rate': { type: 'string' },
      'connection-string': { type: 'string' },
      namespace: { type: 'string' },
      hub: { type: 'string' },
      ledger: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const namespace = values.namespace ?? process.env['SIMULATOR_NAMESPACE'];
  // With neither given, the local stack's stand-in (`npm start` on this machine).
  const connectionString =
    values['connection-string'] ??
    process.env['SIMULATOR_CONNECTION_STRING'] ??
    (namespace ? undefined : localDeviceConnectionString());
  if (!connectionString === !namespace) {
    throw new Error(
      'Give --connection-string (a send-only connection string; npm start prints one; by ' +
        'default the local stack started here), or ' +
        '--namespace (<name>.servicebus.windows.net, signing in with Entra ID), not both',
    );
  }
  const options: SimulationOptions = {
    devices: number('devices', values.devices, 20, 1, 100_000),
    intervalSeconds: number('interval', values.interval, 1, 0.05, 3600),
    durationSeconds: number('duration', values.duration, 60, 1, 86_400),
    anomalyRate: number('anomaly-rate', values['anomaly-rate'], 0, 0, 1),
    malformedRate: number('malformed-rate', values['malformed-rate'], 0, 0, 1),
    seed: number('seed', values.seed, Date.now() % 2 ** 31, 0, 2 ** 31),
  };
  const hub = values.hub ?? process.env['EVENTHUB_NAME'] ?? 'telemetry';
  const producer = connectionString
    ? new EventHubProducerClient(connectionString, hub)
    : new EventHubProducerClient(namespace ?? '', hub, new DefaultAzureCredential());
  let stopping = false;
  process.on('SIGINT', () => {
    if (stopping) process.exit(130);
    stopping = true;
  });
  try {
    const summary = await simulate(producer, options, (line) =>
      process.stderr.write(`\r${line}   `),
    );
    process.stderr.write('\n');
    const windows = new Set(summary.ledger.map((e) => e.windowStart)).size;
    console.log(
      `Sent ${summary.sent} readings from ${options.devices} devices in ${summary.seconds.toFixed(1)} s ` +
        `(${summary.malformed} malformed, ${summary.anomalous} anomalous, ${summary.errors} errors) across ${windows} windows.`,
    );
    if (values.ledger) {
      writeFileSync(values.ledger, JSON.stringify(summary, null, 2));
      console.log(`Ledger written to ${values.ledger}`);
    }
  } finally {
    await producer.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
