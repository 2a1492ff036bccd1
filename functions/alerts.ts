/** /api/alerts and /api/alerts/{id}: maintenance alerts raised by the telemetry pipeline. */
import {
  changeableAlertId,
  getVisibleAlert,
  listVisibleAlerts,
  requestAlertChange,
} from '../lib/api/alerts.js';
import { alertPatchSchema, alertQuerySchema } from '../lib/api/telemetrySchemas.js';
import { httpFunction } from '../lib/host/declarations.js';
import { parseOpaqueIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { conditionalJsonResponse, jsonResponse, listResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const alertFunctions = [
  httpFunction({
    name: 'alerts-collection',
    route: 'alerts',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, principal, services, db }) => {
        const query = parseOrThrow(alertQuerySchema, queryObject(request), 'query');
        const readers = { telemetryDatabase: services.telemetryDatabase, pool: db };
        return listResponse(request, await listVisibleAlerts(readers, principal, query));
      },
    }),
  }),
  httpFunction({
    name: 'alerts-item',
    route: 'alerts/{id}',
    methods: ['GET', 'PATCH'],
    handler: protectedHandler({
      GET: async ({ request, principal, services, db }) => {
        // A Cosmos point read is one read whatever it returns, so the item itself is read and
        // its tag compared (the MySQL resources read only the version first).
        const readers = { telemetryDatabase: services.telemetryDatabase, pool: db };
        const alert = await getVisibleAlert(readers, principal, request.params['id']);
        return conditionalJsonResponse(request, alert, alert.etag);
      },
      PATCH: async ({ request, principal, services }) => {
        const id = await changeableAlertId(services, principal, request.params['id']);
        const ifMatch = parseOpaqueIfMatch(request);
        const patch = parseOrThrow(alertPatchSchema, await readJsonBody(request), 'body');
        const alert = await requestAlertChange(services, principal, id, patch, ifMatch);
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
    }),
  }),
];
