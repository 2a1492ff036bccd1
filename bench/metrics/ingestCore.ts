/**
 * `ingest_core_instrumented_ratio`: the same pipeline, recording what the trigger records per
 * batch (lib/telemetry/ingest.ts: the batch span, the ingestion counters and histograms),
 * with the OpenTelemetry SDK registered (a meter provider with a reader, a tracer provider
 * with a span processor) against none registered (the API's no-op), alternating rounds.
 *
 * `ingest_core_ratio`: readings per second through the pure pipeline (validation, the
 * per-partition window fold, closing windows and grading their severity; no I/O), over the
 * same event bodies as JSON text that a baseline only `JSON.parse`s. Rounds alternate between
 * the two and each side keeps its best round, so a neighbour's burst of CPU hurts neither.
 */
import {
  applyBatch,
  dueWindows,
  initialPartitionState,
  markEmitted,
  mergeWindow,
  type BatchPartial,
  type PartitionEvent,
  type PartitionState,
} from '../../lib/telemetry/partition.js';
import { gradeWindow, defaultSeverityRules, rulesFor } from '../../lib/telemetry/severity.js';
import { meansOf } from '../../lib/telemetry/stats.js';
import { context, metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { deployedSamplingRatio, tracerProvider } from '../../dev/tracing.js';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { recordIngestBatch, recordWindowsEmitted } from '../../lib/observability/instruments.js';
import { inSpan, SpanKind } from '../../lib/observability/tracing.js';
import { emit, isQuick, metric } from '../report.js';

const quick = isQuick();
const devices = 10_000;
const intervalSeconds = 30;
const readingsTotal = quick ? 200_000 : 1_000_000;
const partitions = 4;
const batchSize = 1000;
const rounds = quick ? 7 : 5;
const start = Date.UTC(2026, 10, 24, 8, 0, 0);

/** Event bodies per partition, in time order, as devices send them (one reading per event). */
function buildStream(): { partition: number; body: string; enqueuedTimeMs: number }[] {
  const events: { partition: number; body: string; enqueuedTimeMs: number }[] = [];
  for (let i = 0; events.length < readingsTotal; i++) {
    const device = i % devices;
    const round = Math.floor(i / devices);
    const time = start + round * intervalSeconds * 1000 + (device % intervalSeconds) * 1000;
    const hot = device % 100 === 7;
    const wobble = Math.sin(device * 7 + time / 60_000);
    events.push({
      partition: device % partitions,
      enqueuedTimeMs: time + 40,
      body: JSON.stringify({
        equipmentId: String(device + 1),
        timestamp: new Date(time).toISOString(),
        temperature: Math.round((hot ? 93 : 65 + 5 * wobble) * 100) / 100,
        vibration: Math.round((2 + wobble) * 100) / 100,
        pressure: Math.round((40 + 3 * wobble) * 100) / 100,
      }),
    });
  }
  return events;
}

const stream = buildStream();
const byPartition: PartitionEvent[][] = Array.from({ length: partitions }, () => []);
for (const event of stream) {
  const list = byPartition[event.partition];
  list?.push({
    body: event.body,
    sequenceNumber: list.length,
    enqueuedTimeMs: event.enqueuedTimeMs,
  });
}
const rules = rulesFor(defaultSeverityRules);
const settings = { allowedLatenessMs: 60_000, futureToleranceMs: 300_000 };

/**
 * The pipeline over the whole stream: the seconds it took and how many windows breached (kept
 * live). Partials stay in memory, standing in for the container `emitDueWindows` reads them
 * back from. Each batch's span ends (and is processed) before the next batch starts, as each
 * trigger invocation's does.
 */
async function pipeline(): Promise<{ seconds: number; breached: number }> {
  let breached = 0;
  let windowsClosed = 0;
  const began = performance.now();
  for (const events of byPartition) {
    let state: PartitionState = initialPartitionState('0');
    const partials = new Map<string, BatchPartial>();
    const close = (s: PartitionState) => {
      const due = dueWindows(s);
      windowsClosed += due.length;
      for (const { windowStart, partialIds } of due) {
        const held = partialIds.map((id) => partials.get(id) as BatchPartial);
        for (const stats of mergeWindow(held, windowStart).values()) {
          if (gradeWindow(meansOf(stats), rules).severity) breached++;
        }
      }
      const next = markEmitted(
        s,
        due.map((d) => d.windowStart),
      );
      // The partials no window needs any more (the container's TTL, in production).
      if (due.length) {
        const listed = new Set(next.pending.map((p) => p.id));
        for (const id of partials.keys()) if (!listed.has(id)) partials.delete(id);
      }
      return next;
    };
    for (let i = 0; i < events.length; i += batchSize) {
      const batch = events.slice(i, i + batchSize);
      const batchBegan = performance.now();
      // What lib/telemetry/ingest.ts records per batch.
      await inSpan('ingestTelemetry process', { kind: SpanKind.CONSUMER }, () => {
        const result = applyBatch(state, batch, settings);
        if (result.partial) partials.set(result.partial.id, result.partial);
        const before = windowsClosed;
        state = close(result.state);
        recordIngestBatch({
          partitionId: '0',
          events: batch.length,
          readings: result.readings,
          deadLettersByReason: {},
          epochsStarted: result.epochsStarted.length,
          durationSeconds: (performance.now() - batchBegan) / 1000,
        });
        recordWindowsEmitted(windowsClosed - before, windowsClosed - before);
        return Promise.resolve();
      });
    }
    // The stream ends: the idle timer would close the rest.
    close({ ...state, closedBefore: Number.MAX_SAFE_INTEGER });
  }
  return { seconds: (performance.now() - began) / 1000, breached };
}

function baseline(): number {
  let fields = 0;
  for (const events of byPartition) {
    for (const event of events) {
      const value = JSON.parse(event.body as string) as Record<string, unknown>;
      if (value['equipmentId'] !== undefined) fields++;
    }
  }
  return fields;
}

/** Readings per second of one pipeline run. */
async function pipelineRate(run: () => Promise<{ seconds: number; breached: number }>) {
  const { seconds, breached } = await run();
  if (breached < 0) console.log(breached);
  return stream.length / seconds;
}

/** Readings per second of one baseline run. */
function baselineRate(): number {
  const began = performance.now();
  const sink = baseline();
  const seconds = (performance.now() - began) / 1000;
  if (sink < 0) console.log(sink);
  return stream.length / seconds;
}

// The SDK, made once and registered for the instrumented rounds only.
const meterProvider = new MeterProvider({
  readers: [new PrometheusExporter({ preventServerStart: true })],
});
const spans = new InMemorySpanExporter();
// Sampled and batched as deployed (dev/tracing.ts `TracingOptions`).
const tracing = tracerProvider(spans, { production: { samplingRatio: deployedSamplingRatio } });
const contextManager = new AsyncLocalStorageContextManager().enable();
function instrumented(
  work: () => Promise<{ seconds: number; breached: number }>,
): () => Promise<{ seconds: number; breached: number }> {
  return async () => {
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracing);
    context.setGlobalContextManager(contextManager);
    try {
      return await work();
    } finally {
      metrics.disable();
      trace.disable();
      context.disable();
      spans.reset();
    }
  };
}
const pipelineInstrumented = instrumented(pipeline);

