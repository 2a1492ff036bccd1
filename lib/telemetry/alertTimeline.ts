/**
 * An alert's timeline: every change of its state, with who made it and when, kept in the
 * alert document and read with the alert (`GET /api/alerts/{id}`).
 *
 * Entries are derived from the difference between an alert's previous and new version, in
 * one place ({@link timelineEntries}), so every writer (the pipeline, the API, the delivery
 * sweep) records its changes the same way and none can forget to. The pipeline's entries
 * carry instants derived from windows, never the wall clock, so re-emitting a window writes
 * the same entries.
 */
import { severityRank, type Severity } from './severity.js';

/** What changed. */
export const timelineActions = [
  'raised',
  'escalated',
  'severity-lowered',
  'acknowledged',
  'resolved',
  'withdrawn',
  'reopened',
  'assigned',
  'unassigned',
  'muted',
  'unmuted',
  'escalation-step',
  'reminded',
  'cleared',
  'back-online',
] as const;
export type TimelineAction = (typeof timelineActions)[number];

export interface AlertTimelineEntry {
  /** The alert version the change produced. */
  version: number;
  at: string;
  /** Token subject of the person, or {@link pipelineActor}. */
  by: string;
  action: TimelineAction;
  /** The value before the change, where the action has one (a severity, an assignee). */
  from?: string;
  /** The value after it. */
  to?: string;
}

/** Who the pipeline's own changes are recorded as. */
export const pipelineActor = 'pipeline';

/** The most entries an alert keeps: the newest, so a long-lived flapping alert stays small. */
export const maxTimelineEntries = 100;

/** Who makes a change and when (for the pipeline: an instant derived from the window). */
export interface AlertChangeBy {
  by: string;
  at: string;
}

/** The fields of an alert the timeline looks at. */
export interface TimelineSubject {
  version: number;
  status: string;
  severity: Severity;
  withdrawn?: true;
  assigneeTechnicianId?: number;
  suppressed?: { reason: string; silenceId?: number };
  /** The delivery sweep's escalation (lib/telemetry/escalation.ts). */
  escalation?: {
    step: number;
    notify?: string;
    reminders: number;
    last?: { action: 'step' | 'reminder'; at: string };
  };
  /** Offline alerts: `backOnlineAt` is set when the machine's readings came back. */
  offline?: { backOnlineAt?: string };
  timeline?: AlertTimelineEntry[];
  acknowledgedAt?: string;
  flapCount?: number;
}

/** The entries describing how `next` differs from `previous` (undefined: `next` is new). */
export function timelineEntries(
  previous: TimelineSubject | undefined,
  next: TimelineSubject,
  { by, at }: AlertChangeBy,
): AlertTimelineEntry[] {
  const entry = (
    action: TimelineAction,
    from?: string | number,
    to?: string | number,
  ): AlertTimelineEntry => ({
    version: next.version,
    at,
    by,
    action,
    ...(from === undefined ? {} : { from: String(from) }),
    ...(to === undefined ? {} : { to: String(to) }),
  });
  if (!previous) {
    return [entry('raised', undefined, next.severity), ...(next.suppressed ? [muted(next)] : [])];
  }
  const entries: AlertTimelineEntry[] = [];
  if (previous.status !== next.status) {
    if (next.withdrawn) entries.push(entry('withdrawn'));
    else if (next.status === 'open') {
      // A flap (cleared → open) carries the alert's flap count after it.
      const flapped = (next.flapCount ?? 0) !== (previous.flapCount ?? 0);
      entries.push(entry('reopened', previous.status, flapped ? next.flapCount : undefined));
    } else if (
      next.status === 'acknowledged' ||
      next.status === 'resolved' ||
      next.status === 'cleared'
    ) {
      entries.push(entry(next.status, previous.status));
    }
  } else if (previous.acknowledgedAt === undefined && next.acknowledgedAt !== undefined) {
    // Acknowledging a cleared alert records who saw it and leaves its status as it is.
    entries.push(entry('acknowledged', previous.status));
  }
  const rise = severityRank(next.severity) - severityRank(previous.severity);
  if (rise !== 0) {
    entries.push(
      entry(rise > 0 ? 'escalated' : 'severity-lowered', previous.severity, next.severity),
    );
  }
  if (previous.assigneeTechnicianId !== next.assigneeTechnicianId) {
    entries.push(
      next.assigneeTechnicianId === undefined
        ? entry('unassigned', previous.assigneeTechnicianId)
        : entry('assigned', previous.assigneeTechnicianId, next.assigneeTechnicianId),
    );
  }
  const wasHeldBy = suppressionName(previous.suppressed);
  const heldBy = suppressionName(next.suppressed);
  if (wasHeldBy !== heldBy) {
    // Held by something else now (maintenance, another silence): `from` names what held it.
    entries.push(
      heldBy === undefined ? entry('unmuted', wasHeldBy) : entry('muted', wasHeldBy, heldBy),
    );
  }
  // The sweep's escalation step (to: who it reached) or reminder (to: its number, counted
  // from the acknowledgement: a sweep that was down sends one, numbered as the latest due).
  const escalated = next.escalation?.last;
  const before = previous.escalation?.last;
  if (escalated && (escalated.at !== before?.at || escalated.action !== before.action)) {
    entries.push(
      escalated.action === 'step'
        ? entry('escalation-step', undefined, next.escalation?.notify)
        : entry('reminded', undefined, next.escalation?.reminders),
    );
  }
  if (next.offline?.backOnlineAt !== undefined && previous.offline?.backOnlineAt === undefined) {
    entries.push(entry('back-online', undefined, next.offline.backOnlineAt));
  }
  return entries;

  function muted(alert: TimelineSubject): AlertTimelineEntry {
    return entry('muted', undefined, suppressionName(alert.suppressed));
  }
}

/**
 * What holds an alert, as its `muted` / `unmuted` entries name it: `maintenance`, or
 * `silence:{id}` for the silence (`/api/silences/{id}`) that held it.
 */
function suppressionName(suppressed: TimelineSubject['suppressed']): string | undefined {
  if (!suppressed) return undefined;
  return suppressed.silenceId === undefined
    ? suppressed.reason
    : `${suppressed.reason}:${suppressed.silenceId}`;
}

/** `next` with the entries for its change from `previous` appended to its timeline. */
export function withTimeline<T extends TimelineSubject>(
  previous: TimelineSubject | undefined,
  next: T,
  change: AlertChangeBy,
): T {
  const added = timelineEntries(previous, next, change);
  if (!added.length) return next;
  const timeline = [...(previous?.timeline ?? []), ...added].slice(-maxTimelineEntries);
  return { ...next, timeline };
}
