/**
 * /api/webhooks, /api/webhooks/{id} and its history: the endpoints alert events are delivered
 * to. Admins only, reads included: a webhook's URL and filters say where the alerts of the
 * fleet go. The creation answer alone carries the signing secret (lib/api/webhooks.ts).
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
import { crudFunctions, routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const webhookFunctions = [
  ...crudFunctions({
    name: 'webhooks',
    route: 'webhooks',
    querySchema: webhookQuerySchema,
    inputSchema: webhookInputSchema,
    list: listWebhooks,
    get: getWebhook,
    version: (pool, id) => webhookTable.version(pool, id),
    create: (pool, principal, input, services) =>
      createWebhook(pool, services.webhooks, principal, input),
    replace: (pool, principal, id, input, ifMatch, services) =>
      replaceWebhook(pool, services.webhooks, principal, id, input, ifMatch),
    remove: deleteWebhook,
    writerRoles: ['Admin'],
    readerRoles: ['Admin'],
  }),
  httpFunction({
    name: 'webhooks-history',
    route: 'webhooks/{id}/history',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, principal, services: { pool } }) => {
        requireRole(principal, 'Admin');
        const webhookId = routeId(request.params);
        const page = parseOrThrow(webhookHistoryQuerySchema, queryObject(request), 'query');
        const found = await listWebhookHistory(pool, webhookId, page);
        if (!found) throw new NotFoundError(`Webhook ${webhookId} does not exist.`);
        return jsonResponse(found);
      },
    }),
  }),
];
