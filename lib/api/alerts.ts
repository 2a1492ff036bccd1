/**
 * Alerts over HTTP: the maintenance alerts the telemetry pipeline stores in Cosmos (one
 * partition per equipment), as the API reads and changes them. Who may see which alert, the
 * list (keyset pages, newest raised first) and one alert with its ETag, and the acknowledge /
 * resolve sequence with its optional service record and the fan-out of the change.
 */
import { recordAlertVersion } from '../observability/instruments.js';
import type { Database, ItemDefinition, SqlParameter } from '@azure/cosmos';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { ConflictError, HttpError, NotFoundError, StaleVersionError } from '../errors.js';
import { accessScope, canSee } from '../fanout/audience.js';
import type { Page } from '../paging.js';
import type { Services } from '../services.js';
import { requireVersion, type VersionCondition } from '../preconditions.js';
import {
  alertDetail,
  canTransition,
  statusAfter,
  equipmentIdOfAlert,
  publicAlert,
  withNewVersion,
  type Alert,
  type AlertDetail,
  type AlertStatus,
  type PublicAlert,
} from '../telemetry/alerts.js';
import { documentBody } from '../telemetry/cosmosStore.js';
import { httpEtag, keysetPage } from '../telemetry/queries.js';
import type { AlertResolutionWork } from './schemas.js';
import { serviceRecordForAlert } from './serviceRecords.js';
import { endSilencesOfAlert } from './silences.js';

/** An alert as the API answers with it: its public fields and its HTTP ETag. */
export type AlertWithEtag = PublicAlert & { etag: string };

/** One alert as the API answers with it: {@link AlertWithEtag} with its timeline. */
export type AlertDetailWithEtag = AlertDetail & { etag: string };

// ---------- who may see which alert ----------

/** The `{id}` route parameter as an alert id: 400 when it cannot be one. */
export function alertIdFrom(raw: string | undefined): string {
  const id = raw ?? '';
  if (id.length === 0 || id.length > 200) {
    throw new HttpError('validation', 'The alert id is not valid.', {
      errors: [{ parameter: 'id', detail: 'Expected an alert id' }],
    });
  }
  return id;
}

/** What the alert reads need: the pipeline's database and MySQL (for who sees what). */
export type AlertReadServices = Pick<Services, 'telemetryDatabase' | 'pool'>;

/**
 * 404 (as for a missing alert) unless the caller may see the alert: its equipment is theirs
 * to see, or it is assigned to them (an active technician) by an admin.
 */
async function requireVisible(
  { telemetryDatabase, pool }: AlertReadServices,
  principal: Principal,
  id: string,
): Promise<void> {
  const notFound = new NotFoundError('No alert has this id.');
  const equipmentId = equipmentIdOfAlert(id);
  if (equipmentId === undefined) throw notFound;
  const scope = await accessScope(pool, principal);
  if (canSee(scope, equipmentId)) return;
  // Only then is the alert read: whoever it is assigned to, nobody else gains access.
  if (scope.kind !== 'assigned' || scope.technicianId === null) throw notFound;
  const { alert } = await readAlert(telemetryDatabase, id);
  if (alert.assigneeUserId !== principal.subject) throw notFound;
}

/**
 * A page of the alerts the caller may see: technicians those of their assigned equipment and
 * those assigned to them.
 */
export async function listVisibleAlerts(
  { telemetryDatabase, pool }: AlertReadServices,
  principal: Principal,
  query: Omit<AlertFilter, 'equipmentIds'> & { limit: number; cursor?: string | undefined },
): Promise<Page<AlertWithEtag>> {
  const scope = await accessScope(pool, principal);
  if (scope.kind === 'all') return listAlerts(telemetryDatabase, query, query);
  // A subject without an active technician row is nobody's assignee.
  const assigneeUserId = scope.technicianId === null ? undefined : principal.subject;
  return listAlerts(
    telemetryDatabase,
    { ...query, equipmentIds: scope.equipmentIds, assigneeUserId },
    query,
  );
}

/** The id of an alert the caller may see (404 for one they may not, as for a missing one). */
export async function requireVisibleAlertId(
  services: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
): Promise<string> {
  const id = alertIdFrom(rawId);
  await requireVisible(services, principal, id);
  return id;
}

