/**
 * `cosmos_writes_per_1k_seed` and `cosmos_writes_per_1k_highrate`: Cosmos DB write operations per 1,000 readings for the two load profiles of
 * the telemetry issue, counted at the Cosmos server (every create, upsert, replace, patch and
 * delete of a document), through the real processor, store and SDK. The baseline, measured
 * in the same run on a sample of the same stream, is the Azure reference design
 * (streaming-at-scale): one document upserted per event.
 *
 * The host's batching is simulated from host.json's `extensions.eventHubs` settings: a
 * partition's batch is dispatched once `minEventBatchSize` events wait (up to
 * `maxEventBatchSize`), or when the oldest has waited `maxWaitTime`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCosmosServer } from '../../dev/cosmos.js';
import { hostJsonEventHubs } from '../../dev/hostJson.js';
import {
  COSMOS_EMULATOR_KEY,
  createCosmosClient,
  ensureTelemetryContainers,
} from '../../lib/cosmos/client.js';
import { CosmosTelemetryStore } from '../../lib/telemetry/cosmosStore.js';
import type { PartitionEvent } from '../../lib/telemetry/partition.js';
import {
  closeIdleWindows,
  processBatch,
  type ProcessorOptions,
} from '../../lib/telemetry/processor.js';
import { defaultSeverityRules, rulesFor } from '../../lib/telemetry/severity.js';
import { emit, metric, type MetricName } from '../report.js';

interface Profile {
  metric: MetricName;
  name: string;
  devices: number;
  intervalSeconds: number;
  /** Target from the issue: writes per 1,000 readings. */
  target: number;
}

const profiles: Profile[] = [
  {
    metric: 'cosmos_writes_per_1k_seed',
    name: '10,000 devices every 30 s',
    devices: 10_000,
    intervalSeconds: 30,
    target: 120,
  },
  {
    metric: 'cosmos_writes_per_1k_highrate',
    name: '1,000 devices every 1 s',
    devices: 1_000,
    intervalSeconds: 1,
    target: 10,
  },
];

const { values } = parseArgs({
  options: { minutes: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
// --quick: one window of event time per profile instead of three.
const minutes = Number(values.minutes ?? (values.quick ? '5' : '15'));
// Whole windows: a final half-filled window would count a full set of aggregates for part of
// the readings, which a steady stream never does.
if (!Number.isInteger(minutes) || minutes <= 0 || minutes % 5 !== 0) {
  throw new Error('--minutes must be a positive multiple of 5 (whole windows)');
}
const partitions = 4;

const batching = hostJsonEventHubs();
const maxWaitMs = batching.maxWaitTimeSeconds * 1000;

let writes = 0;
function countWrites(request: IncomingMessage): void {
  const path = request.url ?? '';
  const isQuery = (request.headers['content-type'] ?? '').startsWith('application/query+json');
  const onDocuments = /\/docs(\/|$)/.test(path);
  if (!onDocuments || isQuery) return;
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method ?? '')) writes++;
}

/** Stable partition for a partition key, as Event Hubs hashes keys (any stable hash will do). */
function partitionOf(key: string): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
  return (hash >>> 0) % partitions;
}

const start = Date.UTC(2026, 10, 24, 8, 0, 0);

function readingBody(device: number, timeMs: number): string {
  // About 1% of devices run hot, so alerts are part of the cost.
  const hot = device % 100 === 7;
  const wobble = Math.sin(device * 7 + timeMs / 60_000);
  return JSON.stringify({
    equipmentId: `dev-${device}`,
    timestamp: new Date(timeMs).toISOString(),
    temperature: Math.round((hot ? 93 : 65 + 5 * wobble) * 100) / 100,
    vibration: Math.round((2 + wobble) * 100) / 100,
    pressure: Math.round((40 + 3 * wobble) * 100) / 100,
  });
}

const certDir = mkdtempSync(join(tmpdir(), 'sis-bench-cosmos-'));
const server = await startCosmosServer({ port: 0, certDir, onRequest: countWrites });
const client = createCosmosClient({
  endpoint: server.endpoint,
  key: COSMOS_EMULATOR_KEY,
  caCertPem: server.caCertPem,
});

