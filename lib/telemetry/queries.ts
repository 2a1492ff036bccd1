/**
 * Reads for the HTTP API over the pipeline's Cosmos containers: dead letters and an
 * equipment's telemetry (alerts: lib/api/alerts.ts, which pages with {@link keysetPage}).
 * Lists page by keyset (newest first, then id) with an opaque cursor, so a page costs the
 * same at any depth, as with the MySQL lists.
 */
import type { Container, Database, ItemDefinition, SqlParameter } from '@azure/cosmos';
import { z } from 'zod';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../paging.js';
import { documentBody, partitionKeyOf, storedAggregate, windowKey } from './cosmosStore.js';
import type { BatchPartial, DeadLetter, PartitionState } from './partition.js';
import { aggregateId, contributionKey, type WindowAggregate } from './processor.js';
import type { Reading } from './reading.js';
import { emptyStats, mergeStats, summarize, type WindowStats } from './stats.js';
import { windowEndOf, windowStartOf } from './window.js';

/** Cosmos ETags are quoted in Azure and bare in the local stand-in; HTTP wants them quoted. */
export function httpEtag(cosmosEtag: unknown): string {
  const value = String(cosmosEtag);
  return value.startsWith('"') ? value : `"${value}"`;
}

/** A keyset cursor's sort key: the last item's sort field, then its id. */
const cursorKeySchema = z.tuple([z.string().max(64), z.string().max(512)]);

/**
 * One keyset page of `container`, newest `sortField` first: `conditions` are ANDed SQL
 * fragments over `c` with their parameters.
 */
