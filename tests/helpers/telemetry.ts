/**
 * Arranging telemetry through the real pipeline: events handed to the Event Hub trigger's
 * handler in-process, with trigger metadata shaped like the Functions host's
 * (`cardinality: 'many'`), and reads of what the pipeline left in Cosmos.
 */
import type { ItemDefinition } from '@azure/cosmos';
import type { Pool } from 'mysql2/promise';
import { expect } from 'vitest';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { InvocationContext } from '../../lib/host/azureFunctions.js';
import type { ApiResult } from './api.js';
import type { TestCosmos } from './cosmos.js';

/** A JSON object from a response body. */
export type Json = Record<string, unknown>;

/** A reading as a device sends it: `time` is ISO 8601 with a zone. */
export function reading(
  equipmentId: string,
  time: string,
  metrics: Partial<Record<'temperature' | 'vibration' | 'pressure', number>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { equipmentId, timestamp: time, ...metrics, ...extra };
}

/**
 * Trigger metadata as the Functions host passes it for a batch of `cardinality: 'many'`:
 * one entry per event in each `...Array`, and the partition in `partitionContext`.
 */
export function hostMetadata(
  partitionId: string,
  sequenceNumbers: readonly number[],
  enqueuedTimes: readonly string[],
): Record<string, unknown> {
  return {
    partitionContext: {
      partitionId,
      eventHubName: 'telemetry',
      consumerGroup: '$Default',
      fullyQualifiedNamespace: 'localhost',
    },
    sequenceNumberArray: [...sequenceNumbers],
    enqueuedTimeUtcArray: [...enqueuedTimes],
    offsetArray: sequenceNumbers.map((n) => String(n * 512)),
    partitionKeyArray: sequenceNumbers.map(() => null),
    propertiesArray: sequenceNumbers.map(() => ({})),
    systemPropertiesArray: sequenceNumbers.map((n, i) => ({
      'x-opt-sequence-number': n,
      'x-opt-offset': String(n * 512),
      'x-opt-enqueued-time': enqueuedTimes[i],
      SequenceNumber: n,
      Offset: String(n * 512),
      PartitionKey: null,
      EnqueuedTimeUtc: enqueuedTimes[i],
    })),
  };
}

/** What one invocation of the handler logged. */
export interface IngestResult {
  logs: string[];
}

let invocations = 0;

/** Invokes the ingest handler once, as the host would, and collects its log lines. */
export async function invokeIngest(
  messages: unknown,
  triggerMetadata: Record<string, unknown> | undefined,
): Promise<IngestResult> {
  const logs: string[] = [];
  invocations += 1;
  const context = new InvocationContext({
    invocationId: `ingest-${invocations}`,
    functionName: 'ingestTelemetry',
    logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
    ...(triggerMetadata ? { triggerMetadata } : {}),
  });
  await ingestTelemetryFunction.handler(messages, context);
  return { logs };
}

/** One event to send: its body (any shape the host may pass) and when it was enqueued. */
export type SentEvent = readonly [body: unknown, enqueuedTimeUtc: string];

/** A batch ready to hand to the handler (again, for redeliveries). */
export interface Batch {
  messages: unknown[];
  triggerMetadata: Record<string, unknown>;
  sequenceNumbers: number[];
}

/**
 * One Event Hubs partition: numbers events consecutively from 0, as Event Hubs does, and
 * delivers them to the handler in batches.
 */
export class PartitionFeed {
  private nextSequenceNumber = 0;

  constructor(readonly partitionId: string) {}

  /** The next batch of `events` (sequence numbers assigned, not yet delivered). */
  batch(events: readonly SentEvent[]): Batch {
    const sequenceNumbers = events.map(() => this.nextSequenceNumber++);
    return {
      messages: events.map(([body]) => body),
      sequenceNumbers,
      triggerMetadata: hostMetadata(
        this.partitionId,
        sequenceNumbers,
        events.map(([, enqueued]) => enqueued),
      ),
    };
  }

  /** Delivers `events` as the next batch. */
  send(events: readonly SentEvent[]): Promise<IngestResult & { batch: Batch }> {
    const batch = this.batch(events);
    return deliver(batch).then((result) => ({ ...result, batch }));
  }
}

/** Delivers (or redelivers) a batch. */
export function deliver(batch: Batch): Promise<IngestResult> {
  return invokeIngest(batch.messages, batch.triggerMetadata);
}

/** Readings sent as JSON text, each enqueued one second after it was stamped. */
export function jsonEvents(readings: readonly Record<string, unknown>[]): SentEvent[] {
  return readings.map((r) => [JSON.stringify(r), plusSeconds(String(r['timestamp']), 1)]);
}

/** `iso` moved by `seconds`, as ISO 8601 UTC with milliseconds. */
export function plusSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

export const telemetryContainerIds = [
  'aggregates',
  'alerts',
  'deadLetters',
  'pipelineState',
] as const;

/** Every document of a container, sorted by partition key field and id. */
export async function documents(
  cosmos: TestCosmos,
  container: (typeof telemetryContainerIds)[number],
): Promise<ItemDefinition[]> {
  const { resources } = await cosmos.containers[container].items
    .readAll<ItemDefinition>()
    .fetchAll();
  const key = (d: ItemDefinition) => `${String(d['equipmentId'] ?? d['pk'])}\u0000${String(d.id)}`;
  return resources.sort((a, b) => key(a).localeCompare(key(b)));
}

/** Every document of every pipeline container, system properties (ETags) included. */
export async function cosmosSnapshot(cosmos: TestCosmos): Promise<Record<string, unknown>> {
  const snapshot: Record<string, unknown> = {};
  for (const id of telemetryContainerIds) snapshot[id] = await documents(cosmos, id);
  return snapshot;
}

/** Runs `work` and checks that no pipeline document was written, changed or removed. */
export async function expectCosmosUnchanged<T>(
  cosmos: TestCosmos,
  work: () => Promise<T>,
): Promise<T> {
  const before = await cosmosSnapshot(cosmos);
  const result = await work();
  expect(await cosmosSnapshot(cosmos)).toEqual(before);
  return result;
}

/** An equipment row with this id, so the equipment routes know it. */
export async function insertEquipment(pool: Pool, id: number): Promise<void> {
  await pool.query(
    'INSERT INTO equipment (id, serial_number, name, type, status) VALUES (?, ?, ?, ?, ?)',
    [id, `TEL-${id}`, `Telemetry machine ${id}`, 'excavator', 'Operational'],
  );
}

/** Follows `nextCursor` from `path` (which already has `limit`), returning every page. */
export async function allPages(
  get: (path: string) => Promise<ApiResult>,
  path: string,
): Promise<Json[][]> {
  const pages: Json[][] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const separator = path.includes('?') ? '&' : '?';
    const result = await get(
      cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`,
    );
    expect(result.status, result.text).toBe(200);
    pages.push(result.body.items as Json[]);
    cursor = result.body.nextCursor as string | null;
    if (cursor === null) return pages;
  }
  throw new Error(`More than 50 pages from ${path}`);
}
