/**
 * `alert_latency_p99_ms`: from the moment a window can close (the partition's watermark, its
 * newest event time minus the allowed lateness, passes the window's end) to the alert
 * message at a Web PubSub client (`@azure/web-pubsub-client`, connected with a token that
 * pre-joins group `alerts`).
 *
 * A producer replays device history at 100× real time (every 200 ms of wall time each device
 * sends the reading 20 s of event time later, one array event per partition: 500 readings/s,
 * well inside what the pipeline sustains here, so the figure is latency, not backlog), so
 * windows close every 3 s; about one device in ten runs hot in any window. The local trigger host
 * (own process, real `EventHubConsumerClient`, fan-out to the Web PubSub stand-in) does the
 * rest. A window "can close" when the producer starts sending the first event at or past its
 * end plus the lateness, so the figure includes the send, the Event Hubs hop, the host's
 * batching, the pipeline, Cosmos and the fan-out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { windowSizeMs } from '../../lib/telemetry/window.js';
import { emit, isQuick, metric } from '../report.js';
import { startScript } from '../../dev/child.js';
import { startBenchStack } from '../servers/stack.js';

/** What the benchmark's servers print once they serve (bench/servers/*). */
const listening = /listening (\d+)/;

const quick = isQuick();
const devices = 100;
const partitions = 4;
const stepMs = 20_000; // event time per tick
const tickMs = 200; // wall time per tick
const latenessSeconds = 60;
const windows = quick ? 8 : 30;
// The first windows warm the host (JIT, Cosmos, MySQL and Web PubSub connections): not counted.
const warmupWindows = 3;
const ticksPerWindow = windowSizeMs / stepMs;
// Enough ticks past the last measured window for its watermark to pass end + lateness.
const ticks = (windows + 1) * ticksPerWindow + (latenessSeconds * 1000) / stepMs + 1;

const dir = mkdtempSync(join(tmpdir(), 'sis-bench-alerts-'));
const stops: (() => Promise<void>)[] = [];

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

try {
  const { eventHubs, azurite, webPubSub, appEnv } = await startBenchStack({
    dir,
    stops,
    partitions,
    equipment: devices,
  });

  const host = await startScript({
    script: 'bench/servers/triggerHost.ts',
    env: {
      ...appEnv,
      TELEMETRY_ALLOWED_LATENESS_SECONDS: String(latenessSeconds),
      BENCH_STORAGE: azurite.connectionString,
      BENCH_MAX_WAIT_SECONDS: '1',
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
  const client = new WebPubSubClient(url, { autoReconnect: false });
  const received: { at: number; type: string; equipmentId: string; windowStart: string }[] = [];
  client.on('group-message', (event) => {
    const at = Date.now();
    const data = event.message.data as {
      type?: string;
      alert?: { equipmentId: string; lastWindowStart: string };
    };
    if (data.alert && data.type?.startsWith('alert.')) {
      received.push({
        at,
        type: data.type,
        equipmentId: data.alert.equipmentId,
        windowStart: data.alert.lastWindowStart,
      });
    }
  });
  await client.start();
  stops.push(() => {
    client.stop();
    return Promise.resolve();
  });

  const producer = new EventHubProducerClient(
    eventHubs.connectionString('device', 'telemetry'),
    'telemetry',
  );
  stops.push(() => producer.close());
  // Event time starts two hours back, on a window boundary, and runs ahead of nothing: every
  // reading is stamped before it is enqueued, so the watermark follows it.
  const t0 = Math.floor((Date.now() - 2 * 3_600_000) / windowSizeMs) * windowSizeMs;
  const hot = (device: number, window: number) => (device + window) % 10 === 0;
  const sentAt: number[] = [];
  const began = Date.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = began + tick * tickMs;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const time = t0 + tick * stepMs;
    const window = Math.floor((time - t0) / windowSizeMs);
    sentAt.push(Date.now());
    await Promise.all(
      Array.from({ length: partitions }, async (_, partition) => {
        const readings = [];
        for (let device = partition; device < devices; device += partitions) {
          readings.push({
            equipmentId: String(device + 1),
            timestamp: new Date(time).toISOString(),
            temperature: hot(device, window) ? 93 : 66 + (device % 5),
            vibration: 2.1,
            pressure: 41,
          });
        }
        const batch = await producer.createBatch({ partitionId: String(partition) });
        if (!batch.tryAdd({ body: readings })) throw new Error('tick too large for a batch');
        await producer.sendBatch(batch);
      }),
    );
  }
  const lateTicks = (latenessSeconds * 1000) / stepMs;
  // Window w can close when the first tick at or past its end plus the lateness is sent.
  const canClose = (windowStart: number) => {
    const tick = Math.ceil((windowStart + windowSizeMs - t0) / stepMs) + lateTicks;
    return sentAt[tick];
  };
  let expected = 0;
  for (let w = warmupWindows; w < windows; w++) {
    if (canClose(t0 + w * windowSizeMs) === undefined) continue;
    for (let d = 0; d < devices; d++) if (hot(d, w)) expected++;
  }
  // Wait (bounded) for the last alerts.
  const waitUntil = Date.now() + 30_000;
  let last = received.length;
  let quietSince = Date.now();
  while (Date.now() < waitUntil && Date.now() - quietSince < 5_000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (received.length !== last) {
      last = received.length;
      quietSince = Date.now();
    }
  }
  const latencies: number[] = [];
  const seen = new Set<string>();
  const byWindow = new Map<number, number>();
  for (const message of received) {
    const start = Date.parse(message.windowStart);
    const closable = canClose(start);
    const w = (start - t0) / windowSizeMs;
    if (closable === undefined || w < warmupWindows || w >= windows) continue;
    const key = `${message.equipmentId}@${message.windowStart}`;
    if (seen.has(key)) continue;
    seen.add(key);
    latencies.push(message.at - closable);
    byWindow.set(w, Math.max(byWindow.get(w) ?? 0, message.at - closable));
  }
  console.error(
    `slowest alert per window (ms): ${[...byWindow.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, ms]) => ms.toFixed(0))
      .join(' ')}`,
  );
  const p99 = latencies.length ? percentile(latencies, 99) : null;
  const p50 = latencies.length ? percentile(latencies, 50) : NaN;
  console.error(
    `alerts: ${latencies.length}/${expected} hot windows delivered; p50 ${p50.toFixed(0)} ms, p99 ${p99?.toFixed(0) ?? '-'} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
  );
  const complete = latencies.length === expected && expected > 0;
  const result = metric(
    'alert_latency_p99_ms',
    p99,
    null,
    `${latencies.length} of ${expected} expected alert messages (group alerts) over ${windows - warmupWindows} windows (after ${warmupWindows} warm-up windows) of ${devices} devices replayed at ${stepMs / tickMs}× real time, lateness ${latenessSeconds} s, host batches waiting at most 1 s; p50 ${p50.toFixed(0)} ms` +
      (complete ? '' : '; INCOMPLETE: some alerts never arrived'),
  );
  emit({ alert_latency_p99_ms: complete ? result : { ...result, pass: false } });
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
