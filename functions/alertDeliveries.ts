/** /api/alerts/{id}/deliveries: every delivery of an alert (see lib/api/deliveries.ts). */
import { listVisibleDeliveries } from '../lib/api/deliveries.js';
import { deliveryQuerySchema } from '../lib/api/deliverySchemas.js';
import { httpFunction } from '../lib/host/declarations.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const alertDeliveriesFunction = httpFunction({
  name: 'alerts-deliveries',
  route: 'alerts/{id}/deliveries',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ request, principal, services, db }) => {
      const query = parseOrThrow(deliveryQuerySchema, queryObject(request), 'query');
      const readers = { telemetryDatabase: services.telemetryDatabase, pool: db };
      return jsonResponse(
        await listVisibleDeliveries(readers, principal, request.params['id'], query),
      );
    },
  }),
});
