/**
 * The device simulator behind `npm run simulate` (dev/simulate.ts). Sends realistic sensor
 * readings through `EventHubProducerClient` (machine ids 1..N as text, the API's equipment
 * ids), to the local stand-in or any namespace given by its connection string, in one of two
 * modes: per device (each machine sends its own event per reading, partition key = its id),
 * or as gateways do (a gateway collects the readings of its machines and sends them as one
 * event holding an array, partition key = the gateway's id; lib/telemetry/reading.ts accepts
 * up to 500 readings per event and judges each on its own). Readings drift and carry noise; the anomaly rate
 * is the share of the fleet that misbehaves (each such machine overheats, shakes or loses
 * pressure for most of the run, so its windows breach); with the malformed rate a payload is
 * broken on purpose. It prints live progress and a summary, and
 * writes a ledger of exactly what it sent (per equipment and window: count, min, max, sum),
 * which tests compare with the pipeline's aggregates.
 */
import type { EventData, EventHubProducerClient } from '@azure/event-hubs';
import { maxReadingsPerEvent } from '../lib/telemetry/reading.js';
import { windowStartOf } from '../lib/telemetry/window.js';

/**
 * How readings travel: `per-device`, one event (and one AMQP send) per reading; `gateway`,
 * one event per gateway and tick holding an array of its machines' readings.
 */
export const simulationModes = ['per-device', 'gateway'] as const;

/** One of {@link simulationModes}. */
export type SimulationMode = (typeof simulationModes)[number];

/** Most machines one gateway serves: the most readings one event may hold. */
export const maxGatewaySize = maxReadingsPerEvent;

/** Machines per gateway unless told otherwise. */
export const defaultGatewaySize = 100;

export interface SimulationOptions {
  /** Default `per-device`. */
  mode?: SimulationMode;
  /**
   * Machines per gateway in `gateway` mode (1..{@link maxGatewaySize}, default
   * {@link defaultGatewaySize}); ignored otherwise.
   */
  gatewaySize?: number;
  devices: number;
  intervalSeconds: number;
  durationSeconds: number;
  /**
   * The share of devices that misbehave, 0 to 1: `misbehavingCount` of them, picked by the
   * seed. A misbehaving device spends about four fifths of its readings in anomalies; the
   * others never do.
   */
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
  /** Ids of the devices that misbehaved (see `SimulationOptions.anomalyRate`). */
  misbehaving: string[];
  /** Readings sent (malformed ones included). */
  sent: number;
  /** Events sent: one per reading per device, one per gateway and tick for gateways. */
  events: number;
  malformed: number;
  anomalous: number;
  /** Readings whose event could not be sent. */
  errors: number;
  /** When the first tick began (epoch ms): a caller's timing excludes this process's start-up. */
  startedAt: number;
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

export interface DeviceState {
  id: string;
  temperature: number;
  vibration: number;
  pressure: number;
  /** What goes wrong with it, when it is one of the misbehaving devices. */
  fault: AnomalyKind | null;
  /** Normal readings left before its next anomaly. */
  calm: number;
  /** Readings left in the current anomaly. */
  anomaly: { kind: AnomalyKind; remaining: number } | null;
}

type AnomalyKind = 'overheat' | 'vibration' | 'pressure';
const anomalyKinds: readonly AnomalyKind[] = ['overheat', 'vibration', 'pressure'];

/** How many of `devices` misbehave at `anomalyRate`: the nearest whole number. */
export function misbehavingCount(devices: number, anomalyRate: number): number {
  return Math.round(devices * anomalyRate);
}

/**
 * The devices of a run with their starting values and, for `misbehavingCount` of them picked
 * by the seed, what goes wrong. Also returns the run's random source, to continue with.
 */
export function createFleet(options: Pick<SimulationOptions, 'devices' | 'anomalyRate' | 'seed'>): {
  devices: DeviceState[];
  rand: () => number;
} {
  const rand = random(options.seed);
  const devices: DeviceState[] = Array.from({ length: options.devices }, (_, i) => ({
    id: String(i + 1),
    temperature: 60 + rand() * 10,
    vibration: 1.5 + rand(),
    pressure: 38 + rand() * 8,
    fault: null,
    // The first anomaly starts within a few readings, so a short demo shows it.
    calm: Math.floor(rand() * 5),
    anomaly: null,
  }));
  // A partial Fisher–Yates shuffle picks the misbehaving devices without repeats.
  const order = devices.map((_, i) => i);
  const count = misbehavingCount(options.devices, options.anomalyRate);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (order.length - i));
    [order[i], order[j]] = [order[j] ?? j, order[i] ?? i];
    const device = devices[order[i] ?? i];
    if (device) device.fault = anomalyKinds[Math.floor(rand() * anomalyKinds.length)] ?? 'overheat';
  }
  return { devices, rand };
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * The next reading of a device: a random walk around normal values, or, for a misbehaving
 * device, anomalies of 20–60 readings between calm spells of 5–15 (about four fifths of the
 * time in an anomaly, enough for its five-minute means to breach).
 */
