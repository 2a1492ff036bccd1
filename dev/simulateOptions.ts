/**
 * The command line of `npm run simulate` (dev/simulate.ts): its usage text and the parsing of
 * its options, apart from the sending so both can be tested without a run.
 */
import { parseArgs } from 'node:util';
import {
  defaultGatewaySize,
  maxGatewaySize,
  misbehavingCount,
  simulationModes,
  type SimulationMode,
  type SimulationOptions,
} from './simulator.js';

/** The demo's default: a fleet where a few machines misbehave (6 of 200), as a real one does. */
export const defaultAnomalyRate = 0.03;

export const simulateUsage = `Usage: npm run simulate -- [options]

Sends simulated readings to Event Hubs (by default the local stack that npm start runs here)
and prints progress and a summary.

Two modes:
  per-device   every machine sends each reading as its own event (partition key: its id)
  gateway      gateways each collect the readings of --gateway-size machines and send them
               as one event holding an array of readings, once per interval (partition
               key: the gateway's id), as real site gateways do: far fewer sends per reading

  --mode MODE             per-device (default) or gateway
  --gateway-size N        machines per gateway in gateway mode, 1 to ${maxGatewaySize} (default ${defaultGatewaySize})
  --devices N             machines 1..N (default 20)
  --interval S            seconds between a machine's readings (default 1)
  --duration S            seconds to run (default 60)
  --anomaly-rate P        share of the machines that misbehave, 0 to 1 (default ${defaultAnomalyRate}):
                          round(N × P) machines, picked by the seed, overheat, shake or lose
                          pressure for about four fifths of their readings, so their windows
                          breach and they alert; the others stay normal. 0.05 of 200 is 10.
  --malformed-rate P      chance, 0 to 1, that a reading is sent broken (default 0)
  --seed N                the same seed gives the same machines and readings (default: the clock)
  --connection-string CS  a send-only connection string (npm start prints one)
  --namespace FQNS        <name>.servicebus.windows.net, signing in with Microsoft Entra ID
  --hub NAME              the event hub (default telemetry, or EVENTHUB_NAME)
  --ledger FILE           write what was sent, per machine and window, as JSON
  --help                  print this and exit
`;

export interface SimulateCommand {
  options: SimulationOptions;
  /** A send-only connection string, or undefined with `namespace`. */
  connectionString: string | undefined;
  namespace: string | undefined;
  hub: string;
  ledger: string | undefined;
}

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (value?.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new Error(`--${name} must be a number from ${min} to ${max} (got ${value ?? ''})`);
  }
  return parsed;
}

/**
 * `args` (without node and the script) as a run, or `'help'` for `--help`. Throws with a
 * message naming the option for anything it cannot use; `defaults` supplies what depends on
 * the machine and the clock.
 */
export function parseSimulateArgs(
  args: string[],
  env: Record<string, string | undefined>,
  defaults: { seed: number; localConnectionString: () => string | undefined },
): SimulateCommand | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        mode: { type: 'string' },
        'gateway-size': { type: 'string' },
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
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (see --help)`);
  }
  if (values.help) return 'help';
  const namespace = values.namespace ?? env['SIMULATOR_NAMESPACE'];
  const given = values['connection-string'] ?? env['SIMULATOR_CONNECTION_STRING'];
  if (given && namespace) {
    throw new Error(
      'Give --connection-string (a send-only connection string) or --namespace ' +
        '(<name>.servicebus.windows.net, signing in with Entra ID), not both',
    );
  }
  const mode = values.mode ?? 'per-device';
  if (!simulationModes.includes(mode as SimulationMode)) {
    throw new Error(`--mode must be one of ${simulationModes.join(', ')} (got ${mode})`);
  }
  const gatewaySize = number(
    'gateway-size',
    values['gateway-size'],
    defaultGatewaySize,
    1,
    maxGatewaySize,
  );
  if (!Number.isInteger(gatewaySize)) {
    throw new Error(`--gateway-size must be a whole number of machines (got ${gatewaySize})`);
  }
  const options: SimulationOptions = {
    mode: mode as SimulationMode,
    gatewaySize,
    devices: number('devices', values.devices, 20, 1, 100_000),
    intervalSeconds: number('interval', values.interval, 1, 0.05, 3600),
    durationSeconds: number('duration', values.duration, 60, 1, 86_400),
    anomalyRate: number('anomaly-rate', values['anomaly-rate'], defaultAnomalyRate, 0, 1),
    malformedRate: number('malformed-rate', values['malformed-rate'], 0, 0, 1),
    seed: number('seed', values.seed, defaults.seed, 0, 2 ** 31),
  };
  // With neither given, the local stack's stand-in (`npm start` on this machine).
  const connectionString = given ?? (namespace ? undefined : defaults.localConnectionString());
  if (!connectionString && !namespace) {
    throw new Error(
      'Give --connection-string (a send-only connection string; npm start prints one; by ' +
        'default the local stack started here) or --namespace (<name>.servicebus.windows.net)',
    );
  }
  return {
    options,
    connectionString,
    namespace,
    hub: values.hub ?? env['EVENTHUB_NAME'] ?? 'telemetry',
    ledger: values.ledger,
  };
}

/** What the anomaly rate came to, for the summary: "3 of 200 machines misbehaved (rate 0.015)". */
export function misbehavingSummary(options: SimulationOptions): string {
  const count = misbehavingCount(options.devices, options.anomalyRate);
  return `${count} of ${options.devices} machines misbehaved (anomaly rate ${options.anomalyRate})`;
}
