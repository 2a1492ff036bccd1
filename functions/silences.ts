/**
 * /api/silences and /api/silences/{id}: silences holding alert notifications. Any role reads;
 * admins write any, technicians only for equipment assigned to them (lib/api/silences.ts).
 */
import {
  createSilence,
  endSilence,
  getSilence,
  listSilences,
  silenceInputSchema,
  silencePatchSchema,
  silenceQuerySchema,
  silenceVersion,
  updateSilence,
} from '../lib/api/silences.js';
import { requireRole } from '../lib/auth.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { parseIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { jsonResponse, listResponse, versionedGetResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const silenceFunctions = [
  httpFunction({
    name: 'silences-collection',
    route: 'silences',
    methods: ['GET', 'POST'],
    handler: protectedHandler({
      GET: async ({ request, db }) => {
        const query = parseOrThrow(silenceQuerySchema, queryObject(request), 'query');
        return listResponse(request, await listSilences(db, query));
      },
      POST: async ({ request, principal, services }) => {
        requireRole(principal, 'Admin', 'Technician');
        const input = parseOrThrow(silenceInputSchema, await readJsonBody(request), 'body');
        const created = await createSilence(services, principal, input);
        return jsonResponse(created, {
          status: 201,
          version: created.version,
          headers: { location: `/api/silences/${created.id}` },
        });
      },
    }),
  }),
  httpFunction({
    name: 'silences-item',
    route: 'silences/{id}',
    methods: ['GET', 'PATCH', 'DELETE'],
    handler: protectedHandler({
      GET: async ({ request, db }) => {
        const id = routeId(request.params);
        return versionedGetResponse(
          request,
          () => silenceVersion(db, id),
          () => getSilence(db, id),
        );
      },
      PATCH: async ({ request, db: pool, principal }) => {
        const id = routeId(request.params);
        const ifMatch = parseIfMatch(request);
        const patch = parseOrThrow(silencePatchSchema, await readJsonBody(request), 'body');
        const updated = await updateSilence(pool, principal, id, patch, ifMatch);
        return jsonResponse(updated, { version: updated.version });
      },
      DELETE: async ({ request, db: pool, principal }) => {
        const id = routeId(request.params);
        const ended = await endSilence(pool, principal, id, parseIfMatch(request));
        // The silence is not removed: it ended, and its record (who, when) is the answer.
        return jsonResponse(ended, { version: ended.version });
      },
    }),
  }),
];
