/** /api/equipment/{id}/history: the equipment's change log, newest first. Any role reads it. */
import { listEquipmentHistory } from '../lib/api/history.js';
import { equipmentHistoryQuerySchema } from '../lib/api/historySchemas.js';
import { NotFoundError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const equipmentHistoryFunction = httpFunction({
  name: 'equipment-history',
  route: 'equipment/{id}/history',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ request, services: { pool } }) => {
      const equipmentId = routeId(request.params);
      const { limit, cursor, ...filter } = parseOrThrow(
        equipmentHistoryQuerySchema,
        queryObject(request),
        'query',
      );
      const page = await listEquipmentHistory(pool, equipmentId, filter, { limit, cursor });
      if (!page) throw new NotFoundError(`Equipment ${equipmentId} does not exist.`);
      return jsonResponse(page);
    },
  }),
});