let best = 0;
let bestInstrumented = 0;
let bestBaseline = 0;
// One warm-up of each, so every side is measured optimised.
await pipelineRate(pipeline);
await pipelineRate(pipelineInstrumented);
baselineRate();
for (let round = 0; round < rounds; round++) {
  bestBaseline = Math.max(bestBaseline, baselineRate());
  best = Math.max(best, await pipelineRate(pipeline));
  bestInstrumented = Math.max(bestInstrumented, await pipelineRate(pipelineInstrumented));
  console.error(
    `ingest core round ${round + 1}/${rounds}: pipeline ${Math.round(best)}/s, instrumented ${Math.round(bestInstrumented)}/s, JSON.parse ${Math.round(bestBaseline)}/s`,
  );
}
emit({
  ingest_core_ratio: metric(
    'ingest_core_ratio',
    best,
    bestBaseline,
    `${stream.length.toLocaleString('en-US')} readings from ${devices.toLocaleString('en-US')} devices every ${intervalSeconds} s, ${partitions} partitions, batches of ${batchSize}; best of ${rounds} alternating rounds`,
  ),
  ingest_core_instrumented_ratio: metric(
    'ingest_core_instrumented_ratio',
    bestInstrumented,
    best,
    `the same pipeline with the OpenTelemetry SDK registered (metrics reader, span processor) against none; best of ${rounds} alternating rounds`,
  ),
});
