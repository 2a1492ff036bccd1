/**
 * /api/negotiate and /api/me: what a signed-in user may watch, and a Web PubSub client URL
 * for exactly that. The user id comes from the verified token, never from the request; the
 * token grants no send role and expires soon.
 */
import { accessScope } from '../lib/fanout/audience.js';
import { clientGrant } from '../lib/fanout/routing.js';
import { httpFunction } from '../lib/host/declarations.js';
import { protectedHandler } from '../lib/http/handler.js';
import { jsonResponse } from '../lib/http/response.js';

export const negotiateFunctions = [
  httpFunction({
    name: 'negotiate',
    route: 'negotiate',
    methods: ['POST'],
    handler: protectedHandler(
      {
        POST: async ({ principal, services }) => {
          const grant = clientGrant(principal, await accessScope(services.pool, principal));
          const { baseUrl, token, url } = await services.webPubSub.getClientAccessToken({
            userId: grant.userId,
            groups: grant.groups,
            roles: grant.roles,
            expirationTimeInMinutes: services.config.section('webPubSub').WEBPUBSUB_TOKEN_MINUTES,
          });
          return jsonResponse({ baseUrl, token, url });
        },
      },
      'negotiate',
    ),
  }),
  httpFunction({
    name: 'me',
    route: 'me',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ principal, services }) => {
        const scope = await accessScope(services.pool, principal);
        return jsonResponse({
          subject: principal.subject,
          roles: [...principal.roles].sort(),
          technicianId: scope.kind === 'all' ? null : scope.technicianId,
          equipmentIds: scope.kind === 'all' ? null : scope.equipmentIds.map(Number),
        });
      },
    }),
  }),
];
