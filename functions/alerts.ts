/** /api/alerts and /api/alerts/{id}: maintenance alerts raised by the telemetry pipeline. */
import { requireRole } from '../lib/auth.js';
import { alertPatchSchema, alertQuerySchema } from '../lib/api/telemetrySchemas.js';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { parseOpaqueIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';
import { changeAlertStatus, getAlert, listAlerts } from '../lib/telemetry/queries.js';
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

export const alertFunctions = [
  httpFunction({
    name: 'alerts-collection',
    route: 'alerts',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request }) => {
        const query = parseOrThrow(alertQuerySchema, queryObject(request), 'query');
        return jsonResponse(await listAlerts(getTelemetryDatabase(), query, query));
      },
    }),
  }),
  httpFunction({
    name: 'alerts-item',
    route: 'alerts/{id}',
    methods: ['GET', 'PATCH'],
    handler: protectedHandler({
      GET: async ({ request }) => {
        const alert = await getAlert(getTelemetryDatabase(), alertIdOf(request.params));
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
      PATCH: async ({ request, principal }) => {
        // Technicians handle alerts in the field; both roles may acknowledge and resolve.
        requireRole(principal, 'Admin', 'Technician');
        const id = alertIdOf(request.params);
        const ifMatch = parseOpaqueIfMatch(request);
        const { status } = parseOrThrow(alertPatchSchema, await readJsonBody(request), 'body');
        const alert = await changeAlertStatus(
          getTelemetryDatabase(),
          id,
          status,
          principal.subject,
          ifMatch,
        );
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
    }),
  }),
];
