/**
 * Silences over HTTP (`/api/silences`): admins, and technicians for equipment assigned to
 * them, hold the notifications of an equipment, an equipment type or a location (optionally
 * one metric) from a start to an end, or of one alert until it is resolved. Rows live in the
 * MySQL table `silences` (migration 7) and are never deleted: ending one early records who
 * ended it, when and why, and every change is a `change_events` entry (aggregate `silence`)
 * in the same transaction. The pipeline reads the table itself
 * (lib/telemetry/equipmentLookups.ts, lib/telemetry/silences.ts).
 */
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { requireRole, type Principal } from '../auth.js';
import { ConflictError, HttpError, NotFoundError } from '../errors.js';
import { accessScope, canSee } from '../fanout/audience.js';
import { afterClause, decodeCursor, encodeCursor, type KeysetOrder } from '../mysql/keyset.js';
import { inTransaction, isoString, type Queryable } from '../mysql/table.js';
import type { Page } from '../paging.js';
import { requireVersion, type VersionCondition } from '../preconditions.js';
import type { Services } from '../services.js';
import { withNewVersion, type Alert } from '../telemetry/alerts.js';
import { metricNames, namesMysqlRow, type MetricName } from '../telemetry/reading.js';
import { readAlert, replaceAlert, requireVisibleAlertId } from './alerts.js';
import { actorOf, appendEvents } from './history.js';
import {
  bodyIdSchema,
  idSchema,
  isoDateTime,
  pageQuerySchema,
  pageSchema,
  text,
} from './schemas.js';

// ---------- shapes ----------

export const silenceScopes = ['equipment', 'type', 'location'] as const;
export type SilenceScope = (typeof silenceScopes)[number];

export const silenceStates = ['scheduled', 'active', 'ended'] as const;
export type SilenceState = (typeof silenceStates)[number];

/** Why a silence ended before its planned end: a person ended it, or its alert was resolved. */
export const silenceEndReasons = ['expired', 'alert-resolved'] as const;
export type SilenceEndReason = (typeof silenceEndReasons)[number];

/** The longest reason, in characters (the column's size). */
export const silenceReasonMaxLength = 500;

const alertIdInput = z.string().min(1).max(200);

/** The body of `POST /api/silences`. Scope and period rules are checked in {@link createSilence}. */
export const silenceInputSchema = z
  .strictObject({
    equipmentId: bodyIdSchema.optional().meta({ description: 'Silence one machine.' }),
    equipmentType: text(50)
      .optional()
      .meta({ description: 'Silence every machine of this type (Admin).' }),
    location: text(200)
      .optional()
      .meta({ description: 'Silence every machine at this location (Admin).' }),
    alertId: alertIdInput.optional().meta({
      description:
        'Silence this alert (its equipment and metric) from now until it is resolved, or ' +
        'until `endsAt` when given. No other scope, `metric` or `startsAt` may be given with it.',
    }),
    metric: z
      .enum(metricNames)
      .optional()
      .meta({ description: 'Only this metric’s alerts (default: every metric).' }),
    startsAt: isoDateTime.optional().meta({ description: 'Default: now.' }),
    endsAt: isoDateTime.optional().meta({
      description:
        'After `startsAt` and at most one year later. Required unless `alertId` is given.',
    }),
    reason: text(silenceReasonMaxLength).meta({ example: 'Sensor recalibration on line 3' }),
  })
  .meta({ id: 'SilenceInput' });
export type SilenceInput = z.infer<typeof silenceInputSchema>;

/** The body of `PATCH /api/silences/{id}`: a new end and/or reason. */
export const silencePatchSchema = z
  .strictObject({
    endsAt: isoDateTime
      .nullable()
      .optional()
      .meta({
        description:
          'New end: after the start and at most one year later; null (silences ' +
          'created from an alert only) holds until the alert is resolved.',
      }),
    reason: text(silenceReasonMaxLength).optional(),
  })
  .refine((patch) => patch.endsAt !== undefined || patch.reason !== undefined, {
    error: 'Give endsAt, reason or both',
  })
  .meta({ id: 'SilencePatch' });
