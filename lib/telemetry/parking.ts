/**
 * Parking a batch the trigger cannot read (metadata missing, misaligned or unparseable): the
 * whole batch is kept as dead-letter documents, raw bodies included, and the partition moves
 * on. Throwing instead would only delay the loss: the host retries a failing batch, then
 * checkpoints past it (Event Hubs delivery is at least once, checkpointed either way).
 *
 * Pure: builds the documents; the store writes them (`TelemetryStore.parkBatch`).
 */
import { createHash } from 'node:crypto';
import { rawOfBody } from './reading.js';
import type { UnreadableBatch } from './trigger.js';

/** Partition id recorded when the metadata does not name one. */
export const unknownPartitionId = '(unknown)';

/** One event of a parked batch; its metadata only when it lined up with the bodies. */
export interface ParkedEvent {
  sequenceNumber: number | null;
  enqueuedTime: string | null;
  /** The body as UTF-8 text, at most `maxRawBytes` (4 KiB). */
  raw: string;
  rawTruncated: boolean;
}

/** A batch kept whole because it could not be processed. */
export interface ParkedBatch {
  /** Deterministic: a redelivery of the same batch overwrites it. */
  id: string;
  detail: string;
  partitionId: string;
  firstSequenceNumber: number | null;
  lastSequenceNumber: number | null;
  /**
   * Earliest enqueued time known from the metadata, else when the batch was parked (ISO 8601
   * UTC): the dead-letter listing orders and pages by it, so it is never null.
   */
  enqueuedTime: string;
  /** Latest enqueued time known from the metadata, or null. */
  lastEnqueuedTime: string | null;
  /** When the handler parked it (ISO 8601 UTC). */
  parkedAt: string;
  events: ParkedEvent[];
}

/** One stored document of a parked batch (chunk `chunk` of `chunks`), without its TTL. */
export interface ParkedBatchDocument extends ParkedBatch {
  /** `{batch id}` for chunk 0, `{batch id}~{chunk}` after it. */
  id: string;
  type: 'parked-batch';
  batchId: string;
  /** The container's partition key; a parked batch has no readable equipment. */
  equipmentId: string;
  reason: 'unreadable-batch';
  /** Events in the whole batch; `events` holds this chunk's. */
  eventCount: number;
  /** Position of this chunk's first event in the batch. */
  firstIndex: number;
  chunk: number;
  chunks: number;
}

/**
 * Largest serialized events per document: a 1,000-event batch of 4 KiB bodies would be
 * ~4 MB, beyond Cosmos' 2 MB item limit, so it is split like batch partials are.
 */
export const maxParkedChunkBytes = 900_000;

/** Characters Cosmos forbids in ids; a partition id with any of them is hashed instead. */
const safeIdPart = /^[A-Za-z0-9._:-]{1,64}$/;

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

function bodyBytes(body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  try {
    // JSON.stringify gives undefined (despite its type) for undefined and functions.
    return Buffer.from((JSON.stringify(body) as string | undefined) ?? String(body), 'utf8');
  } catch {
    return Buffer.from(String(body), 'utf8');
  }
}

/** What is known of an unreadable batch, as the record to park at `parkedAtMs`. */
export function parkedBatchOf(unreadable: UnreadableBatch, parkedAtMs: number): ParkedBatch {
  const { bodies, sequenceNumbers, enqueuedTimesMs } = unreadable;
  const partitionId = unreadable.partitionId ?? unknownPartitionId;
  // Per-event metadata only when the arrays line up with the bodies; otherwise nobody can
  // tell which body a number belongs to (the host may have dropped some bodies).
  const aligned = <T>(values: readonly T[] | undefined): readonly T[] | undefined =>
    values && values.length === bodies.length ? values : undefined;
  const eventSequence = aligned(sequenceNumbers);
  const eventTimes = aligned(enqueuedTimesMs);
  const known = (values: readonly (number | null)[] | undefined) =>
    (values ?? []).filter((v): v is number => v !== null);
  const sequence = known(sequenceNumbers);
  const times = known(enqueuedTimesMs);
  const first = sequence.length ? Math.min(...sequence) : null;
  const last = sequence.length ? Math.max(...sequence) : null;

  let id: string;
  if (first !== null && last !== null && safeIdPart.test(partitionId)) {
    id = `parked:${partitionId}:${first}-${last}`;
  } else {
    const hash = createHash('sha256');
    hash.update(`${partitionId}\n${JSON.stringify(sequenceNumbers ?? null)}\n`);
    for (const body of bodies) {
      const bytes = bodyBytes(body);
      hash.update(`${bytes.length}:`).update(bytes);
    }
    id = `parked:${hash.digest('hex')}`;
  }

  return {
    id,
    detail: unreadable.detail,
    partitionId,
    firstSequenceNumber: first,
    lastSequenceNumber: last,
    enqueuedTime: new Date(times.length ? Math.min(...times) : parkedAtMs).toISOString(),
    lastEnqueuedTime: times.length ? iso(Math.max(...times)) : null,
    parkedAt: new Date(parkedAtMs).toISOString(),
    events: bodies.map((body, i) => ({
      sequenceNumber: eventSequence?.[i] ?? null,
      enqueuedTime: iso(eventTimes?.[i]),
      ...rawOfBody(body),
    })),
  };
}

/**
 * The documents that store `batch` under the partition key `equipmentId`: its events split
 * so each document stays under `limit` bytes.
 */
export function parkedBatchDocuments(
  batch: ParkedBatch,
  equipmentId: string,
  limit = maxParkedChunkBytes,
): ParkedBatchDocument[] {
  const runs: { firstIndex: number; events: ParkedEvent[] }[] = [{ firstIndex: 0, events: [] }];
  let size = 0;
  for (const [index, event] of batch.events.entries()) {
    const cost = Buffer.byteLength(JSON.stringify(event)) + 1;
    const current = runs.at(-1) ?? { firstIndex: index, events: [] };
    if (current.events.length > 0 && size + cost > limit) {
      runs.push({ firstIndex: index, events: [event] });
      size = cost;
    } else {
      current.events.push(event);
      size += cost;
    }
  }
  return runs.map((run, chunk) => ({
    id: chunk === 0 ? batch.id : `${batch.id}~${chunk}`,
    type: 'parked-batch',
    batchId: batch.id,
    equipmentId,
    reason: 'unreadable-batch',
    detail: batch.detail,
    partitionId: batch.partitionId,
    firstSequenceNumber: batch.firstSequenceNumber,
    lastSequenceNumber: batch.lastSequenceNumber,
    enqueuedTime: batch.enqueuedTime,
    lastEnqueuedTime: batch.lastEnqueuedTime,
    parkedAt: batch.parkedAt,
    eventCount: batch.events.length,
    firstIndex: run.firstIndex,
    events: run.events,
    chunk,
    chunks: runs.length,
  }));
}