async function runProfile(profile: Profile, index: number) {
  const { database } = await ensureTelemetryContainers(client, `bench-${index}`);
  const rules = rulesFor(defaultSeverityRules);
  const options: ProcessorOptions = {
    store: new CosmosTelemetryStore(database, {
      aggregateTtlSeconds: 86_400,
      deadLetterTtlSeconds: 86_400,
    }),
    settings: { allowedLatenessMs: 60_000, futureToleranceMs: 300_000 },
    rules: () => Promise.resolve(() => rules),
  };
  const queues = Array.from({ length: partitions }, () => [] as PartitionEvent[]);
  const sequence = Array.from({ length: partitions }, () => 0);
  const dispatch = async (partition: number, count: number) => {
    const batch = queues[partition]?.splice(0, count) ?? [];
    if (batch.length) await processBatch(options, String(partition), batch);
  };
  const before = writes;
  const began = performance.now();
  let readings = 0;
  const endMs = start + minutes * 60_000;
  for (let second = start; second < endMs; second += 1000) {
    for (let device = 0; device < profile.devices; device++) {
      // Each device sends once per interval, at its own offset within it.
      if ((second / 1000 + device) % profile.intervalSeconds !== 0) continue;
      const time = second + (device % 997);
      const partition = partitionOf(`dev-${device}`);
      const sequenceNumber = sequence[partition] ?? 0;
      sequence[partition] = sequenceNumber + 1;
      queues[partition]?.push({
        body: readingBody(device, time),
        sequenceNumber,
        enqueuedTimeMs: time + 50,
      });
      readings++;
    }
    for (let partition = 0; partition < partitions; partition++) {
      const queue = queues[partition] ?? [];
      const oldest = queue[0];
      if (queue.length >= batching.minEventBatchSize)
        await dispatch(partition, batching.maxEventBatchSize);
      else if (oldest && second - oldest.enqueuedTimeMs >= maxWaitMs)
        await dispatch(partition, queue.length);
    }
  }
  for (let partition = 0; partition < partitions; partition++) await dispatch(partition, Infinity);
  // The idle timer closes the last windows once the stream stops.
  await closeIdleWindows(options, endMs + 3_600_000, 0);
  const ours = writes - before;

  // Baseline on a sample of the same stream: one upsert per event.
  const baselineContainer = database.container('aggregates');
  const sample = 2000;
  const baselineBefore = writes;
  for (let i = 0; i < sample; i++) {
    const body = JSON.parse(readingBody(i % profile.devices, start + i * 10)) as {
      equipmentId: string;
    };
    await baselineContainer.items.upsert({ id: `baseline-${i}`, ...body });
  }
  const baseline = writes - baselineBefore;
  await database.delete();
  return {
    profile,
    readings,
    seconds: (performance.now() - began) / 1000,
    perThousand: (ours / readings) * 1000,
    baselinePerThousand: (baseline / sample) * 1000,
  };
}

try {
  console.log(
    `Cosmos writes per 1,000 readings, ${minutes} min of event time, ${partitions} partitions, ` +
      `batches ${batching.minEventBatchSize}-${batching.maxEventBatchSize} (maxWaitTime ${batching.maxWaitTimeSeconds} s)`,
  );
  const results: Partial<Record<MetricName, ReturnType<typeof metric>>> = {};
  for (const [index, profile] of profiles.entries()) {
    const result = await runProfile(profile, index);
    const ok = result.perThousand <= profile.target;
    results[profile.metric] = metric(
      profile.metric,
      result.perThousand,
      result.baselinePerThousand,
      `${profile.name}, ${result.readings.toLocaleString('en-US')} readings over ${minutes} min of event time, ${partitions} partitions, batches ${batching.minEventBatchSize}-${batching.maxEventBatchSize}; baseline: one upsert per event on a sample of the same stream`,
    );
    console.error(
      `${profile.name.padEnd(28)} ${String(result.readings).padStart(8)} readings  ` +
        `${result.perThousand.toFixed(2).padStart(7)} writes/1000 (target <= ${profile.target}) ` +
        `baseline ${result.baselinePerThousand.toFixed(0)}/1000  ratio ${(result.perThousand / result.baselinePerThousand).toFixed(4)}  ` +
        `${result.seconds.toFixed(1)} s  ${ok ? 'OK' : 'OVER TARGET'}`,
    );
  }
  emit(results);
} finally {
  client.dispose();
  await server.stop();
  rmSync(certDir, { recursive: true, force: true });
}