/** One alert the caller may see (404 for one they may not, as for a missing one). */
export async function getVisibleAlert(
  services: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
): Promise<AlertDetailWithEtag> {
  return getAlert(
    services.telemetryDatabase,
    await requireVisibleAlertId(services, principal, rawId),
  );
}

/**
 * The alert id of a status change the caller may make: technicians handle alerts in the
 * field, so both roles may acknowledge and resolve the alerts of equipment they can see.
 * Checked before the request's body is read.
 */
export async function changeableAlertId(
  services: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
): Promise<string> {
  requireRole(principal, 'Admin', 'Technician');
  const id = alertIdFrom(rawId);
  await requireVisible(services, principal, id);
  return id;
}

/** What a client asks of an alert (the validated `AlertPatch` body). */
export interface AlertChangeRequest {
  status?: Exclude<AlertStatus, 'open'> | undefined;
  /** Admin only: the technician (MySQL id) to assign the alert to, or null to unassign it. */
  assignee?: number | null | undefined;
  /** With `acknowledged`: kept as the alert's `acknowledgementNote`. */
  note?: string | undefined;
  serviceRecord?: AlertResolutionWork | undefined;
}

/**
 * What the status change needs beyond the request. The deliverer (a lazily built service) is
 * asked for only once a change is stored: an unchanged alert needs none.
 */
export type AlertChangeServices = Pick<Services, 'telemetryDatabase' | 'pool' | 'alertDeliverer'>;

/** The technician an alert is assigned to, as stored in it. */
export interface AlertAssignee {
  technicianId: number;
  /** Their `externalId`: token subject and Web PubSub user id. */
  userId: string;
}

/**
 * The technician `technicianId` as an assignee: 409 naming `#/assignee` unless they exist,
 * are active and can sign in (have an externalId, which is who receives the alert by user).
 */
async function activeAssignee(pool: Pool, technicianId: number): Promise<AlertAssignee> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT external_id FROM technicians WHERE id = ? AND is_active AND external_id IS NOT NULL',
    [technicianId],
  );
  const userId = rows[0]?.['external_id'] as string | undefined;
  if (userId === undefined) {
    throw new ConflictError(
      'dangling-reference',
      'assignee does not name an active technician who can sign in.',
      { pointer: '#/assignee' },
    );
  }
  return { technicianId, userId };
}

/**
 * Acknowledges, resolves and/or (admins only) assigns alert `id` (from
 * {@link changeableAlertId}) for `principal`, and answers with the alert as stored after the
 * change and its delivery.
 */
export async function requestAlertChange(
  services: AlertChangeServices,
  principal: Principal,
  id: string,
  request: AlertChangeRequest,
  ifMatch: VersionCondition<string>,
  now: Date = new Date(),
): Promise<AlertDetailWithEtag> {
  const { telemetryDatabase: database, pool } = services;
  const { status, note, serviceRecord } = request;
  if (request.assignee !== undefined) requireRole(principal, 'Admin');
  const assignee =
    request.assignee === undefined || request.assignee === null
      ? request.assignee
      : await activeAssignee(pool, request.assignee);
  // The service record is written first, keyed by the alert: if storing the alert then
  // fails, the client's retry finds the record and completes the link.
  const changed = await changeAlertStatus(
    database,
    id,
    status,
    principal.subject,
    ifMatch,
    now,
    serviceRecord &&
      (async (alert) => (await serviceRecordForAlert(pool, principal, alert, serviceRecord)).id),
    note,
    assignee,
  );
  // A silence created from the alert lasts until it is resolved: its record says so now
  // (the pipeline stops holding a resolved alert either way). Repeated resolves are no-ops.
  if (status === 'resolved' && changed.alert.status === 'resolved')
    await endSilencesOfAlert(pool, id, principal.subject, now);
  if (!changed.changed) return { ...alertDetail(changed.alert), etag: changed.etag };
  // Stored first; what cannot be delivered now stays owed for the sweep. Recording the
  // delivery changes the document, so the answer carries the ETag as it is after that.
  await services.alertDeliverer.deliverWritten([changed.alert]);
  return getAlert(database, id);
}

