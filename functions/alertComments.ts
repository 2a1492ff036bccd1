/** /api/alerts/{id}/comments: what people say about an alert (see lib/api/alertComments.ts). */
import { listAlertComments, postAlertComment } from '../lib/api/alertComments.js';
import { changeableAlertId } from '../lib/api/alerts.js';
import { alertCommentInputSchema } from '../lib/api/telemetrySchemas.js';
import { httpFunction } from '../lib/host/declarations.js';
import { parseOpaqueIfMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const alertCommentsFunction = httpFunction({
  name: 'alerts-comments',
  route: 'alerts/{id}/comments',
  methods: ['GET', 'POST'],
  handler: protectedHandler({
    GET: async ({ request, principal, services, db }) => {
      const readers = { telemetryDatabase: services.telemetryDatabase, pool: db };
      const { items, etag } = await listAlertComments(readers, principal, request.params['id']);
      return jsonResponse({ items }, { headers: { etag } });
    },
    POST: async ({ request, principal, services }) => {
      const readers = { telemetryDatabase: services.telemetryDatabase, pool: services.pool };
      // Whoever may see the alert may comment on it; checked before the body is read.
      const id = await changeableAlertId(services, principal, request.params['id']);
      const ifMatch = parseOpaqueIfMatch(request);
      const { text } = parseOrThrow(alertCommentInputSchema, await readJsonBody(request), 'body');
      const { comment, etag } = await postAlertComment(readers, principal, id, text, ifMatch);
      return jsonResponse(comment, { status: 201, headers: { etag } });
    },
  }),
});
