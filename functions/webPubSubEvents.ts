/**
 * /api/webpubsub/events: the Web PubSub event handler (upstream webhook) for the hub's user
 * event `location` (lib/api/webPubSubEvents.ts). Anonymous for the Functions host, because
 * the service signs each request with `ce-signature` instead of a function key; a request
 * without a valid signature is refused with 401 before anything is read or stored.
 */
import {
  allowedOrigin,
  handleLocationEvent,
  locationEventName,
  verifiedUserEvent,
} from '../lib/api/webPubSubEvents.js';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { problemHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';

export const webPubSubEventsFunction = httpFunction({
  name: 'webpubsub-events',
  route: 'webpubsub/events',
  methods: ['OPTIONS', 'POST'],
  handler: problemHandler(async (request, _context, services) => {
    const settings = services.config.section('webPubSub');
    if (request.method === 'OPTIONS') {
      // CloudEvents webhook abuse protection (reference-cloud-events.md, "Webhook validation").
      const origin = allowedOrigin(request, settings.WEBPUBSUB__endpoint);
      return { status: 200, headers: { 'webhook-allowed-origin': origin } };
    }
    const event = verifiedUserEvent(request, {
      hub: settings.WEBPUBSUB_HUB,
      accessKey: settings.WEBPUBSUB_KEY,
    });
    if (event.eventName !== locationEventName) {
      throw new HttpError('validation', `This handler takes only the ${locationEventName} event.`);
    }
    const result = await handleLocationEvent(
      services.pool,
      services.technicianLocations,
      event.userId,
      await readJsonBody(request),
      new Date(),
    );
    return jsonResponse(result);
  }, 'writes'),
});