// ---------- storage: the alerts container ----------

export interface AlertFilter {
  equipmentId?: string | undefined;
  severity?: string | undefined;
  status?: string | undefined;
  metric?: string | undefined;
  since?: string | undefined;
  /** Only these equipment (a technician's assignments)... */
  equipmentIds?: readonly string[] | undefined;
  /** ...or alerts assigned to this user. */
  assigneeUserId?: string | undefined;
}

export async function listAlerts(
  database: Database,
  filter: AlertFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<PublicAlert & { etag: string }>> {
  // Slot documents (see `AlertSlot`) share the container; they have a `type`, alerts none.
  const conditions: string[] = ['NOT IS_DEFINED(c.type)'];
  const parameters: SqlParameter[] = [];
  const equal = (field: string, value: string | undefined) => {
    if (value === undefined) return;
    conditions.push(`c.${field} = @${field}`);
    parameters.push({ name: `@${field}`, value });
  };
  equal('equipmentId', filter.equipmentId);
  equal('severity', filter.severity);
  equal('status', filter.status);
  equal('metric', filter.metric);
  if (filter.since !== undefined) {
    conditions.push('c.raisedAt >= @since');
    parameters.push({ name: '@since', value: new Date(filter.since).toISOString() });
  }
  if (filter.equipmentIds !== undefined) {
    parameters.push({ name: '@equipmentIds', value: [...filter.equipmentIds] });
    if (filter.assigneeUserId === undefined) {
      conditions.push('ARRAY_CONTAINS(@equipmentIds, c.equipmentId)');
    } else {
      conditions.push(
        '(ARRAY_CONTAINS(@equipmentIds, c.equipmentId) OR c.assigneeUserId = @assigneeUserId)',
      );
      parameters.push({ name: '@assigneeUserId', value: filter.assigneeUserId });
    }
  }
  const found = await keysetPage<Alert>(
    database.container('alerts'),
    'raisedAt',
    conditions,
    parameters,
    page,
    filter.equipmentId,
  );
  return { ...found, items: found.items.map(publicAlert) };
}

export async function readAlert(
  database: Database,
  id: string,
): Promise<{ alert: Alert; cosmosEtag: string }> {
  const equipmentId = equipmentIdOfAlert(id);
  const notFound = new NotFoundError('No alert has this id.');
  if (!equipmentId) throw notFound;
  const { resource } = await database
    .container('alerts')
    .item(id, equipmentId)
    .read<ItemDefinition>();
  if (!resource) throw notFound;
  return { alert: documentBody(resource) as Alert, cosmosEtag: resource._etag };
}

export async function getAlert(database: Database, id: string): Promise<AlertDetailWithEtag> {
  const { alert, cosmosEtag } = await readAlert(database, id);
  return { ...alertDetail(alert), etag: httpEtag(cosmosEtag) };
}

/**
 * Changes one stored alert under its ETag. The pipeline may update the same alert at the same
 * moment (another anomalous window), so the write is conditional on the ETag read here, and
 * on the caller's `If-Match` when given. Without a precondition from the client, a write that
 * lands between our read and our replace (the pipeline's next window, a delivery record) is
 * simply re-read and `change` applied again.
 * @param change the alert to store, or undefined to store nothing (the request is already met).
 */
export async function replaceAlert(
  database: Database,
  id: string,
  ifMatch: VersionCondition<string>,
  change: (alert: Alert) => Promise<Alert | undefined>,
): Promise<{ alert: Alert; etag: string; changed: boolean }> {
  const attempts = ifMatch === undefined ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await replaceAlertOnce(database, id, ifMatch, change);
    } catch (error) {
      if (!(error instanceof LostRace) || attempt >= attempts) {
        if (error instanceof LostRace) {
          throw new StaleVersionError(
            'The alert changed while you updated it; fetch it again and retry.',
          );
        }
        throw error;
      }
    }
  }
}

class LostRace extends Error {}

