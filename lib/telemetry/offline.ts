/**
 * Offline (no-data) detection, as pure functions.
 *
 * Each Event Hubs partition keeps a small presence document: equipment id → the newest
 * enqueued time of its readings on that partition, to the minute. A process writes it at
 * most once a minute per partition (and when a machine new to it appears), never once per
 * batch, and the per-batch partition state stays small. The
 * offline timer merges every partition's presence (the newest minute wins, so equipment
 * whose readings arrive on several partitions is seen while any of them carries them) and
 * finds equipment silent for longer than its timeout. Equipment with no presence never sent
 * anything and is never offline.
 *
 * The alert it raises is an ordinary alert of kind `offline` with a deterministic id
 * (`{equipmentId}:offline:{last seen ISO}`), opened through the same slot as metric alerts,
 * so two timers (two host instances) that both find the machine silent write one alert.
 * Everything in it is derived from the presence and the timeout, never the wall clock, so
 * both write the same document.
 */
import { z } from 'zod';
import {
  withNewVersion,
  alertId,
  type Alert,
  type AlertSuppression,
  type AlertWindow,
} from './alerts.js';
import { pipelineActor } from './alertTimeline.js';
import type { ParsedBody, PartitionEvent } from './partition.js';
import { windowEndOf, windowStartOf } from './window.js';

/** Presence is kept to the minute: what bounds how often it is written. */
export const presenceResolutionMs = 60_000;

/** Equipment id → newest enqueued time of its readings (epoch ms, floored to the minute). */
export type Presence = Record<string, number>;

/** Bounds of an offline timeout, in minutes (one minute to one week). */
export const offlineTimeoutBounds = { min: 1, max: 10_080 } as const;
export const defaultOfflineTimeoutMinutes = 15;

export const offlineTimeoutMinutesSchema = z
  .number()
  .int()
  .min(offlineTimeoutBounds.min)
  .max(offlineTimeoutBounds.max);

/**
 * The `OFFLINE_TIMEOUT_MINUTES` setting: `{"default": 15, "types": {"Compressor": 30}}`,
 * minutes by equipment type; both parts optional.
 */
export const offlineTimeoutSettingSchema = z.strictObject({
  default: offlineTimeoutMinutesSchema.default(defaultOfflineTimeoutMinutes),
  types: z.record(z.string().min(1).max(50), offlineTimeoutMinutesSchema).default({}),
});
export type OfflineTimeouts = z.output<typeof offlineTimeoutSettingSchema>;

/** The timeout of one machine: its own, else its type's, else the default. */
export function offlineTimeoutOf(
  timeouts: OfflineTimeouts,
  equipment: { type: string; offlineTimeoutMinutes: number | null },
): number {
  return equipment.offlineTimeoutMinutes ?? timeouts.types[equipment.type] ?? timeouts.default;
}

/**
 * Presence in one batch: every equipment id with a readable reading, at its newest event's
 * enqueued time (the hub's clock, not the device's). Late readings count: the machine is
 * sending. Ids that name no machine are ignored by the timer, which asks MySQL.
 */
export function presenceOf(parsed: ReadonlyMap<PartitionEvent, ParsedBody>): Presence {
  const presence: Presence = {};
  for (const [event, { readings }] of parsed) {
    const minute = Math.floor(event.enqueuedTimeMs / presenceResolutionMs) * presenceResolutionMs;
    for (const { equipmentId } of readings) {
      if ((presence[equipmentId] ?? -Infinity) < minute) presence[equipmentId] = minute;
    }
  }
  return presence;
}

/**
 * How long a machine stays in a presence document without readings on that partition: a
 * machine silent that long (or moved, retired, deleted) leaves it, so the document stays
 * small. An offline alert raised before then still resolves when the machine returns.
 */
export const presenceRetentionMs = 30 * 86_400_000;

/**
 * `current` with `update` max-merged in; `changed` is false when it adds nothing newer.
 * Entries older than {@link presenceRetentionMs} before the newest in `update` are dropped
 * (derived from the data, so every writer drops the same ones).
 */
export function mergePresence(
  current: Presence,
  update: Presence,
): { presence: Presence; changed: boolean } {
  let changed = false;
  const cutoff = newestIn(update) - presenceRetentionMs;
  const presence = Object.fromEntries(
    Object.entries(current).filter(([, minute]) => minute >= cutoff),
  );
  for (const [id, minute] of Object.entries(update)) {
    if ((presence[id] ?? -Infinity) < minute) {
      presence[id] = minute;
      changed = true;
    }
  }
  return { presence, changed };
}

/**
 * How far the recorded last-seen minute may trail the truth: the minute itself (presence is
 * floored to it), plus up to a minute of presence a process holds back between writes and
 * loses when its partition then goes quiet (see presenceRecorder in offlineDetector.ts).
 */
