/**
 * `alert_latency_p99_ms` (the seed's fleet) and `alert_latency_p99_ms_small_fleet`: from the
 * moment a window can close (the watermark of the device's partition, its newest event time
 * minus the allowed lateness, passes the window's end) to the alert message at a Web PubSub
 * client (`@azure/web-pubsub-client`, connected with a token that pre-joins group `alerts`).
 *
 * The local trigger host (own process, real `EventHubConsumerClient`, fan-out to the Web
 * PubSub stand-in) batches with the production host.json, the way the Event Hubs extension
 * does (dev/triggerHost.ts `PartitionBatcher`): a quiet partition's events wait up to
 * `maxWaitTime`, a busy one's until `minEventBatchSize` have arrived. What decides that wait
 * is how many events arrive per second of wall time, so each profile sends its fleet's rate
 * (one event per reading, as devices send them) while its event time runs at 100× (each
 * 200 ms tick of wall time stamps 20 s of event time), so a window can close every 3 s:
 *
 * - seed: 10,000 machines every 30 s, 333 events/s (each machine's reading every 150 ticks);
 *   one machine in ten runs hot in any window.
 * - small fleet: 50 machines every 30 s, 1.7 events/s; every reading is hot, so there are
 *   alerts enough to rank.
 *
 * A window "can close" when the producer starts sending the first event of the device's
 * partition at or past the window's end plus the lateness, so the figure includes the send,
 * the Event Hubs hop, the host's batching, the pipeline, Cosmos and the fan-out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { windowSizeMs } from '../../lib/telemetry/window.js';
import { emit, isQuick, metric } from '../report.js';
import { compiledScript, startScript } from '../../dev/child.js';
import { startBenchStack } from '../servers/stack.js';
import { hostJsonEventHubs } from '../../dev/hostJson.js';

/** What the benchmark's servers print once they serve (bench/servers/*). */
const listening = /listening (\d+)/;

const quick = isQuick();
const partitions = 4;
const stepMs = 20_000; // event time per tick
const tickMs = 200; // wall time per tick
const latenessSeconds = 60;
/** Wall ticks between a machine's readings: every 30 s of wall time. */
const readingEveryTicks = 30_000 / tickMs;
const ticksPerWindow = windowSizeMs / stepMs;
const minimumAlertsForP99 = 100;
const lateTicks = (latenessSeconds * 1000) / stepMs;

interface Profile {
  name: 'seed' | 'small fleet';
  devices: number;
  /** Windows sent; the first `warmupWindows` of them are not counted. */
  windows: number;
  warmupWindows: number;
  hot: (device: number, window: number) => boolean;
}

// The wall time of a profile is its windows × 3 s, so its windows are as few as give a p99
// over enough alerts: the seed's 100 hot machines per window give 500 alerts quick (1,700
// full); the small fleet's 50 machines read 5 times per window of 3 s, all hot, so 5 alerts
// per window, and 21 windows (105 alerts, the fewest a p99 means something over) quick.
const profiles: Profile[] = [
  {
    name: 'seed',
    devices: 10_000,
    windows: quick ? 8 : 20,
    // The first windows warm the host (JIT, Cosmos, MySQL and Web PubSub connections).
    warmupWindows: 3,
    hot: (device, window) => (device + window) % 10 === 0,
  },
  {
    name: 'small fleet',
    devices: 50,
    windows: quick ? 22 : 60,
    // The same host, warm from the seed's profile: one window lets the batching settle from
    // the seed's rate to this one's.
    warmupWindows: 1,
    hot: () => true,
  },
];

const dir = mkdtempSync(join(tmpdir(), 'sis-bench-alerts-'));
const stops: (() => Promise<void>)[] = [];

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

interface Received {
  at: number;
  equipmentId: string;
  windowStart: string;
}

