/** /api/alerts and /api/alerts/{id}: maintenance alerts raised by the telemetry pipeline. */
import type { Pool } from 'mysql2/promise';
import { requireRole, type Principal } from '../lib/auth.js';
import { accessScope, canSee } from '../lib/fanout/audience.js';
import { getAlertDeliverer } from '../lib/fanout/runtime.js';
import { serviceRecordForAlert } from '../lib/api/serviceRecords.js';
import { publicAlert } from '../lib/telemetry/alerts.js';
import { alertPatchSchema, alertQuerySchema } from '../lib/api/telemetrySchemas.js';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { parseOpaqueIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';
import {
  changeAlertStatus,
  equipmentIdOfAlert,
  getAlert,
  listAlerts,
} from '../lib/telemetry/queries.js';
import { getTelemetryDatabase } from '../lib/telemetry/runtime.js';

function alertIdOf(params: Readonly<Record<string, string>>): string {
  const id = params['id'] ?? '';
  if (id.length === 0 || id.length > 200) {
    throw new HttpError('validation', 'The alert id is not valid.', {
      errors: [{ parameter: 'id', detail: 'Expected an alert id' }],
    });
  }
  return id;
}

/** 404 (as for a missing alert) when the alert's equipment is not the caller's to see. */
async function requireVisible(pool: Pool, principal: Principal, id: string): Promise<void> {
  const equipmentId = equipmentIdOfAlert(id);
  if (equipmentId === undefined || !canSee(await accessScope(pool, principal), equipmentId)) {
    throw new HttpError('not-found', 'No alert has this id.');
  }
}

export const alertFunctions = [
  httpFunction({
    name: 'alerts-collection',
    route: 'alerts',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, principal, pool }) => {
        const query = parseOrThrow(alertQuerySchema, queryObject(request), 'query');
        // Technicians see the alerts of the equipment assigned to them.
        const scope = await accessScope(pool, principal);
        const equipmentIds = scope.kind === 'all' ? undefined : scope.equipmentIds;
        return jsonResponse(
          await listAlerts(getTelemetryDatabase(), { ...query, equipmentIds }, query),
        );
      },
    }),
  }),
  httpFunction({
    name: 'alerts-item',
    route: 'alerts/{id}',
    methods: ['GET', 'PATCH'],
    handler: protectedHandler({
      GET: async ({ request, principal, pool }) => {
        const id = alertIdOf(request.params);
        await requireVisible(pool, principal, id);
        const alert = await getAlert(getTelemetryDatabase(), id);
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
      PATCH: async ({ request, principal, pool }) => {
        // Technicians handle alerts in the field; both roles may acknowledge and resolve
        // the alerts of equipment they can see.
        requireRole(principal, 'Admin', 'Technician');
        const id = alertIdOf(request.params);
        await requireVisible(pool, principal, id);
        const ifMatch = parseOpaqueIfMatch(request);
        const { status, serviceRecord } = parseOrThrow(
          alertPatchSchema,
          await readJsonBody(request),
          'body',
        );
        const database = getTelemetryDatabase();
        // The service record is written first, keyed by the alert: if storing the alert then
        // fails, the client's retry finds the record and completes the link.
        const changed = await changeAlertStatus(
          database,
          id,
          status,
          principal.subject,
          ifMatch,
          new Date(),
          serviceRecord &&
            (async (alert) =>
              (await serviceRecordForAlert(pool, principal, alert, serviceRecord)).id),
        );
        if (!changed.changed) {
          const alert = { ...publicAlert(changed.alert), etag: changed.etag };
          return jsonResponse(alert, { headers: { etag: alert.etag } });
        }
        // Stored first; what cannot be delivered now stays owed for the sweep. Recording the
        // delivery changes the document, so the answer carries the ETag as it is after that.
        await getAlertDeliverer(database).deliverWritten([changed.alert]);
        const alert = await getAlert(database, id);
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
    }),
  }),
];
