/**
 * Shapes of the telemetry reads (alerts, dead letters, equipment telemetry): validation of
 * their queries and bodies, and their OpenAPI descriptions, from one set of zod schemas.
 */
import { z } from 'zod';
import {
  alertStatuses,
  type AlertComment,
  type AlertDetail,
  type PublicAlert,
} from '../telemetry/alerts.js';
import { timelineActions } from '../telemetry/alertTimeline.js';
import { rejectionReasons, metricNames } from '../telemetry/reading.js';
import { severities } from '../telemetry/severity.js';
import { alertResolutionWorkSchema, isoDateTime, pageQuerySchema, text } from './schemas.js';

/** An equipment id as the pipeline knows it (text). */
export const telemetryEquipmentId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, { error: 'Expected 1 to 64 of A-Z a-z 0-9 . _ : -' });

/** Why a reading was dead-lettered (see lib/telemetry/partition.ts). */
export const deadLetterReasons = [...rejectionReasons, 'late', 'unregistered'] as const;

/** Every reason the dead-letter listing filters on: the readings' and a parked batch's. */
export const deadLetterListReasons = [...deadLetterReasons, 'unreadable-batch'] as const;

export const alertQuerySchema = pageQuerySchema
  .extend({
    equipmentId: telemetryEquipmentId.optional(),
    severity: z.enum(severities).optional(),
    status: z.enum(alertStatuses).optional(),
    metric: z
      .enum([...metricNames, 'offline'])
      .optional()
      .meta({ description: 'Alerts on this metric; `offline` for machines that went quiet.' }),
    since: isoDateTime.optional().meta({ description: 'Alerts raised at or after this time.' }),
  })
  .strict();

/** The longest acknowledgement note, in characters. */
export const alertNoteMaxLength = 2000;

export const alertPatchSchema = z
  .strictObject({
    status: z
      .enum(['acknowledged', 'resolved'])
      .optional()
      .meta({
        description:
          'open → acknowledged → resolved (or open → resolved). A cleared alert may be ' +
          'acknowledged (it stays `cleared`, recording who saw it) or resolved.',
      }),
    assignee: z
      .number()
      .int()
      .positive()
      .nullable()
      .optional()
      .meta({
        description:
          'Admin only: the id of an active technician to assign the alert to (they then ' +
          'receive it by user and may handle it even when not assigned to the equipment), ' +
          'or null to unassign it.',
      }),
    note: text(alertNoteMaxLength)
      .optional()
      .meta({
        description:
          'With `acknowledged`: a note kept with the acknowledgement (what the technician is ' +
          'doing about it). An alert already acknowledged keeps its first note.',
      }),
    serviceRecord: alertResolutionWorkSchema.optional().meta({
      description:
        'With `resolved`: the work done, recorded once as a completed service record ' +
        'linked to the alert (a retried resolve never creates a second one).',
    }),
  })
  .refine((patch) => patch.status !== undefined || patch.assignee !== undefined, {
    error: 'Give a status, an assignee, or both',
    path: ['status'],
  })
  .refine((patch) => patch.serviceRecord === undefined || patch.status === 'resolved', {
    error: 'A service record goes with resolving the alert',
    path: ['serviceRecord'],
  })
  .refine((patch) => patch.note === undefined || patch.status === 'acknowledged', {
    error: 'A note goes with acknowledging the alert',
    path: ['note'],
  })
  .meta({ id: 'AlertPatch' });

/** The longest alert comment, in characters. */
export const alertCommentMaxLength = 2000;

export const alertCommentInputSchema = z
  .strictObject({ text: text(alertCommentMaxLength) })
  .meta({ id: 'AlertCommentInput' });

export const alertCommentSchema = z
  .object({
    id: z.number().int().meta({ description: 'Position among the alert’s comments, from 1.' }),
    author: z.string().meta({ description: 'Token subject of the author.' }),
    at: z.iso.datetime(),
    text: z.string(),
  })
  .meta({ id: 'AlertComment' });

export const alertCommentListSchema = z
  .object({ items: z.array(alertCommentSchema) })
  .meta({ id: 'AlertCommentList' });

true satisfies SameShape<z.output<typeof alertCommentSchema>, AlertComment>;

const metricSummary = z.object({
  count: z.number(),
  min: z.number(),
  max: z.number(),
  mean: z.number(),
});
const windowSummary = z.object({
  readings: z.number().int(),
  metrics: z.partialRecord(z.enum(metricNames), metricSummary),
});

