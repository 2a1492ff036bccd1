/**
 * The telemetry store on Cosmos DB. Containers (see `lib/cosmos/client.ts`):
 * - `pipelineState` (pk `/pk` = `partition:{id}`): one `partition-state` document per Event
 *   Hubs partition, guarded by its ETag, and the `partial` documents of that partition's
 *   batches (kept for a day: the live view reads the newest ones).
 * - `aggregates` (pk `/equipmentId`): one document per equipment and closed window, holding
 *   each contributing partition's stats and their merge, updated under its ETag.
 * - `alerts` (pk `/equipmentId`): the alerts, and one `alert-slot` document per equipment
 *   and metric naming its current alert (see `AlertSlot` in alerts.ts).
 * - `deadLetters` (pk `/equipmentId`).
 * - `pipelineState` also holds one `presence` document per partition: equipment id → newest
 *   enqueued minute of its readings there (lib/telemetry/offline.ts), max-merged under its ETag.
 * Every write is an upsert of a deterministic id or a create/replace under a precondition,
 * so repeating any of them is harmless.
 */
import type { Container, Database, ItemDefinition } from '@azure/cosmos';
import { recordAlertVersion } from '../observability/instruments.js';
import { alertSlotId, type Alert, type AlertMetric, type AlertSlot } from './alerts.js';
import { mergePresence, type Presence } from './offline.js';
import { parkedBatchDocuments, type ParkedBatch } from './parking.js';
import {
  partitionStateFrom,
  type BatchPartial,
  type DeadLetter,
  type PartialEntry,
  type PartitionState,
  type StoredPartitionState,
  unknownEquipmentId,
} from './partition.js';
import {
  aggregateId,
  mergeContribution,
  type AggregateContribution,
  type TelemetryStore,
  type WindowAggregate,
} from './processor.js';
import { windowStatsSchema, type WindowStats } from './stats.js';

export interface CosmosStoreOptions {
  aggregateTtlSeconds: number;
  deadLetterTtlSeconds: number;
  /** How long batch partials stay readable (default {@link defaultPartialTtlSeconds}). */
  partialTtlSeconds?: number;
}

/**
 * Partials must outlive any stop of the app: a window is merged from its partials when it
 * closes, possibly days later after an outage. Event Hubs keeps events at most 7 days
 * (standard tier), so a partial older than that could not be redelivered anyway.
 */
export const defaultPartialTtlSeconds = 8 * 86_400;

/** Largest serialized entries per partial document, well under Cosmos' 2 MB item limit. */
export const maxPartialChunkBytes = 1_000_000;

/** Splits entries, in order, into runs whose JSON (with their keys) stays under the limit. */
export function chunkEntries(
  entries: readonly PartialEntry[],
  limit = maxPartialChunkBytes,
): PartialEntry[][] {
  const chunks: PartialEntry[][] = [[]];
  let size = 0;
  for (const entry of entries) {
    // The entry itself plus its windowKeys and equipmentIds items.
    const cost = Buffer.byteLength(JSON.stringify(entry)) + 2 * entry.equipmentId.length + 40;
    const current = chunks.at(-1) ?? [];
    if (current.length > 0 && size + cost > limit) {
      chunks.push([entry]);
      size = cost;
    } else {
      current.push(entry);
      size += cost;
    }
  }
  return chunks;
}

/**
 * A stored document without what Cosmos and this store add to it (system properties, the
 * partition key field, the document type and its time to live): the domain object again.
 */