export type SilencePatch = z.infer<typeof silencePatchSchema>;

export const silenceQuerySchema = pageQuerySchema
  .extend({
    equipmentId: idSchema.optional().meta({
      description: 'Silences that apply to this machine: its own, its type’s, its location’s.',
    }),
    equipmentType: text(50).optional(),
    location: text(200).optional(),
    alertId: alertIdInput.optional(),
    state: z.enum(silenceStates).optional(),
  })
  .strict();
export type SilenceQuery = z.infer<typeof silenceQuerySchema>;

export const silenceSchema = z
  .object({
    id: z.number().int(),
    scope: z.enum(silenceScopes),
    equipmentId: z.number().int().nullable(),
    equipmentType: z.string().nullable(),
    location: z.string().nullable(),
    metric: z.enum(metricNames).nullable(),
    alertId: z.string().nullable().meta({ description: 'The alert it was created from.' }),
    startsAt: z.iso.datetime(),
    endsAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'Null: until its alert is resolved. Ending early sets it.' }),
    reason: z.string(),
    state: z.enum(silenceStates).meta({ description: 'At the time of the answer.' }),
    createdBy: z.string(),
    updatedBy: z.string(),
    endedBy: z.string().nullable().meta({ description: 'Who ended it early.' }),
    endedAt: z.iso.datetime().nullable(),
    endReason: z.enum(silenceEndReasons).nullable(),
    version: z.number().int().meta({ description: 'Row version; the ETag of the resource.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Silence' });
export type Silence = z.infer<typeof silenceSchema>;

export const silencePageSchema = pageSchema(silenceSchema, 'SilencePage');

// ---------- storage ----------

const columns = `id, scope, equipment_id, equipment_type, location, metric, alert_id, starts_at,
  ends_at, reason, created_by, updated_by, ended_by, ended_at, end_reason, version, created_at,
  updated_at`;

const newestFirst: KeysetOrder = [{ column: 'id', direction: 'DESC', kind: 'id' }];

/** A nullable text column (mysql2 returns text columns as strings, NULL as null). */
function nullableString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function silenceFromRow(row: RowDataPacket, now: Date): Silence {
  const startsAt = isoString(row['starts_at']);
  const endsAt = row['ends_at'] === null ? null : isoString(row['ends_at']);
  const at = now.getTime();
  const state: SilenceState =
    row['ended_at'] !== null || (endsAt !== null && Date.parse(endsAt) <= at)
      ? 'ended'
      : Date.parse(startsAt) > at
        ? 'scheduled'
        : 'active';
  return {
    id: Number(row['id']),
    scope: String(row['scope']) as SilenceScope,
    equipmentId: row['equipment_id'] === null ? null : Number(row['equipment_id']),
    equipmentType: nullableString(row['equipment_type']),
    location: nullableString(row['location']),
    metric: nullableString(row['metric']) as MetricName | null,
    alertId: nullableString(row['alert_id']),
    startsAt,
    endsAt,
    reason: String(row['reason']),
    state,
    createdBy: String(row['created_by']),
    updatedBy: String(row['updated_by']),
    endedBy: nullableString(row['ended_by']),
    endedAt: row['ended_at'] === null ? null : isoString(row['ended_at']),
    endReason: nullableString(row['end_reason']) as SilenceEndReason | null,
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  };
}

function noSilence(id: number): NotFoundError {
  return new NotFoundError(`No silence has id ${id}.`);
}

async function findSilence(
  db: Queryable,
  id: number,
  now: Date,
  forUpdate = false,
): Promise<Silence | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${columns} FROM silences WHERE id = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  const row = rows[0];
  return row ? silenceFromRow(row, now) : undefined;
}

