/** /api/alerts and /api/alerts/{id}: maintenance alerts raised by the telemetry pipeline. */
import {
  changeableAlertId,
  getVisibleAlert,
  listVisibleAlerts,
  requestAlertStatus,
} from '../lib/api/alerts.js';
import { alertPatchSchema, alertQuerySchema } from '../lib/api/telemetrySchemas.js';
import { getAlertDeliverer } from '../lib/fanout/runtime.js';
import { httpFunction } from '../lib/host/declarations.js';
import { parseOpaqueIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';
import { getTelemetryDatabase } from '../lib/telemetry/runtime.js';

export const alertFunctions = [
  httpFunction({
    name: 'alerts-collection',
    route: 'alerts',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, principal, pool }) => {
        const query = parseOrThrow(alertQuerySchema, queryObject(request), 'query');
        return jsonResponse(
          await listVisibleAlerts(getTelemetryDatabase(), pool, principal, query),
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
        const database = getTelemetryDatabase();
        const alert = await getVisibleAlert(database, pool, principal, request.params['id']);
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
      PATCH: async ({ request, principal, pool }) => {
        const id = await changeableAlertId(pool, principal, request.params['id']);
        const ifMatch = parseOpaqueIfMatch(request);
        const patch = parseOrThrow(alertPatchSchema, await readJsonBody(request), 'body');
        const database = getTelemetryDatabase();
        const services = { database, pool, deliverer: () => getAlertDeliverer(database) };
        const alert = await requestAlertStatus(services, principal, id, patch, ifMatch);
        return jsonResponse(alert, { headers: { etag: alert.etag } });
      },
    }),
  }),
];
