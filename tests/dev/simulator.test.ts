/**
 * The simulator's command line and what its anomaly rate means: the share of the machines
 * that misbehave, picked by the seed, each in an anomaly for most of its readings, the others
 * never.
 */
import { describe, expect, it } from 'vitest';
import {
  defaultAnomalyRate,
  misbehavingSummary,
  parseSimulateArgs,
  simulateUsage,
} from '../../dev/simulateOptions.js';
import { createFleet, misbehavingCount, nextReading } from '../../dev/simulator.js';

const defaults = { seed: 99, localConnectionString: () => 'Endpoint=sb://local/;x=y' };
const parse = (...args: string[]) => parseSimulateArgs(args, {}, defaults);

describe('npm run simulate options', () => {
  it('documents --anomaly-rate in --help and answers --help without running', () => {
    expect(parse('--help')).toBe('help');
    expect(parse('-h')).toBe('help');
    expect(simulateUsage).toMatch(/--anomaly-rate P\s+share of the machines that misbehave/);
  });

  it('defaults to a fleet where a few machines misbehave', () => {
    const command = parse();
    if (command === 'help') throw new Error('not a run');
    expect(command.options).toEqual({
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
    );
    if (command === 'help') throw new Error('not a run');
    expect(command.options).toEqual({
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
