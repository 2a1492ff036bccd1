/**
 * The simulator's command line and what its anomaly rate means: the share of the machines
 * that misbehave, picked by the seed, each in an anomaly for most of its readings, the others
 * never.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../dev/settings.js';
import type { EventHubsStandIn } from '../../dev/eventhubs/index.js';
import {
  defaultAnomalyRate,
  misbehavingSummary,
  parseSimulateArgs,
  simulateUsage,
} from '../../dev/simulateOptions.js';
import {
  createFleet,
  defaultGatewaySize,
  misbehavingCount,
  nextReading,
  simulate,
  type LedgerEntry,
  type SimulationOptions,
} from '../../dev/simulator.js';
import { parseEventBody, type Reading } from '../../lib/telemetry/reading.js';
import { windowStartOf } from '../../lib/telemetry/window.js';
import { fastRetry, receive, startTestStandIn } from './eventhubs/helpers.js';

const execFileAsync = promisify(execFile);

const defaults = { seed: 99, localConnectionString: () => 'Endpoint=sb://local/;x=y' };
const parse = (...args: string[]) => parseSimulateArgs(args, {}, defaults);

describe('npm run simulate options', () => {
  it('documents --anomaly-rate in --help and answers --help without running', () => {
    expect(parse('--help')).toBe('help');
    expect(parse('-h')).toBe('help');
    expect(simulateUsage).toMatch(/--anomaly-rate P\s+share of the machines that misbehave/);
  });

  it('documents both modes in --help', () => {
    expect(simulateUsage).toMatch(/per-device\s+every machine sends each reading as its own event/);
    expect(simulateUsage).toMatch(/gateway\s+gateways each collect the readings/);
    expect(simulateUsage).toMatch(/--mode MODE\s+per-device \(default\) or gateway/);
    expect(simulateUsage).toMatch(/--gateway-size N\s+machines per gateway/);
  });

  it('defaults to a fleet where a few machines misbehave', () => {
    const command = parse();
    if (command === 'help') throw new Error('not a run');
    expect(command.options).toEqual({
      mode: 'per-device',
      gatewaySize: defaultGatewaySize,
      devices: 20,
      intervalSeconds: 1,
      durationSeconds: 60,
      anomalyRate: defaultAnomalyRate,
      malformedRate: 0,
      seed: 99,
    });
    expect(misbehavingCount(200, defaultAnomalyRate)).toBe(6);
    expect(command.connectionString).toBe('Endpoint=sb://local/;x=y');
    expect(command.hub).toBe('telemetry');
  });

  it('reads every option and says what the rate came to', () => {
    const command = parse(
      '--devices',
      '200',
      '--interval',
      '0.5',
      '--duration',
      '40',
      '--anomaly-rate',
      '0.05',
      '--malformed-rate',
      '0.01',
      '--seed',
      '7',
      '--hub',
      'other',
      '--ledger',
      'l.json',
      '--mode',
      'gateway',
      '--gateway-size',
      '50',
    );
    if (command === 'help') throw new Error('not a run');
    expect(command.options).toEqual({
      mode: 'gateway',
      gatewaySize: 50,
      devices: 200,
      intervalSeconds: 0.5,
      durationSeconds: 40,
      anomalyRate: 0.05,
      malformedRate: 0.01,
      seed: 7,
    });
    expect(command).toMatchObject({ hub: 'other', ledger: 'l.json' });
    expect(misbehavingSummary(command.options)).toBe(
      '10 of 200 machines misbehaved (anomaly rate 0.05)',
    );
  });

  it('refuses what it cannot use, naming the option', () => {
    expect(() => parse('--anomaly-rate', '1.5')).toThrow(
      /--anomaly-rate must be a number from 0 to 1/,
    );
    expect(() => parse('--anomaly-rate', '')).toThrow(/--anomaly-rate/);
    expect(() => parse('--anomaly-rate', 'lots')).toThrow(/--anomaly-rate/);
    expect(() => parse('--devices', '0')).toThrow(/--devices/);
    expect(() => parse('--mode', 'batch')).toThrow(/--mode must be one of per-device, gateway/);
    expect(() => parse('--gateway-size', '501')).toThrow(
      /--gateway-size must be a number from 1 to 500/,
    );
    expect(() => parse('--gateway-size', '2.5')).toThrow(/--gateway-size must be a whole number/);
    expect(() => parse('--bogus')).toThrow(/Unknown option '--bogus'.*--help/);
    expect(() =>
      parseSimulateArgs(
        ['--namespace', 'x.servicebus.windows.net', '--connection-string', 'y'],
        {},
        defaults,
      ),
    ).toThrow(/not both/);
  });
});

/** Runs `readings` readings of every device; the share of each device's readings in an anomaly. */
function anomalyShares(devices: number, anomalyRate: number, seed: number, readings: number) {
  const fleet = createFleet({ devices, anomalyRate, seed });
  const anomalous = new Map(fleet.devices.map((d) => [d.id, 0]));
  for (let i = 0; i < readings; i++) {
    for (const device of fleet.devices) {
      if (nextReading(device, fleet.rand).anomalous)
        anomalous.set(device.id, (anomalous.get(device.id) ?? 0) + 1);
    }
  }
  return {
    misbehaving: fleet.devices.filter((d) => d.fault).map((d) => d.id),
    shares: new Map([...anomalous].map(([id, count]) => [id, count / readings])),
  };
}

