/** /api/dead-letters: why a device's data is missing (admins only). */
import { requireRole } from '../lib/auth.js';
import { deadLetterQuerySchema } from '../lib/api/telemetrySchemas.js';
import { httpFunction } from '../lib/host/declarations.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';
import { listDeadLetters } from '../lib/telemetry/queries.js';

export const deadLetterFunction = httpFunction({
  name: 'dead-letters',
  route: 'dead-letters',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ request, principal, services }) => {
      // Raw payloads can hold anything a device sent: admins only.
      requireRole(principal, 'Admin');
      const query = parseOrThrow(deadLetterQuerySchema, queryObject(request), 'query');
      return jsonResponse(await listDeadLetters(services.telemetryDatabase, query, query));
    },
  }),
});
