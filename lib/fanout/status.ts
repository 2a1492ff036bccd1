/**
 * Live equipment status: after each committed batch, each machine in it gets its latest
 * reading and its current window so far on `equipment.{id}`, at most once per batch and
 * per `intervalMs`. Best effort by design: a newer status supersedes a lost one, so sends
 * run in the background, newest wins, and ingestion never waits on Web PubSub.
 *
 * The current window is merged from the partition's committed partials, cached per window
 * in this process and topped up with each batch's partial, so a window is read from Cosmos
 * at most once per process (when it first sees it).
 */
import type { BatchPartial, PartitionState } from '../telemetry/partition.js';
import type { Reading } from '../telemetry/reading.js';
import { emptyStats, mergeStats, summarize, type WindowStats } from '../telemetry/stats.js';
import { windowEndOf } from '../telemetry/window.js';
import type { EquipmentStatusMessage } from './messages.js';
import { equipmentGroup } from './routing.js';
import type { WebPubSubSender } from './webPubSub.js';

export interface StatusPublisherOptions {
  webPubSub: WebPubSubSender;
  readPartials(partitionId: string, ids: readonly string[]): Promise<BatchPartial[]>;
  /** Least time between two statuses of one machine; 0 sends one per batch. */
  intervalMs: number;
  log(message: string): void;
  sendTimeoutMs?: number;
  concurrency?: number;
  now?: () => number;
}

interface CachedWindow {
  partialIds: Set<string>;
  stats: Map<string, WindowStats>;
}

export class EquipmentStatusPublisher {
  private readonly windows = new Map<string, CachedWindow>();
  private readonly lastSent = new Map<string, number>();
  private readonly queued = new Map<string, EquipmentStatusMessage>();
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: StatusPublisherOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Queues the status of every machine in a just-committed batch that is due one. */
  async batchCommitted(state: PartitionState, partial: BatchPartial): Promise<void> {
    const nowMs = this.now();
    const latest = new Map<string, { reading: Reading; windowStart: number }>();
    for (const entry of partial.entries) {
      const known = latest.get(entry.equipmentId);
      if (!known || known.reading.timestamp < entry.latest.timestamp) {
        latest.set(entry.equipmentId, { reading: entry.latest, windowStart: entry.windowStart });
      }
    }
    const due = [...latest].filter(
      ([id]) => nowMs - (this.lastSent.get(id) ?? -Infinity) >= this.options.intervalMs,
    );
    this.forgetClosed(state);
    for (const windowStart of new Set(due.map(([, { windowStart }]) => windowStart))) {
      await this.topUp(state, windowStart, partial);
    }
    for (const [equipmentId, { reading, windowStart }] of due) {
      const stats =
        this.windows.get(`${state.partitionId}|${windowStart}`)?.stats.get(equipmentId) ??
        emptyStats();
      this.lastSent.set(equipmentId, nowMs);
      this.queued.set(equipmentId, {
        type: 'equipment.status',
        equipmentId,
        at: new Date(reading.timestamp).toISOString(),
        reading: {
          ...(reading.temperature === undefined ? {} : { temperature: reading.temperature }),
          ...(reading.vibration === undefined ? {} : { vibration: reading.vibration }),
          ...(reading.pressure === undefined ? {} : { pressure: reading.pressure }),
        },
        window: {
          start: new Date(windowStart).toISOString(),
          end: new Date(windowEndOf(windowStart)).toISOString(),
          summary: summarize(stats),
        },
      });
    }
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Resolves when everything queued so far has been sent or dropped (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private forgetClosed(state: PartitionState): void {
    for (const key of this.windows.keys()) {
      const [partitionId, start] = key.split('|');
      if (partitionId === state.partitionId && windowEndOf(Number(start)) <= state.closedBefore)
        this.windows.delete(key);
    }
  }

  /** Makes the cached window hold every committed partial the state lists for it. */
  private async topUp(state: PartitionState, windowStart: number, known: BatchPartial) {
    const key = `${state.partitionId}|${windowStart}`;
    let cached = this.windows.get(key);
    if (!cached) {
      cached = { partialIds: new Set(), stats: new Map() };
      this.windows.set(key, cached);
    }
    const listed = state.pending.filter((p) => p.windows.includes(windowStart)).map((p) => p.id);
    const missing = listed.filter((id) => !cached.partialIds.has(id));
    if (!missing.length) return;
    const partials = missing.includes(known.id) ? [known] : [];
    const toRead = missing.filter((id) => id !== known.id);
    if (toRead.length)
      partials.push(...(await this.options.readPartials(state.partitionId, toRead)));
    for (const partial of partials) {
      if (cached.partialIds.has(partial.id)) continue;
      cached.partialIds.add(partial.id);
      for (const entry of partial.entries) {
        if (entry.windowStart !== windowStart) continue;
        const before = cached.stats.get(entry.equipmentId) ?? emptyStats();
        cached.stats.set(entry.equipmentId, mergeStats(before, entry.stats));
      }
    }
  }

  private async flush(): Promise<void> {
    const concurrency = this.options.concurrency ?? 16;
    // One line per flush, not per machine: an outage would otherwise flood the log.
    let failed = 0;
    let lastError: unknown;
    while (this.queued.size) {
      const batch = [...this.queued].slice(0, concurrency);
      for (const [id] of batch) this.queued.delete(id);
      await Promise.all(
        batch.map(async ([equipmentId, message]) => {
          try {
            await this.options.webPubSub.sendToGroup(
              equipmentGroup(equipmentId),
              message,
              AbortSignal.timeout(this.options.sendTimeoutMs ?? 5_000),
            );
          } catch (error) {
            failed++;
            lastError = error;
          }
        }),
      );
    }
    if (failed) this.options.log(`${failed} equipment statuses not sent: ${String(lastError)}`);
  }
}
