/**
 * /api/webhooks and /api/webhooks/{id}: the endpoints alert events are delivered to. Admins
 * only, reads included: a webhook's URL and filters say where the alerts of the fleet go.
 * The creation answer alone carries the signing secret (lib/api/webhooks.ts).
 */
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookHistory,
  listWebhooks,
  replaceWebhook,
  webhookHistoryQuerySchema,
  webhookInputSchema,
  webhookQuerySchema,
  webhookTable,
} from '../lib/api/webhooks.js';
import { requireRole } from '../lib/auth.js';
import { NotFoundError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { etagFor, noneMatchHolds, parseIfMatch, parseIfNoneMatch } from '../lib/http/etag.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject, readJsonBody } from '../lib/http/request.js';
import { jsonResponse, listResponse, noContent, notModified } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const webhookFunctions = [
  httpFunction({
    name: 'webhooks-collection',
    route: 'webhooks',
    methods: ['GET', 'POST'],
    handler: protectedHandler({
      GET: async ({ request, principal, db }) => {
        requireRole(principal, 'Admin');
        const query = parseOrThrow(webhookQuerySchema, queryObject(request), 'query');
        return listResponse(
          request,
          await listWebhooks(db, query, { limit: query.limit, cursor: query.cursor }),
        );
      },
      POST: async ({ request, principal, services }) => {
        // Before the body: a caller who may not write learns that, not what is wrong with it.
        requireRole(principal, 'Admin');
        const input = parseOrThrow(webhookInputSchema, await readJsonBody(request), 'body');
        const created = await createWebhook(services.pool, services.webhooks, principal, input);
        return jsonResponse(created, {
          status: 201,
          version: created.version,
          headers: { location: `/api/webhooks/${created.id}` },
        });
      },
    }),
  }),
  httpFunction({
    name: 'webhooks-item',
    route: 'webhooks/{id}',
    methods: ['GET', 'PUT', 'DELETE'],
    handler: protectedHandler({
      GET: async ({ request, principal, db }) => {
        requireRole(principal, 'Admin');
        const id = routeId(request.params);
        const ifNoneMatch = parseIfNoneMatch(request);
        if (ifNoneMatch !== undefined) {
          const version = await webhookTable.version(db, id);
          if (version !== undefined && noneMatchHolds(ifNoneMatch, etagFor(version)))
            return notModified(etagFor(version));
        }
        const found = await getWebhook(db, id);
        return jsonResponse(found, { version: found.version });
      },
      PUT: async ({ request, principal, services }) => {
        requireRole(principal, 'Admin');
        const id = routeId(request.params);
        const ifMatch = parseIfMatch(request);
        const input = parseOrThrow(webhookInputSchema, await readJsonBody(request), 'body');
        const replaced = await replaceWebhook(
          services.pool,
          services.webhooks,
          principal,
          id,
          input,
          ifMatch,
        );
        return jsonResponse(replaced, { version: replaced.version });
      },
      DELETE: async ({ request, principal, services }) => {
        requireRole(principal, 'Admin');
        const id = routeId(request.params);
        await deleteWebhook(services.pool, principal, id, parseIfMatch(request));
        return noContent();
      },
    }),
  }),
  httpFunction({
    name: 'webhooks-history',
    route: 'webhooks/{id}/history',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, principal, services: { pool } }) => {
        requireRole(principal, 'Admin');
        const webhookId = routeId(request.params);
        const { limit, cursor } = parseOrThrow(
          webhookHistoryQuerySchema,
          queryObject(request),
          'query',
        );
        const page = await listWebhookHistory(pool, webhookId, { limit, cursor });
        if (!page) throw new NotFoundError(`Webhook ${webhookId} does not exist.`);
        return jsonResponse(page);
      },
    }),
  }),
];