/** One silence (any role may read silences, as they may read equipment). */
export async function getSilence(db: Queryable, id: number, now = new Date()): Promise<Silence> {
  const found = await findSilence(db, id, now);
  if (!found) throw noSilence(id);
  return found;
}

/** The version of silence `id` alone (undefined when missing), for conditional GETs. */
export async function silenceVersion(db: Queryable, id: number): Promise<number | undefined> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT version FROM silences WHERE id = ?', [id]);
  const row = rows[0];
  return row ? Number(row['version']) : undefined;
}

/** A page of silences, newest first, filtered as `query` says, with states as of `now`. */
export async function listSilences(
  db: Queryable,
  query: SilenceQuery,
  now = new Date(),
): Promise<Page<Silence>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.equipmentId !== undefined) {
    where.push(`(equipment_id = ?
      OR equipment_type = (SELECT type FROM equipment WHERE id = ?)
      OR location = (SELECT location FROM equipment WHERE id = ?))`);
    params.push(query.equipmentId, query.equipmentId, query.equipmentId);
  }
  if (query.equipmentType !== undefined) {
    where.push('equipment_type = ?');
    params.push(query.equipmentType);
  }
  if (query.location !== undefined) {
    where.push('location = ?');
    params.push(query.location);
  }
  if (query.alertId !== undefined) {
    where.push('alert_id = ?');
    params.push(query.alertId);
  }
  if (query.state === 'ended') {
    where.push('(ended_at IS NOT NULL OR ends_at <= ?)');
    params.push(now);
  } else if (query.state === 'scheduled') {
    where.push('ended_at IS NULL AND starts_at > ? AND (ends_at IS NULL OR ends_at > ?)');
    params.push(now, now);
  } else if (query.state === 'active') {
    where.push('ended_at IS NULL AND starts_at <= ? AND (ends_at IS NULL OR ends_at > ?)');
    params.push(now, now);
  }
  if (query.cursor !== undefined) {
    const after = afterClause(newestFirst, decodeCursor(newestFirst, query.cursor));
    where.push(after.sql);
    params.push(...after.params);
  }
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${columns} FROM silences ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ?`,
    [...params, query.limit + 1],
  );
  const hasMore = rows.length > query.limit;
  const pageRows = hasMore ? rows.slice(0, query.limit) : rows;
  const last = pageRows.at(-1);
  return {
    items: pageRows.map((row) => silenceFromRow(row, now)),
    nextCursor: hasMore && last ? encodeCursor(newestFirst, last) : null,
  };
}

// ---------- rules ----------

function invalid(pointer: string, detail: string): HttpError {
  return new HttpError('validation', detail, { errors: [{ pointer, detail }] });
}

/** `startsAt` plus one calendar year (UTC): the longest a silence may last. */
function oneYearAfter(startsAt: Date): Date {
  const limit = new Date(startsAt);
  limit.setUTCFullYear(limit.getUTCFullYear() + 1);
  return limit;
}

/**
 * 400 naming `#/endsAt` unless the period is one a silence may have. A period in the past is
 * allowed: windows are graded by event time, so late readings from then are held by it.
 */
function requirePeriod(startsAt: Date, endsAt: Date | null): void {
  if (endsAt === null) return;
  if (endsAt <= startsAt) throw invalid('#/endsAt', 'endsAt must be after startsAt.');
  if (endsAt > oneYearAfter(startsAt))
    throw invalid('#/endsAt', 'A silence lasts at most one year.');
}

/** 403 unless `principal` may change silences of this scope (technicians: their equipment). */
async function requireMayChange(
  pool: Pool,
  principal: Principal,
  scope: SilenceScope,
  equipmentId: number | null,
): Promise<void> {
  requireRole(principal, 'Admin', 'Technician');
  if (principal.roles.has('Admin')) return;
  if (scope !== 'equipment' || equipmentId === null) {
    throw new HttpError(
      'forbidden',
      'Technicians may silence only equipment assigned to them, not a whole type or location.',
    );
  }
  if (!canSee(await accessScope(pool, principal), String(equipmentId))) {
    throw new HttpError(
      'forbidden',
      `Technicians may silence only equipment assigned to them; equipment ${equipmentId} is not.`,
    );
  }
}