export async function keysetPage<T extends { id: string }>(
  container: Container,
  sortField: string,
  conditions: string[],
  parameters: SqlParameter[],
  page: PageRequest,
  partitionKey?: string,
): Promise<Page<T & { etag: string }>> {
  const where = [...conditions];
  const params = [...parameters];
  if (page.cursor !== undefined) {
    const [after, afterId] = decodeCursor(page.cursor, cursorKeySchema);
    where.push(
      `(c.${sortField} < @afterSort OR (c.${sortField} = @afterSort AND c.id < @afterId))`,
    );
    params.push({ name: '@afterSort', value: after }, { name: '@afterId', value: afterId });
  }
  const query = {
    query:
      `SELECT TOP @take * FROM c` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY c.${sortField} DESC, c.id DESC`,
    parameters: [...params, { name: '@take', value: page.limit + 1 }],
  };
  const { resources } = await container.items
    .query<ItemDefinition>(query, partitionKey === undefined ? {} : { partitionKey })
    .fetchAll();
  const items = resources
    .slice(0, page.limit)
    .map((r) => ({ ...(documentBody(r) as T), etag: httpEtag(r._etag) }));
  const last = items.at(-1);
  const lastSort = last ? (last as unknown as Record<string, unknown>)[sortField] : undefined;
  return {
    items,
    nextCursor:
      resources.length > page.limit && last && typeof lastSort === 'string'
        ? encodeCursor([lastSort, last.id])
        : null,
  };
}

// ---------- dead letters ----------

export interface DeadLetterFilter {
  equipmentId?: string | undefined;
  reason?: string | undefined;
  since?: string | undefined;
}

/**
 * A batch the handler could not align or read, parked whole (written by the ingest handler
 * in the same container, with `reason: 'unreadable-batch'`).
 */
export interface ParkedBatch {
  id: string;
  equipmentId: string;
  reason: 'unreadable-batch';
  detail: string;
  partitionId: string;
  firstSequenceNumber: number;
  lastSequenceNumber: number;
  enqueuedTime: string;
  eventCount: number;
  events: { sequenceNumber: number; raw: string; rawTruncated: boolean }[];
}

/**
 * Dead letters (one per event) and parked batches, newest enqueued first. `equipmentId` finds
 * an event by any of its rejected readings' ids, `reason` by any of its reasons.
 */
export function listDeadLetters(
  database: Database,
  filter: DeadLetterFilter,
  page: PageRequest,
): Promise<Page<(DeadLetter | ParkedBatch) & { etag: string }>> {
  const conditions: string[] = [];
  const parameters: SqlParameter[] = [];
  if (filter.equipmentId !== undefined) {
    // An event's letter lives in the partition of its first id; the others are in
    // `equipmentIds` (a parked batch has only its `equipmentId`), so this is a cross-partition
    // query, as the unfiltered listing already is.
    conditions.push(
      '(c.equipmentId = @equipmentId OR ARRAY_CONTAINS(c.equipmentIds, @equipmentId))',
    );
    parameters.push({ name: '@equipmentId', value: filter.equipmentId });
  }
  if (filter.reason !== undefined) {
    conditions.push('(c.reason = @reason OR ARRAY_CONTAINS(c.reasons, @reason))');
    parameters.push({ name: '@reason', value: filter.reason });
  }
  if (filter.since !== undefined) {
    conditions.push('c.enqueuedTime >= @since');
    parameters.push({ name: '@since', value: new Date(filter.since).toISOString() });
  }
  return keysetPage<DeadLetter | ParkedBatch>(
    database.container('deadLetters'),
    'enqueuedTime',
    conditions,
    parameters,
    page,
  );
}

// ---------- telemetry of one equipment ----------

/**
 * A reading as the API shows it: the pipeline keeps event times as epoch milliseconds, the
 * API shows every time as ISO 8601 (UTC).
 */
export type PublicReading = Omit<Reading, 'timestamp'> & { timestamp: string };

export function publicReading(reading: Reading): PublicReading {
  return { ...reading, timestamp: new Date(reading.timestamp).toISOString() };
}

export interface EquipmentTelemetry {
  equipmentId: string;
  /** The newest reading the pipeline accepted, from the newest batch that held one. */
  latest: PublicReading | null;
  /** The window still collecting readings, from the batches not yet merged. */
  currentWindow: { start: string; end: string; summary: ReturnType<typeof summarize> } | null;
  /** Closed windows in [from, to), oldest first. */
  history: Omit<WindowAggregate, 'stats' | 'contributions'>[];
}

export async function equipmentTelemetry(
  database: Database,
  equipmentId: string,
  range: { from: Date; to: Date },
): Promise<EquipmentTelemetry> {
  // The latest reading is the newest by timestamp among the few batches holding this
  // equipment whose newest reading is newest (`newestReadingTime`, written with each partial):
  // sequence numbers cannot order batches of different partitions or epochs.
  const partials = database.container('pipelineState');
  const { resources: newest } = await partials.items
    .query<BatchPartial & ItemDefinition>({
      query:
        "SELECT TOP 5 * FROM c WHERE c.type = 'partial' AND ARRAY_CONTAINS(c.equipmentIds, @equipmentId) ORDER BY c.newestReadingTime DESC",
      parameters: [{ name: '@equipmentId', value: equipmentId }],
    })
    .fetchAll();
  const latest = newest
    .flatMap((p) => p.entries)
    .filter((e) => e.equipmentId === equipmentId)
    .reduce<Reading | null>(
      (found, entry) =>
        found === null || entry.latest.timestamp > found.timestamp ? entry.latest : found,
      null,
    );

  const { resources: aggregates } = await database
    .container('aggregates')
    .items.query<WindowAggregate & ItemDefinition>(
      {
        query:
          'SELECT * FROM c WHERE c.equipmentId = @equipmentId AND c.windowStart >= @from AND c.windowStart < @to ORDER BY c.windowStart ASC',
        parameters: [
          { name: '@equipmentId', value: equipmentId },
          { name: '@from', value: range.from.toISOString() },
          { name: '@to', value: range.to.toISOString() },
        ],
      },
      { partitionKey: equipmentId },
    )
    .fetchAll();

  let currentWindow: EquipmentTelemetry['currentWindow'] = null;
  let openStart: string | undefined;
  if (latest) {
    const start = windowStartOf(latest.timestamp);
    currentWindow = await openWindow(database, equipmentId, start);
    openStart = currentWindow?.start;
  }
  return {
    equipmentId,
    latest: latest && publicReading(latest),
    currentWindow,
    // A window still open on some partition is shown once, as the current window, even when
    // another partition has already merged its part into the aggregate.
    history: aggregates
      .map((a) => storedAggregate(a))
      .filter((a) => a.windowStart !== openStart)
      .map(({ stats: _stats, contributions: _contributions, ...rest }) => rest),
  };
}

/**
 * The equipment's window starting at `start` while any partition still has it open: the
 * readings in the partials that partitions' committed states list as pending, plus what the
 * partitions that already closed it merged into its aggregate. One equipment's readings may
 * arrive on several partitions, so every partition holding the window is asked, and each
 * partition's readings are counted once: from its partials while its state lists them,
 * from its contribution to the aggregate after.
 */
async function openWindow(
  database: Database,
  equipmentId: string,
  start: number,
): Promise<EquipmentTelemetry['currentWindow']> {
  const partials = database.container('pipelineState');
  const { resources: holding } = await partials.items
    .query<BatchPartial & ItemDefinition>({
      query: "SELECT * FROM c WHERE c.type = 'partial' AND ARRAY_CONTAINS(c.windowKeys, @key)",
      parameters: [{ name: '@key', value: windowKey(equipmentId, start) }],
    })
    .fetchAll();
  let open = false;
  let stats = emptyStats();
  const pendingKeys = new Set<string>();
  for (const partitionId of [...new Set(holding.map((p) => p.partitionId))].sort()) {
    // The partition's committed state decides: only partials it lists as pending for this
    // window count (an attempt that crashed before committing left a partial that its redo
    // wrote again under another sequence range).
    const { resource: state } = await partials
      .item('state', partitionKeyOf(partitionId))
      .read<PartitionState & ItemDefinition>();
    if (!state) continue;
    const pending = new Set(
      state.pending.filter((p) => p.windows.includes(start)).map((p) => p.id),
    );
    if (pending.size === 0) continue;
    pendingKeys.add(contributionKey(state));
    if (windowEndOf(start) > state.closedBefore) open = true;
    stats = holding
      .filter((p) => p.partitionId === partitionId)
      .filter((p) => pending.has((p as { partialId?: string }).partialId ?? p.id))
      .flatMap((p) => p.entries)
      .filter((e) => e.equipmentId === equipmentId && e.windowStart === start)
      .reduce<WindowStats>((sum, e) => mergeStats(sum, e.stats), stats);
  }
  if (!open) return null;
  const aggregate = await readAggregate(database, equipmentId, start);
  for (const [key, contribution] of Object.entries(aggregate?.contributions ?? {})) {
    if (!pendingKeys.has(key)) stats = mergeStats(stats, contribution);
  }
  return {
    start: new Date(start).toISOString(),
    end: new Date(windowEndOf(start)).toISOString(),
    summary: summarize(stats),
  };
}

async function readAggregate(
  database: Database,
  equipmentId: string,
  windowStart: number,
): Promise<WindowAggregate | undefined> {
  try {
    const { resource } = await database
      .container('aggregates')
      .item(aggregateId(equipmentId, windowStart), equipmentId)
      .read<ItemDefinition>();
    return resource ? storedAggregate(resource) : undefined;
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  }
}
