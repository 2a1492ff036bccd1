/** /api/equipment/{id}/thresholds: one machine's threshold overrides. Admins write; all read. */
import { requireRole } from '../lib/auth.js';
import {
  deleteThresholds,
  equipmentThresholdsInputSchema,
  getThresholds,
  putThresholds,
} from '../lib/api/thresholds.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { etagFor, noneMatchHolds, parseIfMatch, parseIfNoneMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse, noContent, notModified } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const equipmentThresholdsFunction = httpFunction({
  name: 'equipment-thresholds',
  route: 'equipment/{id}/thresholds',
  methods: ['GET', 'PUT', 'DELETE'],
  handler: protectedHandler({
    GET: async ({ request, db, principal }) => {
      const equipmentId = routeId(request.params);
      const ifNoneMatch = parseIfNoneMatch(request);
      const found = await getThresholds(db, principal, equipmentId);
      const etag = etagFor(found.version);
      if (ifNoneMatch !== undefined && noneMatchHolds(ifNoneMatch, etag)) return notModified(etag);
      return jsonResponse(found, { version: found.version });
    },
    PUT: async ({ request, db: pool, principal }) => {
      // Before the body: a caller who may not write learns that, not what is wrong with it.
      requireRole(principal, 'Admin');
      const equipmentId = routeId(request.params);
      const ifMatch = parseIfMatch(request);
      const input = parseOrThrow(
        equipmentThresholdsInputSchema,
        await readJsonBody(request),
        'body',
      );
      const { thresholds, created } = await putThresholds(
        pool,
        principal,
        equipmentId,
        input,
        ifMatch,
      );
      return jsonResponse(thresholds, { status: created ? 201 : 200, version: thresholds.version });
    },
    DELETE: async ({ request, db: pool, principal }) => {
      requireRole(principal, 'Admin');
      await deleteThresholds(pool, principal, routeId(request.params), parseIfMatch(request));
      return noContent();
    },
  }),
});
