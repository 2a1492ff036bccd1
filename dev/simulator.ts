/**
 * The device simulator behind `npm run simulate` (dev/simulate.ts). Sends realistic sensor readings through `EventHubProducerClient` with partition key =
 * equipment id (ids 1..N as text, the API's equipment ids), to the local stand-in or any
 * namespace given by its connection string. Readings drift and carry noise; with the anomaly
 * rate a device overheats, its vibration spikes or its pressure drops for a while; with the
 * malformed rate a payload is broken on purpose. It prints live progress and a summary, and
 * writes a ledger of exactly what it sent (per equipment and window: count, min, max, sum),
 * which tests compare with the pipeline's aggregates.
 */
import type { EventData, EventHubProducerClient } from '@azure/event-hubs';
import { windowStartOf } from '../lib/telemetry/window.js';

export interface SimulationOptions {
  devices: number;
  intervalSeconds: number;
  durationSeconds: number;
  anomalyRate: number;
  malformedRate: number;
  /** Deterministic runs for tests. */
  seed: number;
}

/** Per equipment and window: what was sent, so the pipeline's aggregates can be checked. */
export interface LedgerEntry {
  equipmentId: string;
  windowStart: string;
  count: number;
  temperature: { min: number; max: number; sum: number };
}

export interface SimulationSummary {
  sent: number;
  malformed: number;
  anomalous: number;
  errors: number;
  seconds: number;
  ledger: LedgerEntry[];
}

/** A small seeded PRNG (mulberry32): the same seed gives the same readings. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface DeviceState {
  id: string;
  temperature: number;
  vibration: number;
  pressure: number;
  /** Readings left in the current anomaly, and which one. */
  anomaly: { kind: 'overheat' | 'vibration' | 'pressure'; remaining: number } | null;
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The next reading of a device: a random walk around normal values, or an anomaly. */
function nextReading(device: DeviceState, rand: () => number, anomalyRate: number) {
  if (!device.anomaly && rand() < anomalyRate) {
    const kinds = ['overheat', 'vibration', 'pressure'] as const;
    device.anomaly = {
      kind: kinds[Math.floor(rand() * kinds.length)] ?? 'overheat',
      remaining: 20 + Math.floor(rand() * 40),
    };
  }
  device.temperature = clamp(
    device.temperature + (rand() - 0.5) * 0.6 + (68 - device.temperature) * 0.05,
    40,
    120,
  );
  device.vibration = clamp(
    device.vibration + (rand() - 0.5) * 0.2 + (2.2 - device.vibration) * 0.1,
    0,
    20,
  );
  device.pressure = clamp(
    device.pressure + (rand() - 0.5) * 0.8 + (42 - device.pressure) * 0.1,
    0,
    100,
  );
  let { temperature, vibration, pressure } = device;
  if (device.anomaly) {
    if (device.anomaly.kind === 'overheat') temperature += 25 + rand() * 5;
    if (device.anomaly.kind === 'vibration') vibration += 5 + rand() * 3;
    if (device.anomaly.kind === 'pressure') pressure = Math.max(0, pressure - 38 - rand() * 3);
    device.anomaly.remaining--;
    if (device.anomaly.remaining <= 0) device.anomaly = null;
  }
  return {
    temperature: round2(temperature),
    vibration: round2(vibration),
    pressure: round2(pressure),
  };
}

/**
 * Runs a simulation, sending through `producer`. Time is real: each device sends once per
 * interval until the duration is over.
 */
export async function simulate(
  producer: Pick<EventHubProducerClient, 'createBatch' | 'sendBatch'>,
  options: SimulationOptions,
  progress: (line: string) => void = () => undefined,
): Promise<SimulationSummary> {
  const rand = random(options.seed);
  const devices: DeviceState[] = Array.from({ length: options.devices }, (_, i) => ({
    id: String(i + 1),
    temperature: 60 + rand() * 10,
    vibration: 1.5 + rand(),
    pressure: 38 + rand() * 8,
    anomaly: null,
  }));
  const ledger = new Map<string, LedgerEntry>();
  const summary = { sent: 0, malformed: 0, anomalous: 0, errors: 0 };
  const began = Date.now();
  const end = began + options.durationSeconds * 1000;
  let lastProgress = 0;
  for (let tick = began; tick < end; tick += options.intervalSeconds * 1000) {
    const wait = tick - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // One batch per device (a batch goes to one partition key); a tick's sends run together.
    const sends = devices.map(async (device) => {
      const timestamp = Date.now();
      let body: string | Record<string, unknown>;
      let metrics: ReturnType<typeof nextReading> | undefined;
      if (rand() < options.malformedRate) {
        body =
          rand() < 0.5
            ? `{"equipmentId":"${device.id}","timestamp":`
            : { equipmentId: device.id, temperature: 'hot' };
      } else {
        metrics = nextReading(device, rand, options.anomalyRate);
        if (device.anomaly) summary.anomalous++;
        body = { equipmentId: device.id, timestamp: new Date(timestamp).toISOString(), ...metrics };
      }
      try {
        const batch = await producer.createBatch({ partitionKey: device.id });
        const event: EventData = { body, contentType: 'application/json' };
        if (!batch.tryAdd(event)) throw new Error('reading too large for a batch');
        await producer.sendBatch(batch);
      } catch (error) {
        summary.errors++;
        progress(`send failed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      summary.sent++;
      if (!metrics) {
        summary.malformed++;
        return;
      }
      // Only what was sent goes into the ledger.
      const windowStart = new Date(windowStartOf(timestamp)).toISOString();
      const key = `${device.id}@${windowStart}`;
      const entry = ledger.get(key) ?? {
        equipmentId: device.id,
        windowStart,
        count: 0,
        temperature: { min: Infinity, max: -Infinity, sum: 0 },
      };
      entry.count++;
      entry.temperature.min = Math.min(entry.temperature.min, metrics.temperature);
      entry.temperature.max = Math.max(entry.temperature.max, metrics.temperature);
      entry.temperature.sum = round2(entry.temperature.sum + metrics.temperature);
      ledger.set(key, entry);
    });
    await Promise.all(sends);
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      const seconds = (Date.now() - began) / 1000;
      progress(
        `sent ${summary.sent}  rate ${(summary.sent / Math.max(seconds, 0.001)).toFixed(0)}/s  ` +
          `malformed ${summary.malformed}  errors ${summary.errors}`,
      );
    }
  }
  return { ...summary, seconds: (Date.now() - began) / 1000, ledger: [...ledger.values()] };
}