export function documentBody(resource: ItemDefinition): unknown {
  const { _rid, _self, _etag, _ts, _attachments, _lsn, ttl, pk, type, ...body } = resource;
  return body;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Type of the documents in the alerts container that are slots, not alerts. */
export const alertSlotType = 'alert-slot';

/**
 * A stored aggregate as the domain type. Aggregates written before contributions existed
 * hold one partition's stats: that is their only contribution.
 */
export function storedAggregate(resource: ItemDefinition): WindowAggregate {
  const body = documentBody(resource) as Omit<WindowAggregate, 'contributions'> & {
    contributions?: Record<string, unknown>;
  };
  const stored = body.contributions ?? { [body.partitionId]: body.stats };
  const contributions: Record<string, WindowStats> = {};
  for (const [key, stats] of Object.entries(stored)) {
    contributions[key] = windowStatsSchema.parse(stats);
  }
  return { ...body, contributions };
}

/** Key of one equipment's window inside partial documents. */
export function windowKey(equipmentId: string, windowStart: number): string {
  return `${equipmentId}@${windowStart}`;
}

export function partitionKeyOf(partitionId: string): string {
  return `partition:${partitionId}`;
}

export class CosmosTelemetryStore implements TelemetryStore {
  private readonly state: Container;
  private readonly aggregates: Container;
  private readonly alerts: Container;
  private readonly deadLetters: Container;

  constructor(
    database: Database,
    private readonly options: CosmosStoreOptions,
  ) {
    this.state = database.container('pipelineState');
    this.aggregates = database.container('aggregates');
    this.alerts = database.container('alerts');
    this.deadLetters = database.container('deadLetters');
  }

  async readState(partitionId: string) {
    try {
      const { resource, etag } = await this.state
        .item('state', partitionKeyOf(partitionId))
        .read<ItemDefinition>();
      if (!resource) return { state: undefined, etag: undefined };
      return { state: partitionStateFrom(documentBody(resource) as StoredPartitionState), etag };
    } catch (error) {
      if (statusOf(error) === 404) return { state: undefined, etag: undefined };
      throw error;
    }
  }

  async listStates() {
    const { resources } = await this.state.items
      .query<ItemDefinition>({ query: "SELECT * FROM c WHERE c.type = 'partition-state'" })
      .fetchAll();
    return resources.map((resource) => ({
      state: partitionStateFrom(documentBody(resource) as StoredPartitionState),
      etag: String(resource._etag),
    }));
  }

  async commitState(state: PartitionState, etag: string | undefined): Promise<string | undefined> {
    const document = {
      ...state,
      id: 'state',
      pk: partitionKeyOf(state.partitionId),
      type: 'partition-state',
    };
    try {
      const response =
        etag === undefined
          ? await this.state.items.create(document)
          : await this.state
              .item('state', document.pk)
              .replace(document, { accessCondition: { type: 'IfMatch', condition: etag } });
      return response.etag;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412) return undefined;
      throw error;
    }
  }

  /**
   * Writes a batch's partial as one document, or as several when it would not fit Cosmos'
   * 2 MB item limit (a batch of gateway events, each an array of many devices' readings):
   * chunk 0 keeps the partial's id and says how many chunks there are; chunk k is `{id}~k` (Cosmos ids cannot hold `#`).
   */
  async writePartial(partial: BatchPartial): Promise<void> {
    const chunks = chunkEntries(partial.entries);
    for (const [index, entries] of chunks.entries()) {
      await this.state.items.upsert({
        ...partial,
        entries,
        id: index === 0 ? partial.id : `${partial.id}~${index}`,
        partialId: partial.id,
        chunks: chunks.length,
        pk: partitionKeyOf(partial.partitionId),
        type: 'partial',
        equipmentIds: [...new Set(entries.map((e) => e.equipmentId))],
        // Lets the live view find every batch holding an equipment's open window.
        windowKeys: entries.map((e) => windowKey(e.equipmentId, e.windowStart)),
        // Lets it find the newest readings: sequence numbers order one partition's batches
        // only, and start again in a new epoch.
        newestReadingTime: Math.max(...entries.map((e) => e.latest.timestamp)),
        ttl: this.options.partialTtlSeconds ?? defaultPartialTtlSeconds,
      });
    }
  }

  async readPartials(partitionId: string, ids: readonly string[]): Promise<BatchPartial[]> {
    const partials: BatchPartial[] = [];
    const read = async (id: string) =>
      (await this.state.item(id, partitionKeyOf(partitionId)).read<ItemDefinition>()).resource;
    for (const id of ids) {
      const first = await read(id);
      if (!first) continue;
      const partial = documentBody(first) as BatchPartial & { chunks?: number };
      const entries = [...partial.entries];
      for (let index = 1; index < (partial.chunks ?? 1); index++) {
        const chunk = await read(`${id}~${index}`);
        if (!chunk) throw new Error(`Chunk ${index} of partial ${id} is missing`);
        entries.push(...(documentBody(chunk) as BatchPartial).entries);
      }
      partials.push({
        id: partial.id,
        partitionId: partial.partitionId,
        firstSequenceNumber: partial.firstSequenceNumber,
        lastSequenceNumber: partial.lastSequenceNumber,
        entries,
      });
    }
    return partials;
  }

  /** One document per event (pk: its first readable equipment id), upserted by its id. */
  async writeDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    for (const letter of letters) {
      await this.deadLetters.items.upsert({ ...letter, ttl: this.options.deadLetterTtlSeconds });
    }
  }

  /**
   * Writes a parked batch into `deadLetters` under the unknown equipment id, split like a
   * partial when its raw bodies would not fit one item; upserts, so a redelivery of the same
   * batch (same deterministic id) overwrites rather than duplicates.
   */
  async parkBatch(batch: ParkedBatch): Promise<string[]> {
    const documents = parkedBatchDocuments(batch, unknownEquipmentId);
    for (const document of documents) {
      await this.deadLetters.items.upsert({ ...document, ttl: this.options.deadLetterTtlSeconds });
    }
    return documents.map((document) => document.id);
  }

  async writeAggregates(
    contributions: readonly AggregateContribution[],
  ): Promise<WindowAggregate[]> {
    const merged: WindowAggregate[] = [];
    for (const contribution of contributions) merged.push(await this.mergeAggregate(contribution));
    return merged;
  }

  /**
   * Read-modify-write under the aggregate's ETag. The first writer of a window creates it
   * without reading (the usual case: one partition per equipment, one write); a later one, or
   * a redo, reads it, and writes only if its contribution is not in it yet.
   */
  private async mergeAggregate(contribution: AggregateContribution): Promise<WindowAggregate> {
    const ttl = this.options.aggregateTtlSeconds;
    const item = this.aggregates.item(
      aggregateId(contribution.equipmentId, contribution.windowStart),
      contribution.equipmentId,
    );
    for (let attempt = 0; attempt < 10; attempt++) {
      let current: { aggregate: WindowAggregate; etag: string } | undefined;
      if (attempt > 0) {
        const { resource } = await item.read<ItemDefinition>();
        if (resource) current = { aggregate: storedAggregate(resource), etag: resource._etag };
      }
      const { aggregate: next, changed } = mergeContribution(current?.aggregate, contribution);
      if (!changed) return next;
      try {
        if (current) {
          await item.replace(
            { ...next, ttl },
            { accessCondition: { type: 'IfMatch', condition: current.etag } },
          );
        } else {
          await this.aggregates.items.create({ ...next, ttl });
        }
        return next;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 409 && status !== 412) throw error;
      }
    }
    throw new Error(
      `Aggregate ${aggregateId(contribution.equipmentId, contribution.windowStart)} kept changing`,
    );
  }

  async latestAlert(equipmentId: string, metric: AlertMetric) {
    const { resources } = await this.alerts.items
      .query<ItemDefinition>(
        {
          query:
            'SELECT TOP 1 * FROM c WHERE c.equipmentId = @equipmentId AND c.metric = @metric AND NOT IS_DEFINED(c.type) ORDER BY c.lastWindowStart DESC',
          parameters: [
            { name: '@equipmentId', value: equipmentId },
            { name: '@metric', value: metric },
          ],
        },
        { partitionKey: equipmentId },
      )
      .fetchAll();
    const resource = resources[0];
    return resource
      ? { alert: documentBody(resource) as Alert, etag: String(resource._etag) }
      : undefined;
  }

  async unresolvedAlerts(equipmentIds: readonly string[], regradedWindowStart?: string) {
    if (equipmentIds.length === 0) return [];
    // One cross-partition query for the whole window (it fans out to every physical partition:
    // https://learn.microsoft.com/azure/cosmos-db/how-to-query-container), instead of a read
    // per equipment and metric. Slot documents have a `type`, alerts none.
    const { resources } = await this.alerts.items
      .query<{ equipmentId: string; metric: AlertMetric }>({
        query:
          "SELECT c.equipmentId, c.metric FROM c WHERE ARRAY_CONTAINS(@equipmentIds, c.equipmentId) AND (c.status IN ('open', 'acknowledged') OR (c.status = 'cleared' AND c.clearedWindowStart = @regraded)) AND NOT IS_DEFINED(c.type)",
        parameters: [
          { name: '@equipmentIds', value: [...equipmentIds] },
          { name: '@regraded', value: regradedWindowStart ?? null },
        ],
      })
      .fetchAll();
    return resources.map(({ equipmentId, metric }) => ({ equipmentId, metric }));
  }

  async readAlert(equipmentId: string, alertId: string) {
    try {
      const { resource } = await this.alerts.item(alertId, equipmentId).read<ItemDefinition>();
      return resource
        ? { alert: documentBody(resource) as Alert, etag: resource._etag }
        : undefined;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async readAlertSlot(equipmentId: string, metric: AlertMetric) {
    try {
      const { resource } = await this.alerts
        .item(alertSlotId(equipmentId, metric), equipmentId)
        .read<ItemDefinition>();
      if (!resource) return undefined;
      const { alertId, opening } = documentBody(resource) as AlertSlot;
      return { slot: { alertId, opening }, etag: resource._etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async claimAlertSlot(
    equipmentId: string,
    metric: AlertMetric,
    slot: AlertSlot,
    etag: string | undefined,
  ): Promise<boolean> {
    // No top-level alert fields (metric, status, raisedAt, deliveryPending): alert queries
    // that filter or sort on them never see a slot, and `type` excludes it from the rest.
    const document = {
      id: alertSlotId(equipmentId, metric),
      equipmentId,
      type: alertSlotType,
      alertId: slot.alertId,
      opening: slot.opening,
    };
    try {
      if (etag === undefined) await this.alerts.items.create(document);
      else {
        await this.alerts
          .item(document.id, equipmentId)
          .replace(document, { accessCondition: { type: 'IfMatch', condition: etag } });
      }
      return true;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412) return false;
      throw error;
    }
  }

  async writeAlert(alert: Alert, etag: string | undefined): Promise<boolean> {
    try {
      if (etag === undefined) await this.alerts.items.create(alert);
      else {
        await this.alerts
          .item(alert.id, alert.equipmentId)
          .replace(alert, { accessCondition: { type: 'IfMatch', condition: etag } });
      }
      recordAlertVersion(alert);
      return true;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412) return false;
      throw error;
    }
  }

  /**
   * Max-merges `update` into the partition's presence document under its ETag (create when
   * missing); writes nothing when it holds nothing newer.
   */
  async recordPresence(partitionId: string, update: Presence): Promise<void> {
    const item = this.state.item('presence', partitionKeyOf(partitionId));
    for (let attempt = 0; attempt < 10; attempt++) {
      let current: { equipment: Presence; etag: string } | undefined;
      try {
        const { resource } = await item.read<ItemDefinition>();
        if (resource)
          current = { equipment: resource['equipment'] as Presence, etag: resource._etag };
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
      const { presence, changed } = mergePresence(current?.equipment ?? {}, update);
      if (!changed) return;
      const document = {
        id: 'presence',
        pk: partitionKeyOf(partitionId),
        type: 'presence',
        partitionId,
        equipment: presence,
      };
      try {
        if (current) {
          await item.replace(document, {
            accessCondition: { type: 'IfMatch', condition: current.etag },
          });
        } else await this.state.items.create(document);
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 409 && status !== 412) throw error;
      }
    }
    throw new Error(`Presence of partition ${partitionId} kept changing`);
  }

  /** Every partition's presence. */
  async listPresence(): Promise<Presence[]> {
    const { resources } = await this.state.items
      .query<ItemDefinition>({ query: "SELECT c.equipment FROM c WHERE c.type = 'presence'" })
      .fetchAll();
    return resources.map((resource) => resource['equipment'] as Presence);
  }

  /** Offline alerts whose machine has not been recorded back (any status), across equipment. */
  async unfinishedOfflineAlerts(): Promise<{ alert: Alert; etag: string }[]> {
    const { resources } = await this.alerts.items
      .query<ItemDefinition>({
        query:
          "SELECT * FROM c WHERE c.metric = 'offline' AND NOT IS_DEFINED(c.type) AND NOT IS_DEFINED(c.offline.backOnlineAt)",
      })
      .fetchAll();
    return resources.map((resource) => ({
      alert: documentBody(resource) as Alert,
      etag: String(resource._etag),
    }));
  }

  /** One equipment's closed window, when stored. */
  async readAggregate(
    equipmentId: string,
    windowStart: number,
  ): Promise<WindowAggregate | undefined> {
    try {
      const { resource } = await this.aggregates
        .item(aggregateId(equipmentId, windowStart), equipmentId)
        .read<ItemDefinition>();
      return resource ? storedAggregate(resource) : undefined;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}