/** 409 naming `pointer` unless some equipment matches `condition` (`column = value`). */
async function requireEquipmentMatching(
  db: Queryable,
  column: 'id' | 'type' | 'location',
  value: string | number,
  pointer: string,
): Promise<void> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT EXISTS (SELECT 1 FROM equipment WHERE ${column} = ?) AS found`,
    [value],
  );
  if (Number(rows[0]?.['found']) !== 1) {
    throw new ConflictError('dangling-reference', `${pointer.slice(2)} names no equipment.`, {
      pointer,
    });
  }
}

// ---------- writes ----------

/** What creating a silence needs: MySQL, and the alerts (for one created from an alert). */
export type SilenceServices = Pick<Services, 'pool' | 'telemetryDatabase'>;

interface NewSilence {
  scope: SilenceScope;
  equipmentId: number | null;
  equipmentType: string | null;
  location: string | null;
  metric: MetricName | null;
  alertId: string | null;
}

/**
 * The scope the input names: exactly one of the three, or none with `alertId` (the caller
 * then takes the scope from the alert). 400 naming the field otherwise.
 */
function scopeOf(input: SilenceInput): NewSilence {
  const given = [
    input.equipmentId === undefined ? [] : ['equipmentId'],
    input.equipmentType === undefined ? [] : ['equipmentType'],
    input.location === undefined ? [] : ['location'],
  ].flat();
  if (input.alertId !== undefined) {
    // It holds its alert from now on: the scope and metric are the alert's, the start now.
    const extra = [
      ...given,
      ...(input.metric === undefined ? [] : ['metric']),
      ...(input.startsAt === undefined ? [] : ['startsAt']),
    ][0];
    if (extra !== undefined)
      throw invalid(
        `#/${extra}`,
        'A silence created from an alert takes its scope and metric from it, and starts now.',
      );
  } else if (given.length !== 1) {
    throw invalid(
      given.length ? `#/${given[1] ?? ''}` : '#',
      'Give exactly one scope: equipmentId, equipmentType or location (or an alertId).',
    );
  }
  const scope: SilenceScope =
    input.equipmentType !== undefined
      ? 'type'
      : input.location !== undefined
        ? 'location'
        : 'equipment';
  return {
    scope,
    equipmentId: input.equipmentId ?? null,
    equipmentType: input.equipmentType ?? null,
    location: input.location ?? null,
    metric: input.metric ?? null,
    alertId: null,
  };
}

/**
 * Creates a silence for `principal`. One created from an alert (visible to the caller, 404
 * otherwise; unresolved, 409 otherwise) takes the alert's equipment and metric, starts now,
 * and the alert is marked suppressed by it at once, so nothing more is delivered for it.
 */