export const presenceSlackMs = 2 * presenceResolutionMs;

/** The newest minute in `presence` (-Infinity when empty); a loop, as it may hold many ids. */
export function newestIn(presence: Presence): number {
  let newest = -Infinity;
  for (const minute of Object.values(presence)) if (minute > newest) newest = minute;
  return newest;
}

/**
 * Whether equipment last seen at `lastSeenMs` (a recorded minute) has been silent past its
 * timeout at `nowMs`, counting the slack so that rounding and batching never fire early.
 */
export function isSilent(lastSeenMs: number, timeoutMinutes: number, nowMs: number): boolean {
  return nowMs >= offlineAt(lastSeenMs, timeoutMinutes);
}

/** When equipment last seen at `lastSeenMs` goes offline: what dates the alert. */
export function offlineAt(lastSeenMs: number, timeoutMinutes: number): number {
  return lastSeenMs + presenceSlackMs + timeoutMinutes * 60_000;
}

/** What the timer knows when it finds a machine silent. */
export interface SilentEquipment {
  equipmentId: string;
  lastSeenMs: number;
  timeoutMinutes: number;
  /** The MySQL status the pipeline will set to `Offline`, or null when it leaves it alone. */
  statusBefore: string | null;
  /** Maintenance, or a silence holding the machine's offline alert (lib/telemetry/silences.ts). */
  suppressed: AlertSuppression | false;
  /** Summary of the last window with readings (empty when it is not stored yet). */
  lastWindowSummary: AlertWindow['summary'];
}

/**
 * The offline alert to open for a silent machine, given the current alert its offline slot
 * names; undefined when there is nothing to write: it is already offline (an unresolved
 * offline alert), or a person resolved this same silence's alert.
 */
export function raiseOffline(
  current: Alert | undefined,
  silent: SilentEquipment,
): Alert | undefined {
  const id = alertId(silent.equipmentId, 'offline', silent.lastSeenMs);
  if (current && (current.id === id || current.status !== 'resolved')) return undefined;
  const at = new Date(offlineAt(silent.lastSeenMs, silent.timeoutMinutes)).toISOString();
  const lastSeenAt = new Date(silent.lastSeenMs).toISOString();
  const windowStart = windowStartOf(silent.lastSeenMs);
  const window: AlertWindow = {
    start: new Date(windowStart).toISOString(),
    end: new Date(windowEndOf(windowStart)).toISOString(),
    summary: silent.lastWindowSummary,
  };
  const silentMinutes =
    (offlineAt(silent.lastSeenMs, silent.timeoutMinutes) - silent.lastSeenMs) / 60_000;
  return withNewVersion(
    undefined,
    {
      id,
      equipmentId: silent.equipmentId,
      metric: 'offline',
      status: 'open',
      severity: 'high',
      occurrences: 1,
      firstWindowStart: window.start,
      lastWindowStart: window.start,
      raisedAt: at,
      breach: {
        metric: 'offline',
        severity: 'high',
        mean: silentMinutes,
        threshold: silent.timeoutMinutes,
        comparison: '>',
        unit: 'min',
        description: `No readings since ${lastSeenAt}: silent for over ${silent.timeoutMinutes} minutes. The machine may be stopped, unpowered or disconnected, and is not being monitored.`,
        recommendedAction:
          'Check the machine is running and its sensor gateway has power and network; restart the gateway if needed.',
      },
      window,
      offline: {
        lastSeenAt,
        timeoutMinutes: silent.timeoutMinutes,
        statusBefore: silent.statusBefore,
      },
      ...(silent.suppressed ? { suppressed: silent.suppressed } : {}),
    },
    'alert.raised',
    { by: pipelineActor, at },
  );
}

/**
 * The offline alert once readings came back (presence newer than its last-seen minute):
 * resolved by the pipeline at the first minute back, unless a person resolved it already
 * (then only `backOnlineAt` is recorded, which ends the timer's watch over it). Undefined
 * while the machine is still silent or when it is recorded back already.
 */
export function backOnline(alert: Alert, lastSeenMs: number | undefined): Alert | undefined {
  const offline = alert.offline;
  if (!offline || offline.backOnlineAt !== undefined || lastSeenMs === undefined) return undefined;
  if (lastSeenMs <= Date.parse(offline.lastSeenAt)) return undefined;
  const at = new Date(lastSeenMs).toISOString();
  const resolved =
    alert.status === 'resolved'
      ? {}
      : { status: 'resolved' as const, resolvedAt: at, resolvedBy: pipelineActor };
  const { delivery: _delivery, deliveryPending: _pending, version: _version, ...rest } = alert;
  return withNewVersion(
    alert,
    { ...rest, ...resolved, offline: { ...offline, backOnlineAt: at } },
    'alert.updated',
    { by: pipelineActor, at },
  );
}
