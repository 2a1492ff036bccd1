/** /api/equipment/{id}/telemetry: latest reading, current window and window history. */
import { getEquipment } from '../lib/api/equipment.js';
import { maxTelemetryRangeMs, telemetryQuerySchema } from '../lib/api/telemetrySchemas.js';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';
import { equipmentTelemetry } from '../lib/telemetry/queries.js';

export const telemetryFunction = httpFunction({
  name: 'equipment-telemetry',
  route: 'equipment/{id}/telemetry',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ request, services }) => {
      const id = routeId(request.params);
      const query = parseOrThrow(telemetryQuerySchema, queryObject(request), 'query');
      const to = query.to ? new Date(query.to) : new Date();
      const from = query.from ? new Date(query.from) : new Date(to.getTime() - 86_400_000);
      if (from >= to || to.getTime() - from.getTime() > maxTelemetryRangeMs) {
        throw new HttpError('validation', '`from` must be before `to`, at most 7 days apart.', {
          errors: [{ parameter: 'from', detail: 'At most 7 days before `to`' }],
        });
      }
      // 404 for equipment the API does not know, as for every equipment route.
      await getEquipment(services.pool, id);
      return jsonResponse(
        await equipmentTelemetry(services.telemetryDatabase, String(id), { from, to }),
      );
    },
  }),
});
