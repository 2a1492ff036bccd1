/**
 * `npm run simulate -- [options]` (`--help` lists them; dev/simulateOptions.ts parses them):
 * sends simulated readings (dev/simulator.ts) and prints progress and a summary.
 * `--namespace` signs in with Microsoft Entra ID (DefaultAzureCredential: `az login`, a
 * service principal's environment variables or a managed identity), which needs "Azure
 * Event Hubs Data Sender" on the hub; `--connection-string` is a send-only SAS connection.
 */
import { writeFileSync } from 'node:fs';
import { EventHubProducerClient } from '@azure/event-hubs';
import { DefaultAzureCredential } from '@azure/identity';
import { localDeviceConnectionString } from './localStack.js';
import { misbehavingSummary, parseSimulateArgs, simulateUsage } from './simulateOptions.js';
import { defaultGatewaySize, simulate } from './simulator.js';

async function main(): Promise<void> {
  const command = parseSimulateArgs(process.argv.slice(2), process.env, {
    seed: Date.now() % 2 ** 31,
    localConnectionString: localDeviceConnectionString,
  });
  if (command === 'help') {
    process.stdout.write(simulateUsage);
    return;
  }
  const { options, connectionString, namespace, hub } = command;
  const producer = connectionString
    ? new EventHubProducerClient(connectionString, hub)
    : new EventHubProducerClient(namespace ?? '', hub, new DefaultAzureCredential());
  let stopping = false;
  process.on('SIGINT', () => {
    if (stopping) process.exit(130);
    stopping = true;
  });
  try {
    // On a terminal the progress line is rewritten in place; in a log or a pipe, where
    // carriage returns would run every report into one line, each report is a line.
    const onTerminal = process.stderr.isTTY;
    const summary = await simulate(producer, options, (line) =>
      process.stderr.write(onTerminal ? `\r${line}   ` : `${line}\n`),
    );
    if (onTerminal) process.stderr.write('\n');
    const windows = new Set(summary.ledger.map((e) => e.windowStart)).size;
    console.log(
      `Sent ${summary.sent} readings in ${summary.events} events (${options.mode === 'gateway' ? `gateways of ${options.gatewaySize ?? defaultGatewaySize} machines` : 'one per reading'}) ` +
        `from ${options.devices} devices in ${summary.seconds.toFixed(1)} s ` +
        `across ${windows} windows: ${misbehavingSummary(options)}, ` +
        `${summary.anomalous} readings anomalous, ${summary.malformed} malformed, ${summary.errors} errors.`,
    );
    if (command.ledger) {
      writeFileSync(command.ledger, JSON.stringify(summary, null, 2));
      console.log(`Ledger written to ${command.ledger}`);
    }
  } finally {
    await producer.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