describe('the anomaly rate', () => {
  it('is the share of machines that misbehave: most of their readings, and nobody else’s', () => {
    const { misbehaving, shares } = anomalyShares(200, 0.05, 42, 600);
    expect(misbehaving).toHaveLength(10);
    for (const [id, share] of shares) {
      if (misbehaving.includes(id)) {
        expect(share, id).toBeGreaterThan(0.6);
        expect(share, id).toBeLessThan(0.95);
      } else expect(share, id).toBe(0);
    }
  });

  it('picks the same machines for the same seed and others for another', () => {
    const first = anomalyShares(200, 0.05, 42, 10).misbehaving;
    expect(anomalyShares(200, 0.05, 42, 10).misbehaving).toEqual(first);
    expect(anomalyShares(200, 0.05, 43, 10).misbehaving).not.toEqual(first);
  });

  it('rounds to whole machines, from none to all', () => {
    expect(anomalyShares(20, 0, 1, 50).misbehaving).toEqual([]);
    expect(anomalyShares(20, 1, 1, 50).misbehaving).toHaveLength(20);
    expect(misbehavingCount(20, 0.03)).toBe(1);
    expect(misbehavingCount(10, 0.04)).toBe(0);
  });
});

describe('sending through the Event Hubs stand-in', () => {
  let standIn: EventHubsStandIn;
  let consumer: EventHubConsumerClient;

  beforeAll(async () => {
    standIn = await startTestStandIn();
    consumer = new EventHubConsumerClient('$Default', standIn.connectionString('app'), fastRetry);
  });

  afterAll(async () => {
    await consumer.close();
    await standIn.stop();
  });

  /** Every event now in the hub, per partition (the tests share the hub). */
  async function eventsByPartition(): Promise<Map<string, ReceivedEventData[]>> {
    const events = new Map<string, ReceivedEventData[]>();
    for (const partitionId of await consumer.getPartitionIds()) {
      const props = await consumer.getPartitionProperties(partitionId);
      if (props.isEmpty) continue;
      const count = props.lastEnqueuedSequenceNumber - props.beginningSequenceNumber + 1;
      const received = await receive(consumer, partitionId, earliestEventPosition, count);
      expect(received.errors).toEqual([]);
      expect(received.events).toHaveLength(count);
      events.set(partitionId, received.events);
    }
    return events;
  }

  /** What `send` returns, and the events it adds to the hub. */
  async function eventsSentBy<T>(
    send: () => Promise<T>,
  ): Promise<{ result: T; events: ReceivedEventData[] }> {
    const before = await eventsByPartition();
    const result = await send();
    const after = await eventsByPartition();
    const events = [...after].flatMap(([id, all]) => all.slice(before.get(id)?.length ?? 0));
    return { result, events };
  }

  /** Runs the simulator against the stand-in as a device would send. */
  function simulateIntoHub(options: SimulationOptions) {
    const producer = new EventHubProducerClient(standIn.connectionString('device'), fastRetry);
    return eventsSentBy(() => simulate(producer, options).finally(() => producer.close()));
  }

  /** The ledger the pipeline would build from `readings` (the simulator's own rounding). */
  function ledgerOf(readings: readonly Reading[]): LedgerEntry[] {
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const entries = new Map<string, LedgerEntry>();
    for (const reading of readings) {
      const windowStart = new Date(windowStartOf(reading.timestamp)).toISOString();
      const key = `${reading.equipmentId}@${windowStart}`;
      const entry = entries.get(key) ?? {
        equipmentId: reading.equipmentId,
        windowStart,
        count: 0,
        temperature: { min: Infinity, max: -Infinity, sum: 0 },
      };
      const temperature = reading.temperature ?? NaN;
      entry.count++;
      entry.temperature.min = Math.min(entry.temperature.min, temperature);
      entry.temperature.max = Math.max(entry.temperature.max, temperature);
      entry.temperature.sum = round2(entry.temperature.sum + temperature);
      entries.set(key, entry);
    }
    return [...entries.values()];
  }

  const byKey = (entries: readonly LedgerEntry[]) =>
    [...entries].sort((a, b) =>
      `${a.equipmentId}@${a.windowStart}` < `${b.equipmentId}@${b.windowStart}` ? -1 : 1,
    );

  it('in gateway mode sends one event per gateway and tick, whose readings equal the ledger', async () => {
    const { result: summary, events } = await simulateIntoHub({
      mode: 'gateway',
      gatewaySize: 5,
      devices: 12,
      intervalSeconds: 0.25,
      durationSeconds: 1,
      anomalyRate: 0.2,
      malformedRate: 0.1,
      seed: 5,
    });

    expect(summary.errors).toBe(0);
    // 12 machines in gateways of 5, 5 and 2: three events a tick, every tick.
    expect(summary.events % 3).toBe(0);
    expect(summary.sent).toBe((summary.events / 3) * 12);
    expect(events).toHaveLength(summary.events);
    const readings: Reading[] = [];
    let rejected = 0;
    for (const event of events) {
      expect(event.partitionKey).toMatch(/^gateway-[123]$/);
      expect(Array.isArray(event.body)).toBe(true);
      expect((event.body as unknown[]).length).toBe(event.partitionKey === 'gateway-3' ? 2 : 5);
      const parsed = parseEventBody(event.body, {
        enqueuedTimeMs: event.enqueuedTimeUtc.getTime(),
      });
      readings.push(...parsed.readings);
      rejected += parsed.rejections.length;
      // A broken reading is rejected alone; its neighbours in the event still count.
      for (const rejection of parsed.rejections) expect(rejection.reason).toBe('invalid');
    }
    expect(summary.malformed).toBeGreaterThan(0);
    expect(rejected).toBe(summary.malformed);
    expect(readings).toHaveLength(summary.sent - summary.malformed);
    expect(byKey(ledgerOf(readings))).toEqual(byKey(summary.ledger));
  });

  it('in per-device mode sends one event per reading, keyed by the machine', async () => {
    const { result: summary, events } = await simulateIntoHub({
      devices: 4,
      intervalSeconds: 0.25,
      durationSeconds: 1,
      anomalyRate: 0,
      malformedRate: 0,
      seed: 6,
    });

    expect(summary.events).toBe(summary.sent);
    expect(events).toHaveLength(summary.sent);
    const readings = events.flatMap((event) => {
      const { readings: parsed, rejections } = parseEventBody(event.body, {
        enqueuedTimeMs: event.enqueuedTimeUtc.getTime(),
      });
      expect(rejections).toEqual([]);
      expect(parsed.map((r) => r.equipmentId)).toEqual([event.partitionKey]);
      return parsed;
    });
    expect(byKey(ledgerOf(readings))).toEqual(byKey(summary.ledger));
    // `startedAt` is when sending began (the benchmark counts from it): nothing is stamped
    // before it, and the first tick's readings are stamped as it starts.
    const firstStamp = Math.min(...readings.map((r) => r.timestamp));
    expect(firstStamp).toBeGreaterThanOrEqual(summary.startedAt);
    expect(firstStamp).toBeLessThan(summary.startedAt + summary.seconds * 1000);
  });

  it('prints each progress report on a line of its own when its output is not a terminal', async () => {
    // npm run simulate as a user's script or CI log sees it: stderr a pipe, not a TTY.
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [
        '--import',
        'tsx',
        'dev/simulate.ts',
        '--connection-string',
        standIn.connectionString('device'),
        '--devices',
        '3',
        '--interval',
        '1',
        '--duration',
        '3',
        '--seed',
        '4',
      ],
      { cwd: projectRoot, timeout: 60_000 },
    );
    expect(stderr).not.toContain('\r');
    const reports = stderr.split('\n').filter((line) => line.startsWith('sent '));
    expect(reports.length).toBeGreaterThanOrEqual(2);
    for (const report of reports) expect(report).toMatch(/^sent \d+ in \d+ events {2}rate \d+\/s/);
    expect(stdout).toMatch(/^Sent 9 readings in 9 events \(one per reading\) from 3 devices/);
  });
});