async function replaceAlertOnce(
  database: Database,
  id: string,
  ifMatch: VersionCondition<string>,
  change: (alert: Alert) => Promise<Alert | undefined>,
): Promise<{ alert: Alert; etag: string; changed: boolean }> {
  const { alert, cosmosEtag } = await readAlert(database, id);
  const etag = httpEtag(cosmosEtag);
  requireVersion(
    ifMatch,
    etag,
    'The alert has changed since you read it; fetch it again and retry.',
  );
  const next = await change(alert);
  if (next === undefined) return { alert, etag, changed: false };
  try {
    const { resource } = await database
      .container('alerts')
      .item(id, alert.equipmentId)
      .replace<ItemDefinition>(next, {
        accessCondition: { type: 'IfMatch', condition: cosmosEtag },
      });
    if (!resource) throw new Error('Cosmos returned no alert after replace');
    recordAlertVersion(next);
    return {
      alert: documentBody(resource) as Alert,
      etag: httpEtag(resource._etag),
      changed: true,
    };
  } catch (error) {
    if ((error as { code?: unknown }).code === 412) throw new LostRace();
    throw error;
  }
}

/**
 * Acknowledges or resolves an alert, and/or assigns it (see {@link replaceAlert} for the
 * concurrency). Nothing is stored when the alert already is as asked.
 */
export async function changeAlertStatus(
  database: Database,
  id: string,
  to: Exclude<AlertStatus, 'open'> | undefined,
  by: string,
  ifMatch: VersionCondition<string>,
  now: Date = new Date(),
  /**
   * Called once the change is allowed and before it is stored: returns the service record
   * documenting the resolution, stored in the same write. Also links a record to an alert
   * resolved earlier without one (a retry after a failure between the two stores).
   */
  serviceRecordFor?: (alert: Alert) => Promise<number>,
  /** With `acknowledged`: the person's note, stored as `acknowledgementNote`. */
  note?: string,
  /** The technician to assign the alert to, null to unassign it, undefined to leave it. */
  assignee?: AlertAssignee | null,
): Promise<{ alert: Alert; etag: string; changed: boolean }> {
  return replaceAlert(database, id, ifMatch, async (current) => {
    const linkMissing = serviceRecordFor !== undefined && current.serviceRecordId === undefined;
    // A cleared alert stays cleared when acknowledged: it changes only if nobody had yet.
    const statusSame =
      to === undefined ||
      (to === 'acknowledged' && current.status === 'cleared'
        ? current.acknowledgedAt !== undefined
        : current.status === to);
    const assigneeSame =
      assignee === undefined ||
      (assignee === null
        ? current.assigneeTechnicianId === undefined
        : current.assigneeTechnicianId === assignee.technicianId &&
          current.assigneeUserId === assignee.userId);
    if (statusSame && assigneeSame && !linkMissing) return undefined;
    if (!statusSame && !canTransition(current.status, to)) {
      throw new ConflictError('state', `An alert that is ${current.status} cannot become ${to}.`);
    }
    const alert = assigneeSame ? current : withAssignee(current, assignee ?? null, by, now);
    const serviceRecordId = linkMissing ? await serviceRecordFor(alert) : alert.serviceRecordId;
    const changed: Alert = statusSame
      ? alert
      : to === 'acknowledged'
        ? {
            ...alert,
            status: statusAfter(alert.status, to),
            acknowledgedAt: now.toISOString(),
            acknowledgedBy: by,
            ...(note === undefined ? {} : { acknowledgementNote: note }),
          }
        : { ...alert, status: to, resolvedAt: now.toISOString(), resolvedBy: by };
    return withNewVersion(
      current,
      serviceRecordId === undefined ? changed : { ...changed, serviceRecordId },
      'alert.updated',
      { by, at: now.toISOString() },
    );
  });
}

/** `alert` assigned to `assignee` by `by` at `now`, or unassigned (null). */
function withAssignee(alert: Alert, assignee: AlertAssignee | null, by: string, now: Date): Alert {
  const {
    assigneeTechnicianId: _technicianId,
    assigneeUserId: _userId,
    assignedBy: _by,
    assignedAt: _at,
    ...unassigned
  } = alert;
  if (assignee === null) return unassigned;
  return {
    ...unassigned,
    assigneeTechnicianId: assignee.technicianId,
    assigneeUserId: assignee.userId,
    assignedBy: by,
    assignedAt: now.toISOString(),
  };
}
