/** /api/equipment/{id}/offline-timeout: one machine's own offline timeout. Admins write; all read. */
import { requireRole } from '../lib/auth.js';
import {
  getOfflineTimeout,
  offlineTimeoutInputSchema,
  putOfflineTimeout,
} from '../lib/api/offlineTimeout.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const equipmentOfflineTimeoutFunction = httpFunction({
  name: 'equipment-offline-timeout',
  route: 'equipment/{id}/offline-timeout',
  methods: ['GET', 'PUT'],
  handler: protectedHandler({
    GET: async ({ request, db, principal, services }) => {
      const timeouts = services.config.section('telemetry').OFFLINE_TIMEOUT_MINUTES;
      return jsonResponse(
        await getOfflineTimeout(db, principal, routeId(request.params), timeouts),
      );
    },
    PUT: async ({ request, db: pool, principal, services }) => {
      // Before the body: a caller who may not write learns that, not what is wrong with it.
      requireRole(principal, 'Admin');
      const equipmentId = routeId(request.params);
      const input = parseOrThrow(offlineTimeoutInputSchema, await readJsonBody(request), 'body');
      const timeouts = services.config.section('telemetry').OFFLINE_TIMEOUT_MINUTES;
      return jsonResponse(await putOfflineTimeout(pool, principal, equipmentId, input, timeouts));
    },
  }),
});