export const alertSchema = z
  .object({
    id: z.string(),
    version: z.number().int().meta({ description: '1 when raised, +1 on every change.' }),
    equipmentId: z.string(),
    metric: z.enum([...metricNames, 'offline']).meta({
      description: 'The breached metric, or `offline`: the equipment stopped sending readings.',
    }),
    status: z.enum(alertStatuses).meta({
      description:
        'open → acknowledged → resolved by people; `cleared` by the pipeline when the metric ' +
        'stayed inside its clear threshold for the set number of windows.',
    }),
    severity: z.enum(severities),
    occurrences: z.number().int(),
    flapCount: z
      .number()
      .int()
      .optional()
      .meta({
        description:
          'Times a breach soon after clearing (within the flap window) reopened this alert; ' +
          'absent: never.',
      }),
    clearedAt: z.iso.datetime().optional().meta({
      description: 'While cleared: the end of the window that cleared it.',
    }),
    clearedWindowStart: z.iso.datetime().optional().meta({
      description: 'While cleared: the start of the window that cleared it.',
    }),
    firstWindowStart: z.iso.datetime(),
    lastWindowStart: z.iso.datetime(),
    raisedAt: z.iso.datetime(),
    breach: z.object({
      metric: z.enum([...metricNames, 'offline']).meta({
        description: 'For `offline`: mean is the minutes silent, threshold the timeout (min).',
      }),
      severity: z.enum(severities),
      mean: z.number(),
      threshold: z.number(),
      comparison: z.enum(['>', '<']),
      unit: z.string(),
      description: z.string(),
      recommendedAction: z.string(),
    }),
    window: z
      .object({ start: z.iso.datetime(), end: z.iso.datetime(), summary: windowSummary })
      .meta({
        description: 'The window that raised or last updated it (offline: the last with readings).',
      }),
    offline: z
      .object({
        lastSeenAt: z.iso
          .datetime()
          .meta({ description: 'Newest reading before the silence (to the minute).' }),
        timeoutMinutes: z.number().int(),
        statusBefore: z.string().nullable().meta({
          description: 'The equipment status the pipeline set to `Offline` (null: left alone).',
        }),
        backOnlineAt: z.iso.datetime().optional().meta({
          description: 'First reading back (to the minute): the pipeline resolved the alert.',
        }),
      })
      .optional()
      .meta({ description: 'Present on `offline` alerts only.' }),
    acknowledgedAt: z.iso.datetime().optional(),
    acknowledgedBy: z.string().optional(),
    acknowledgementNote: z.string().optional(),
    resolvedAt: z.iso.datetime().optional(),
    resolvedBy: z.string().optional(),
    withdrawn: z
      .literal(true)
      .optional()
      .meta({
        description:
          'Resolved by the pipeline: once readings from every partition were merged, the window ' +
          'that raised it no longer breached.',
      }),
    serviceRecordId: z.number().int().optional(),
    assigneeTechnicianId: z
      .number()
      .int()
      .optional()
      .meta({ description: 'The technician the alert is assigned to; absent when unassigned.' }),
    assigneeUserId: z
      .string()
      .optional()
      .meta({ description: 'The assignee’s externalId, who receives the alert by user.' }),
    assignedBy: z
      .string()
      .optional()
      .meta({ description: 'Token subject of the assigning admin.' }),
    assignedAt: z.iso.datetime().optional(),
    suppressed: z
      .union([
        z.object({ reason: z.literal('maintenance') }),
        z.object({
          reason: z.literal('silence'),
          silenceId: z.number().int().meta({ description: 'The silence that held it.' }),
        }),
      ])
      .optional()
      .meta({
        description:
          'Present while the equipment was in Maintenance, or a silence matched the alert, ' +
          'when the pipeline last raised or updated it (or when a silence was created from ' +
          'it): stored and listed (muted), but nobody is notified.',
      }),
    etag: z.string(),
  })
  .meta({ id: 'Alert' });

/**
 * True when `A` and `B` accept the same values and name the same fields (optional ones too,
 * which assignability alone would let either side drop).
 */
type SameShape<A, B> = [A, keyof A] extends [B, keyof B]
  ? [B, keyof B] extends [A, keyof A]
    ? true
    : false
  : false;

// `PublicAlert` (lib/telemetry/alerts.ts) is the one declaration of the alert's shape; this
// schema describes it for validation and OpenAPI, and stops compiling when the two drift.
true satisfies SameShape<z.output<typeof alertSchema>, PublicAlert & { etag: string }>;

export const alertTimelineEntrySchema = z
  .object({
    version: z.number().int().meta({ description: 'The alert version the change produced.' }),
    at: z.iso.datetime().meta({
      description: 'When: for the pipeline’s changes, the end of the window that made them.',
    }),
    by: z.string().meta({ description: 'Token subject of the person, or `pipeline`.' }),
    action: z.enum(timelineActions),
    from: z
      .string()
      .optional()
      .meta({ description: 'The value before (a severity, an assignee).' }),
    to: z.string().optional().meta({ description: 'The value after.' }),
  })
  .meta({ id: 'AlertTimelineEntry' });

export const alertDetailSchema = alertSchema
  .extend({
    timeline: z.array(alertTimelineEntrySchema).meta({
      description: 'Every change of the alert’s state, oldest first (the newest 100).',
    }),
  })
  .meta({ id: 'AlertDetail' });

true satisfies SameShape<z.output<typeof alertDetailSchema>, AlertDetail & { etag: string }>;

export const deadLetterQuerySchema = pageQuerySchema
  .extend({
    equipmentId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .meta({ description: 'Events with a rejected reading of this equipment.' }),
    reason: z
      .enum(deadLetterListReasons)
      .optional()
      .meta({ description: 'Events that lost a reading for this reason, or parked batches.' }),
    since: isoDateTime.optional().meta({ description: 'Events enqueued at or after this time.' }),
  })
  .strict();

