/** /api/technicians/{id}/notification-preferences: what a technician receives, per channel. */
import {
  getNotificationPreferences,
  putNotificationPreferences,
} from '../lib/api/notificationPreferences.js';
import { notificationPreferencesInputSchema } from '../lib/fanout/preferences.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const notificationPreferencesFunction = httpFunction({
  name: 'technician-notification-preferences',
  route: 'technicians/{id}/notification-preferences',
  methods: ['GET', 'PUT'],
  handler: protectedHandler({
    GET: async ({ request, db, principal, services }) => {
      const { SMS_SEVERITIES } = services.config.section('communication');
      return jsonResponse(
        await getNotificationPreferences(db, principal, routeId(request.params), SMS_SEVERITIES),
      );
    },
    PUT: async ({ request, db: pool, principal, services }) => {
      const technicianId = routeId(request.params);
      const input = parseOrThrow(
        notificationPreferencesInputSchema,
        await readJsonBody(request),
        'body',
      );
      const { SMS_SEVERITIES } = services.config.section('communication');
      return jsonResponse(
        await putNotificationPreferences(pool, principal, technicianId, input, SMS_SEVERITIES),
      );
    },
  }),
});
