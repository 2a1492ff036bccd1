/**
 * Alerts over HTTP: the maintenance alerts the telemetry pipeline stores in Cosmos (one
 * partition per equipment), as the API reads and changes them. Who may see which alert, the
 * list (keyset pages, newest raised first) and one alert with its ETag, and the acknowledge /
 * resolve sequence with its optional service record and the fan-out of the change.
 */
import type { Database, ItemDefinition, SqlParameter } from '@azure/cosmos';
import type { Pool } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { ConflictError, HttpError, NotFoundError, StaleVersionError } from '../errors.js';
import { accessScope, canSee } from '../fanout/audience.js';
import type { Page } from '../paging.js';
import type { Services } from '../services.js';
import { requireVersion, type VersionCondition } from '../preconditions.js';
import {
  canTransition,
  equipmentIdOfAlert,
  publicAlert,
  withNewVersion,
  type Alert,
  type AlertStatus,
  type PublicAlert,
} from '../telemetry/alerts.js';
import { documentBody } from '../telemetry/cosmosStore.js';
import { httpEtag, keysetPage } from '../telemetry/queries.js';
import type { AlertResolutionWork } from './schemas.js';
import { serviceRecordForAlert } from './serviceRecords.js';

/** An alert as the API answers with it: its public fields and its HTTP ETag. */
export type AlertWithEtag = PublicAlert & { etag: string };

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

/** 404 (as for a missing alert) when the alert's equipment is not the caller's to see. */
async function requireVisible(pool: Pool, principal: Principal, id: string): Promise<void> {
  const equipmentId = equipmentIdOfAlert(id);
  if (equipmentId === undefined || !canSee(await accessScope(pool, principal), equipmentId)) {
    throw new NotFoundError('No alert has this id.');
  }
}

/** A page of the alerts the caller may see: technicians those of their assigned equipment. */
export async function listVisibleAlerts(
  { telemetryDatabase, pool }: AlertReadServices,
  principal: Principal,
  query: Omit<AlertFilter, 'equipmentIds'> & { limit: number; cursor?: string | undefined },
): Promise<Page<AlertWithEtag>> {
  const scope = await accessScope(pool, principal);
  const equipmentIds = scope.kind === 'all' ? undefined : scope.equipmentIds;
  return listAlerts(telemetryDatabase, { ...query, equipmentIds }, query);
}

/** The id of an alert the caller may see (404 for one they may not, as for a missing one). */
export async function requireVisibleAlertId(
  pool: Pool,
  principal: Principal,
  rawId: string | undefined,
): Promise<string> {
  const id = alertIdFrom(rawId);
  await requireVisible(pool, principal, id);
  return id;
}

/** One alert the caller may see (404 for one they may not, as for a missing one). */
export async function getVisibleAlert(
  { telemetryDatabase, pool }: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
): Promise<AlertWithEtag> {
  return getAlert(telemetryDatabase, await requireVisibleAlertId(pool, principal, rawId));
}

/**
 * The alert id of a status change the caller may make: technicians handle alerts in the
 * field, so both roles may acknowledge and resolve the alerts of equipment they can see.
 * Checked before the request's body is read.
 */
export async function changeableAlertId(
  pool: Pool,
  principal: Principal,
  rawId: string | undefined,
): Promise<string> {
  requireRole(principal, 'Admin', 'Technician');
  const id = alertIdFrom(rawId);
  await requireVisible(pool, principal, id);
  return id;
}

/** What a client asks of an alert (the validated `AlertPatch` body). */
export interface AlertStatusRequest {
  status: Exclude<AlertStatus, 'open'>;
  /** With `acknowledged`: kept as the alert's `acknowledgementNote`. */
  note?: string | undefined;
  serviceRecord?: AlertResolutionWork | undefined;
}

/**
 * What the status change needs beyond the request. The deliverer (a lazily built service) is
 * asked for only once a change is stored: an unchanged alert needs none.
 */
export type AlertChangeServices = Pick<Services, 'telemetryDatabase' | 'pool' | 'alertDeliverer'>;

/**
 * Acknowledges or resolves alert `id` (from {@link changeableAlertId}) for `principal`, and
 * answers with the alert as stored after the change and its delivery.
 */
export async function requestAlertStatus(
  services: AlertChangeServices,
  principal: Principal,
  id: string,
  request: AlertStatusRequest,
  ifMatch: VersionCondition<string>,
  now: Date = new Date(),
): Promise<AlertWithEtag> {
  const { telemetryDatabase: database, pool } = services;
  const { status, note, serviceRecord } = request;
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
  );
  if (!changed.changed) return { ...publicAlert(changed.alert), etag: changed.etag };
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
  since?: string | undefined;
  /** Only these equipment (a technician's assignments). */
  equipmentIds?: readonly string[] | undefined;
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
  if (filter.since !== undefined) {
    conditions.push('c.raisedAt >= @since');
    parameters.push({ name: '@since', value: new Date(filter.since).toISOString() });
  }
  if (filter.equipmentIds !== undefined) {
    conditions.push('ARRAY_CONTAINS(@equipmentIds, c.equipmentId)');
    parameters.push({ name: '@equipmentIds', value: [...filter.equipmentIds] });
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

export async function getAlert(
  database: Database,
  id: string,
): Promise<PublicAlert & { etag: string }> {
  const { alert, cosmosEtag } = await readAlert(database, id);
  return { ...publicAlert(alert), etag: httpEtag(cosmosEtag) };
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

/** Acknowledges or resolves an alert (see {@link replaceAlert} for the concurrency). */
export async function changeAlertStatus(
  database: Database,
  id: string,
  to: Exclude<AlertStatus, 'open'>,
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
): Promise<{ alert: Alert; etag: string; changed: boolean }> {
  return replaceAlert(database, id, ifMatch, async (alert) => {
    const linkMissing = serviceRecordFor !== undefined && alert.serviceRecordId === undefined;
    if (alert.status === to && !linkMissing) return undefined;
    if (alert.status !== to && !canTransition(alert.status, to)) {
      throw new ConflictError('state', `An alert that is ${alert.status} cannot become ${to}.`);
    }
    const serviceRecordId = linkMissing ? await serviceRecordFor(alert) : alert.serviceRecordId;
    const changed: Alert =
      alert.status === to
        ? alert
        : to === 'acknowledged'
          ? {
              ...alert,
              status: to,
              acknowledgedAt: now.toISOString(),
              acknowledgedBy: by,
              ...(note === undefined ? {} : { acknowledgementNote: note }),
            }
          : { ...alert, status: to, resolvedAt: now.toISOString(), resolvedBy: by };
    return withNewVersion(
      alert,
      serviceRecordId === undefined ? changed : { ...changed, serviceRecordId },
      'alert.updated',
    );
  });
}