try {
  const { eventHubs, azurite, webPubSub, appEnv } = await startBenchStack({
    dir,
    stops,
    partitions,
    equipment: Math.max(...profiles.map((p) => p.devices)),
  });
  const batching = hostJsonEventHubs();

  const host = await startScript({
    script: compiledScript('bench/servers/triggerHost.ts'),
    env: {
      ...appEnv,
      TELEMETRY_ALLOWED_LATENESS_SECONDS: String(latenessSeconds),
      BENCH_STORAGE: azurite.connectionString,
    },
    readyLine: listening,
    echoErrors: true,
  });
  stops.push(host.stop);

  // The client: a token that pre-joins group `alerts`.
  const service = new WebPubSubServiceClient(webPubSub.connectionString, 'sis', {
    allowInsecureConnection: true,
  });
  const { url } = await service.getClientAccessToken({ groups: ['alerts'] });
  // No keep-alive tasks: a loopback run needs no pings, and the SDK's tasks wait out their
  // interval without the stop's abort signal (Azure/azure-sdk-for-js
  // sdk/web-pubsub/web-pubsub-client/src/webPubSubClient.ts, `AbortableTask._start` awaits
  // `delay(interval)`), which kept this process alive up to 20 s after its last stop; 0
  // disables each (`start` creates them only when > 0).
  const client = new WebPubSubClient(url, {
    autoReconnect: false,
    keepAliveIntervalInMs: 0,
    keepAliveTimeoutInMs: 0,
  });
  const received: Received[] = [];
  client.on('group-message', (event) => {
    const at = Date.now();
    const data = event.message.data as {
      type?: string;
      alert?: { equipmentId: string; lastWindowStart: string };
    };
    if (data.alert && data.type?.startsWith('alert.')) {
      received.push({
        at,
        equipmentId: data.alert.equipmentId,
        windowStart: data.alert.lastWindowStart,
      });
    }
  });
  await client.start();
  console.error(
    `servers and client up ${process.uptime().toFixed(1)} s after this process started`,
  );
  stops.push(() => {
    client.stop();
    return Promise.resolve();
  });

  const producer = new EventHubProducerClient(
    eventHubs.connectionString('device', 'telemetry'),
    'telemetry',
  );
  stops.push(() => producer.close());

  const results: Record<string, ReturnType<typeof metric>> = {};
  // Event time runs ahead of nothing: every reading is stamped before it is enqueued, so the
  // watermark follows it. Each profile starts on a window boundary after the previous one's
  // last event time, so partitions' watermarks only move forward.
  let t0 = Math.floor((Date.now() - 12 * 3_600_000) / windowSizeMs) * windowSizeMs;
  for (const profile of profiles) {
    // Past the last counted window: its end plus the lateness, when it can close (the small
    // fleet's partitions each get an event every 12 ticks, so one comes within the extra window).
    const ticks = (profile.windows + 1) * ticksPerWindow + lateTicks;
    const partitionOf = (device: number) => device % partitions;
    // Each machine sends every `readingEveryTicks`, at its own offset.
    const offsetOf = (device: number) =>
      Math.floor((device * readingEveryTicks) / profile.devices) % readingEveryTicks;
    /** Per partition: each tick's event time and the wall time its send began, when it sent. */
    const sends: { time: number; at: number }[][] = Array.from({ length: partitions }, () => []);
    const hotSent = new Set<string>();
    const first = received.length;
    const began = Date.now();
    for (let tick = 0; tick < ticks; tick++) {
      const due = began + tick * tickMs;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      const time = t0 + tick * stepMs;
      const window = Math.floor((time - t0) / windowSizeMs);
      const at = Date.now();
      const byPartition: { body: unknown }[][] = Array.from({ length: partitions }, () => []);
      for (let device = 0; device < profile.devices; device++) {
        if (offsetOf(device) !== tick % readingEveryTicks) continue;
        const hot = profile.hot(device, window);
        if (hot) hotSent.add(`${device + 1}@${new Date(t0 + window * windowSizeMs).toISOString()}`);
        byPartition[partitionOf(device)]?.push({
          body: {
            equipmentId: String(device + 1),
            timestamp: new Date(time).toISOString(),
            temperature: hot ? 93 : 66 + (device % 5),
            vibration: 2.1,
            pressure: 41,
          },
        });
      }
      await Promise.all(
        byPartition.map(async (events, partition) => {
          if (events.length === 0) return;
          sends[partition]?.push({ time, at });
          let batch = await producer.createBatch({ partitionId: String(partition) });
          for (const event of events) {
            if (batch.tryAdd(event)) continue;
            await producer.sendBatch(batch);
            batch = await producer.createBatch({ partitionId: String(partition) });
            if (!batch.tryAdd(event)) throw new Error('one reading too large for a batch');
          }
          await producer.sendBatch(batch);
        }),
      );
    }
    console.error(
      `${profile.name}: sent ${ticks} ticks in ${((Date.now() - began) / 1000).toFixed(1)} s (${(ticks * tickMs) / 1000} s planned)`,
    );
    // A window of a device can close when its partition's first event at or past the
    // window's end plus the lateness is sent.
    const canClose = (device: number, windowStart: number) =>
      sends[partitionOf(device)]?.find(
        (send) => send.time >= windowStart + windowSizeMs + latenessSeconds * 1000,
      )?.at;
    const measured = (device: number, windowStart: number) => {
      const w = (windowStart - t0) / windowSizeMs;
      return (
        w >= profile.warmupWindows &&
        w < profile.windows &&
        canClose(device, windowStart) !== undefined
      );
    };
    let expected = 0;
    for (const key of hotSent) {
      const [id = '', start = ''] = key.split('@');
      if (measured(Number(id) - 1, Date.parse(start))) expected++;
    }
    /** Distinct counted alerts received so far. */
    const arrived = () =>
      new Set(
        received
          .slice(first)
          .filter((m) => measured(Number(m.equipmentId) - 1, Date.parse(m.windowStart)))
          .map((m) => `${m.equipmentId}@${m.windowStart}`)
          .filter((key) => hotSent.has(key)),
      ).size;
    // Wait (bounded) for the last alerts: until every counted one has come, or 5 s of quiet.
    const waitUntil = Date.now() + 30_000;
    let last = received.length;
    let quietSince = Date.now();
    while (Date.now() < waitUntil && Date.now() - quietSince < 5_000 && arrived() < expected) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (received.length !== last) {
        last = received.length;
        quietSince = Date.now();
      }
    }
    const latencies: number[] = [];
    const byWindow = new Map<number, number>();
    const seen = new Set<string>();
    for (const message of received.slice(first)) {
      const start = Date.parse(message.windowStart);
      const device = Number(message.equipmentId) - 1;
      const key = `${message.equipmentId}@${message.windowStart}`;
      if (!measured(device, start) || seen.has(key) || !hotSent.has(key)) continue;
      seen.add(key);
      const latency = message.at - (canClose(device, start) ?? NaN);
      latencies.push(latency);
      const w = (start - t0) / windowSizeMs;
      byWindow.set(w, Math.max(byWindow.get(w) ?? 0, latency));
    }
    console.error(
      `${profile.name}: slowest alert per window (ms): ${[...byWindow.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, ms]) => ms.toFixed(0))
        .join(' ')}`,
    );
    const p99 = latencies.length ? percentile(latencies, 99) : null;
    const p50 = latencies.length ? percentile(latencies, 50) : NaN;
    const eventsPerSecond = (profile.devices * 1000) / (readingEveryTicks * tickMs);
    console.error(
      `${profile.name}: ${latencies.length}/${expected} hot windows delivered; p50 ${p50.toFixed(0)} ms, p99 ${p99?.toFixed(0) ?? '-'} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
    );
    const complete = latencies.length === expected && expected > 0;
    // The 99th percentile of fewer than 100 samples is the largest one, not a p99.
    const enough = latencies.length >= minimumAlertsForP99;
    const name =
      profile.name === 'seed' ? 'alert_latency_p99_ms' : 'alert_latency_p99_ms_small_fleet';
    const result = metric(
      name,
      p99,
      null,
      `${profile.name}: ${profile.devices.toLocaleString('en-US')} machines every 30 s (${eventsPerSecond.toFixed(1)} events/s, one reading each), event time at ${stepMs / tickMs}× so a window closes every ${(ticksPerWindow * tickMs) / 1000} s; ${latencies.length} of ${expected} expected alert messages over ${profile.windows - profile.warmupWindows} windows (after ${profile.warmupWindows} warm-up window${profile.warmupWindows === 1 ? '' : 's'}), lateness ${latenessSeconds} s; host.json batching ${batching.minEventBatchSize}-${batching.maxEventBatchSize} events, maxWaitTime ${batching.maxWaitTimeSeconds} s; p50 ${p50.toFixed(0)} ms` +
        (complete ? '' : '; INCOMPLETE: some alerts never arrived') +
        (enough ? '' : `; TOO FEW ALERTS for a p99 (under ${minimumAlertsForP99})`),
    );
    results[name] = complete && enough ? result : { ...result, pass: false };
    t0 += ticks * stepMs - ((ticks * stepMs) % windowSizeMs) + windowSizeMs;
  }
  emit(results);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