export function nextReading(device: DeviceState, rand: () => number) {
  if (device.fault && !device.anomaly) {
    if (device.calm > 0) device.calm--;
    else {
      device.anomaly = { kind: device.fault, remaining: 20 + Math.floor(rand() * 41) };
      device.calm = 5 + Math.floor(rand() * 11);
    }
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
  const anomalous = device.anomaly !== null;
  if (device.anomaly) {
    if (device.anomaly.kind === 'overheat') temperature += 25 + rand() * 5;
    if (device.anomaly.kind === 'vibration') vibration += 5 + rand() * 3;
    if (device.anomaly.kind === 'pressure') pressure = Math.max(0, pressure - 38 - rand() * 3);
    device.anomaly.remaining--;
    if (device.anomaly.remaining <= 0) device.anomaly = null;
  }
  return {
    metrics: {
      temperature: round2(temperature),
      vibration: round2(vibration),
      pressure: round2(pressure),
    },
    anomalous,
  };
}

/** One reading of a tick, as sent (malformed ones have no metrics). */
interface Payload {
  equipmentId: string;
  timestampMs: number;
  body: string | Record<string, unknown>;
  metrics: ReturnType<typeof nextReading>['metrics'] | undefined;
}

/**
 * The events of one tick: one per machine, or one per gateway (machines 1..size, size+1..2×size,
 * …) with the array of its machines' readings, each with its partition key.
 */
function eventsOf(
  payloads: readonly Payload[],
  options: Pick<SimulationOptions, 'mode' | 'gatewaySize'>,
): { partitionKey: string; body: unknown; payloads: readonly Payload[] }[] {
  if (options.mode !== 'gateway') {
    return payloads.map((payload) => ({
      partitionKey: payload.equipmentId,
      body: payload.body,
      payloads: [payload],
    }));
  }
  const size = options.gatewaySize ?? defaultGatewaySize;
  if (!Number.isInteger(size) || size < 1 || size > maxGatewaySize) {
    throw new RangeError(`A gateway serves 1 to ${maxGatewaySize} machines, not ${size}`);
  }
  const events = [];
  for (let first = 0; first < payloads.length; first += size) {
    const held = payloads.slice(first, first + size);
    events.push({
      // A machine always reports through the same gateway, so its readings stay in order in
      // one partition, as with a real gateway.
      partitionKey: `gateway-${first / size + 1}`,
      body: held.map((payload) => payload.body),
      payloads: held,
    });
  }
  return events;
}

/**
 * Runs a simulation, sending through `producer`. Time is real: each device reads once per
 * interval until the duration is over, and each tick's events are sent together.
 */
export async function simulate(
  producer: Pick<EventHubProducerClient, 'createBatch' | 'sendBatch'>,
  options: SimulationOptions,
  progress: (line: string) => void = () => undefined,
): Promise<SimulationSummary> {
  const { devices, rand } = createFleet(options);
  const misbehaving = devices.filter((d) => d.fault).map((d) => d.id);
  const ledger = new Map<string, LedgerEntry>();
  const summary = { sent: 0, events: 0, malformed: 0, anomalous: 0, errors: 0 };
  const began = Date.now();
  const end = began + options.durationSeconds * 1000;
  let lastProgress = 0;
  const record = (payload: Payload) => {
    summary.sent++;
    const { metrics } = payload;
    if (!metrics) {
      summary.malformed++;
      return;
    }
    // Only what was sent goes into the ledger.
    const windowStart = new Date(windowStartOf(payload.timestampMs)).toISOString();
    const key = `${payload.equipmentId}@${windowStart}`;
    const entry = ledger.get(key) ?? {
      equipmentId: payload.equipmentId,
      windowStart,
      count: 0,
      temperature: { min: Infinity, max: -Infinity, sum: 0 },
    };
    entry.count++;
    entry.temperature.min = Math.min(entry.temperature.min, metrics.temperature);
    entry.temperature.max = Math.max(entry.temperature.max, metrics.temperature);
    entry.temperature.sum = round2(entry.temperature.sum + metrics.temperature);
    ledger.set(key, entry);
  };
  for (let tick = began; tick < end; tick += options.intervalSeconds * 1000) {
    const wait = tick - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const payloads = devices.map((device): Payload => {
      const timestampMs = Date.now();
      if (rand() < options.malformedRate) {
        return {
          equipmentId: device.id,
          timestampMs,
          body:
            rand() < 0.5
              ? `{"equipmentId":"${device.id}","timestamp":`
              : { equipmentId: device.id, temperature: 'hot' },
          metrics: undefined,
        };
      }
      const next = nextReading(device, rand);
      if (next.anomalous) summary.anomalous++;
      return {
        equipmentId: device.id,
        timestampMs,
        body: {
          equipmentId: device.id,
          timestamp: new Date(timestampMs).toISOString(),
          ...next.metrics,
        },
        metrics: next.metrics,
      };
    });
    // One batch per event (a batch goes to one partition key); a tick's sends run together.
    // The SDK sends an object or array body as its JSON text in the AMQP data section
    // (Azure/azure-sdk-for-js sdk/eventhub/event-hubs/src/dataTransformer.ts, `encode`), which
    // is what the trigger hands to lib/telemetry/reading.ts as bytes.
    const sends = eventsOf(payloads, options).map(async (event) => {
      try {
        const batch = await producer.createBatch({ partitionKey: event.partitionKey });
        const data: EventData = { body: event.body, contentType: 'application/json' };
        if (!batch.tryAdd(data)) throw new Error('event too large for a batch');
        await producer.sendBatch(batch);
      } catch (error) {
        summary.errors += event.payloads.length;
        progress(`send failed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      summary.events++;
      for (const payload of event.payloads) record(payload);
    });
    await Promise.all(sends);
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      const seconds = (Date.now() - began) / 1000;
      progress(
        `sent ${summary.sent} in ${summary.events} events  rate ${(summary.sent / Math.max(seconds, 0.001)).toFixed(0)}/s  ` +
          `malformed ${summary.malformed}  errors ${summary.errors}`,
      );
    }
  }
  return {
    ...summary,
    misbehaving,
    startedAt: began,
    seconds: (Date.now() - began) / 1000,
    ledger: [...ledger.values()],
  };
}