const issueSchema = z.object({ path: z.string(), message: z.string() });

/** Everything one event lost: its rejected readings, bounded in size. */
export const readingDeadLetterSchema = z
  .object({
    id: z
      .string()
      .meta({ description: '`{partition}:{sequence}`, or `{partition}:e{epoch}:{sequence}`.' }),
    equipmentId: z
      .string()
      .meta({ description: 'The first readable equipment id of its readings, or `(unknown)`.' }),
    equipmentIds: z.array(z.string()).meta({ description: 'Distinct ids (at most 100).' }),
    reason: z.enum(deadLetterReasons).meta({ description: 'The first rejection’s reason.' }),
    reasons: z.array(z.enum(deadLetterReasons)),
    partitionId: z.string(),
    sequenceNumber: z.number().int(),
    enqueuedTime: z.iso.datetime(),
    rejections: z.array(
      z.object({
        index: z.number().int().nullable().meta({ description: 'Position in an array body.' }),
        reason: z.enum(deadLetterReasons),
        equipmentId: z.string().nullable(),
        issues: z.array(issueSchema),
        raw: z
          .string()
          .nullable()
          .meta({ description: 'At most 4 KiB; null once the letter holds 64 KiB of raw text.' }),
        rawTruncated: z.boolean(),
      }),
    ),
    rejectedCount: z.number().int(),
    omittedCount: z
      .number()
      .int()
      .meta({ description: 'Rejections left out of `rejections` to bound the document.' }),
    etag: z.string(),
  })
  .meta({ id: 'ReadingDeadLetter' });

/** A batch the handler could not align or read, kept whole (one document per chunk). */
export const parkedBatchSchema = z
  .object({
    id: z.string().meta({ description: 'The batch id for chunk 0, `{batchId}~{chunk}` after it.' }),
    batchId: z.string(),
    equipmentId: z.string(),
    reason: z.literal('unreadable-batch'),
    detail: z.string().meta({ description: 'Why the batch could not be read.' }),
    partitionId: z.string(),
    firstSequenceNumber: z.number().int().nullable(),
    lastSequenceNumber: z.number().int().nullable(),
    enqueuedTime: z.iso
      .datetime()
      .meta({ description: 'Earliest known enqueued time, else when it was parked.' }),
    lastEnqueuedTime: z.iso.datetime().nullable(),
    parkedAt: z.iso.datetime(),
    eventCount: z.number().int().meta({ description: 'Events in the whole batch.' }),
    firstIndex: z.number().int().meta({ description: "Position of this chunk's first event." }),
    chunk: z.number().int(),
    chunks: z.number().int(),
    events: z.array(
      z.object({
        sequenceNumber: z.number().int().nullable(),
        enqueuedTime: z.iso.datetime().nullable(),
        raw: z.string().meta({ description: 'The body as UTF-8 text, at most 4 KiB.' }),
        rawTruncated: z.boolean(),
      }),
    ),
    etag: z.string(),
  })
  .meta({ id: 'ParkedBatch' });

export const deadLetterSchema = z
  .union([readingDeadLetterSchema, parkedBatchSchema])
  .meta({ id: 'DeadLetter' });

/** Longest history one request may ask for. */
export const maxTelemetryRangeMs = 7 * 86_400_000;

export const telemetryQuerySchema = z
  .object({
    from: isoDateTime.optional().meta({ description: 'Start of the history (default: 24 h ago).' }),
    to: isoDateTime
      .optional()
      .meta({ description: 'End of the history, exclusive (default: now).' }),
  })
  .strict();

export const telemetrySchema = z
  .object({
    equipmentId: z.string(),
    latest: z
      .object({
        equipmentId: z.string(),
        timestamp: z.iso.datetime().meta({ description: 'When the reading was taken (UTC).' }),
        temperature: z.number().optional(),
        vibration: z.number().optional(),
        pressure: z.number().optional(),
        status: z.string().optional(),
        messageId: z.string().optional(),
      })
      .nullable(),
    currentWindow: z
      .object({ start: z.iso.datetime(), end: z.iso.datetime(), summary: windowSummary })
      .nullable(),
    history: z.array(
      z.object({
        id: z.string(),
        equipmentId: z.string(),
        windowStart: z.iso.datetime(),
        windowEnd: z.iso.datetime(),
        partitionId: z.string(),
        summary: windowSummary,
      }),
    ),
  })
  .meta({ id: 'EquipmentTelemetry' });

export const negotiateSchema = z
  .object({
    baseUrl: z.string(),
    token: z.string(),
    url: z.string().meta({ description: 'WebSocket URL with the access token.' }),
  })
  .meta({ id: 'Negotiate' });

export const meSchema = z
  .object({
    subject: z.string(),
    roles: z.array(z.enum(['Admin', 'Technician'])),
    technicianId: z.number().int().nullable(),
    equipmentIds: z
      .array(z.number().int())
      .nullable()
      .meta({ description: 'Equipment the caller may see; null: all (admins).' }),
  })
  .meta({ id: 'Me' });