export async function createSilence(
  services: SilenceServices,
  principal: Principal,
  input: SilenceInput,
  now = new Date(),
): Promise<Silence> {
  const { pool } = services;
  let silence = scopeOf(input);
  if (input.alertId !== undefined) {
    const alertId = await requireVisibleAlertId(services, principal, input.alertId);
    const { alert } = await readAlert(services.telemetryDatabase, alertId);
    if (!namesMysqlRow(alert.equipmentId))
      throw new ConflictError('state', 'The alert’s equipment is not registered.');
    if (alert.status === 'resolved')
      throw new ConflictError('state', 'The alert is resolved: there is nothing to silence.', {
        pointer: '#/alertId',
      });
    silence = {
      scope: 'equipment',
      equipmentId: Number(alert.equipmentId),
      equipmentType: null,
      location: null,
      // An offline alert is about no one metric; the silence holds it by its id alone.
      metric: alert.metric === 'offline' ? null : alert.metric,
      alertId,
    };
  } else if (input.endsAt === undefined) {
    throw invalid('#/endsAt', 'endsAt is required unless the silence is created from an alert.');
  }
  await requireMayChange(pool, principal, silence.scope, silence.equipmentId);
  const startsAt = input.startsAt === undefined ? now : new Date(input.startsAt);
  const endsAt = input.endsAt === undefined ? null : new Date(input.endsAt);
  requirePeriod(startsAt, endsAt);
  if (silence.equipmentId !== null && silence.alertId === null)
    await requireEquipmentMatching(pool, 'id', silence.equipmentId, '#/equipmentId');
  if (silence.equipmentType !== null)
    await requireEquipmentMatching(pool, 'type', silence.equipmentType, '#/equipmentType');
  if (silence.location !== null)
    await requireEquipmentMatching(pool, 'location', silence.location, '#/location');

  const actor = actorOf(principal);
  const created = await inTransaction(pool, async (connection) => {
    const [result] = await connection.query<ResultSetHeader>(
      `INSERT INTO silences (scope, equipment_id, equipment_type, location, metric, alert_id,
         starts_at, ends_at, reason, created_by, updated_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        silence.scope,
        silence.equipmentId,
        silence.equipmentType,
        silence.location,
        silence.metric,
        silence.alertId,
        startsAt,
        endsAt,
        input.reason,
        actor,
        actor,
        now,
        now,
      ],
    );
    const row = await findSilence(connection, result.insertId, now);
    if (!row) throw new Error(`silence ${result.insertId} missing after insert`);
    await appendEvents(connection, [
      {
        aggregate: 'silence',
        aggregateId: row.id,
        type: 'SilenceCreated',
        actor,
        occurredAt: row.createdAt,
        version: row.version,
        after: auditedFields(row),
      },
    ]);
    return row;
  });
  if (created.alertId !== null) await holdAlert(services, created.alertId, created.id, actor, now);
  return created;
}

/**
 * Marks alert `alertId` suppressed by silence `silenceId` (under its ETag, re-read on a lost
 * race), so nothing more is delivered for it; what it owed is kept as `delivery.withheld`,
 * as for maintenance. An alert already resolved, or held by maintenance (which takes
 * precedence), is left as it is.
 */
async function holdAlert(
  services: SilenceServices,
  alertId: string,
  silenceId: number,
  by: string,
  now: Date,
): Promise<void> {
  await replaceAlert(services.telemetryDatabase, alertId, undefined, (current) => {
    if (current.status === 'resolved' || current.suppressed) return Promise.resolve(undefined);
    const { delivery: _delivery, deliveryPending: _pending, ...rest } = current;
    const held: Omit<Alert, 'version' | 'delivery' | 'deliveryPending'> = {
      ...rest,
      suppressed: { reason: 'silence', silenceId },
    };
    return Promise.resolve(
      withNewVersion(current, held, 'alert.updated', { by, at: now.toISOString() }),
    );
  });
}

/** The fields change events record for a silence (what a person set, and its end). */
function auditedFields(silence: Silence): Record<string, unknown> {
  const { state: _state, version: _version, createdAt: _c, updatedAt: _u, ...rest } = silence;
  return rest;
}

/** Locks silence `id` (404 when missing) and checks the caller may change it. */
async function lockedForChange(
  pool: Pool,
  connection: PoolConnection,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
  now: Date,
): Promise<Silence> {
  const before = await findSilence(connection, id, now, true);
  if (!before) throw noSilence(id);
  await requireMayChange(pool, principal, before.scope, before.equipmentId);
  requireVersion(ifMatch, before.version);
  if (before.state === 'ended')
    throw new ConflictError('state', `Silence ${id} has ended; create a new one.`);
  return before;
}

/** Changes the end and/or reason of a silence that has not ended. */
export async function updateSilence(
  pool: Pool,
  principal: Principal,
  id: number,
  patch: SilencePatch,
  ifMatch: VersionCondition,
  now = new Date(),
): Promise<Silence> {
  return inTransaction(pool, async (connection) => {
    const before = await lockedForChange(pool, connection, principal, id, ifMatch, now);
    const endsAt =
      patch.endsAt === undefined
        ? before.endsAt === null
          ? null
          : new Date(before.endsAt)
        : patch.endsAt === null
          ? null
          : new Date(patch.endsAt);
    if (endsAt === null && before.alertId === null)
      throw invalid('#/endsAt', 'Only a silence created from an alert may have no end.');
    if (patch.endsAt !== undefined) requirePeriod(new Date(before.startsAt), endsAt);
    const actor = actorOf(principal);
    await connection.query(
      `UPDATE silences SET ends_at = ?, reason = ?, updated_by = ?, updated_at = ?,
         version = version + 1 WHERE id = ?`,
      [endsAt, patch.reason ?? before.reason, actor, now, id],
    );
    const after = await findSilence(connection, id, now);
    if (!after) throw new Error(`silence ${id} missing after update`);
    await appendEvents(connection, [changeEvent('SilenceUpdated', before, after, actor)]);
    return after;
  });
}

/** The event for a change from `before` to `after`, naming only the fields that changed. */
function changeEvent(type: string, before: Silence, after: Silence, actor: string) {
  const was = auditedFields(before);
  const now = auditedFields(after);
  const changed = Object.keys(now).filter((key) => was[key] !== now[key]);
  return {
    aggregate: 'silence' as const,
    aggregateId: after.id,
    type,
    actor,
    occurredAt: after.updatedAt,
    version: after.version,
    before: Object.fromEntries(changed.map((key) => [key, was[key]])),
    after: Object.fromEntries(changed.map((key) => [key, now[key]])),
  };
}

/** Sets the end of a silence to `now` (its start, if it has not started), recording why. */
async function endNow(
  connection: PoolConnection,
  before: Silence,
  actor: string,
  reason: SilenceEndReason,
  now: Date,
): Promise<Silence> {
  const startsAt = new Date(before.startsAt);
  await connection.query(
    `UPDATE silences SET ends_at = ?, ended_by = ?, ended_at = ?, end_reason = ?, updated_by = ?,
       updated_at = ?, version = version + 1 WHERE id = ?`,
    [startsAt > now ? startsAt : now, actor, now, reason, actor, now, before.id],
  );
  const after = await findSilence(connection, before.id, now);
  if (!after) throw new Error(`silence ${before.id} missing after ending it`);
  await appendEvents(connection, [changeEvent('SilenceEnded', before, after, actor)]);
  return after;
}

/**
 * Ends a silence now (`DELETE /api/silences/{id}`): the row stays, with who ended it and when,
 * so the audit outlives it; one not started yet never holds anything. 409 when it has ended.
 */
export async function endSilence(
  pool: Pool,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
  now = new Date(),
): Promise<Silence> {
  return inTransaction(pool, async (connection) => {
    const before = await lockedForChange(pool, connection, principal, id, ifMatch, now);
    return endNow(connection, before, actorOf(principal), 'expired', now);
  });
}

/**
 * Ends the silences created from alert `alertId` that have not ended, as `alert-resolved` by
 * `by` (who resolved it). The pipeline stops holding the alert once it is resolved whether
 * or not this ran (lib/telemetry/silences.ts); this keeps the record and audit true.
 */
export async function endSilencesOfAlert(
  pool: Pool,
  alertId: string,
  by: string,
  now = new Date(),
): Promise<void> {
  await inTransaction(pool, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>(
      `SELECT ${columns} FROM silences
        WHERE alert_id = ? AND ended_at IS NULL AND (ends_at IS NULL OR ends_at > ?)
        ORDER BY id FOR UPDATE`,
      [alertId, now],
    );
    for (const row of rows)
      await endNow(connection, silenceFromRow(row, now), by, 'alert-resolved', now);
  });
}
