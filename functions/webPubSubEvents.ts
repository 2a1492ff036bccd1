/**
 * /api/webpubsub/events: the Web PubSub event handler (upstream webhook) for the hub's user
 * event `location` (lib/api/webPubSubEvents.ts). Anonymous for the Functions host, because
 * the service proves itself with `ce-signature` (access key, locally) or a managed-identity
 * token (Azure) instead of a function key; a request without a valid proof is refused with
 * 401 before anything is read or stored.
 */
import {
  allowedOrigin,
  handleLocationEvent,
  locationEventName,
  verifiedUserEvent,
} from '../lib/api/webPubSubEvents.js';
import { ConfigError, type SectionConfig } from '../lib/config.js';
import { HttpError } from '../lib/errors.js';
import { httpFunction } from '../lib/host/declarations.js';
import { signedWebhookHandler } from '../lib/http/handler.js';
import { clientAddress } from '../lib/http/rateLimits.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import type { Services } from '../lib/services.js';

/** The Web PubSub settings; without them there is no service to take events from (503). */
function webPubSubSettings(services: Services): SectionConfig<'webPubSub'> {
  try {
    return services.config.section('webPubSub');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new HttpError('service-unavailable', 'Web PubSub is not configured here.');
  }
}

export const webPubSubEventsFunction = httpFunction({
  name: 'webpubsub-events',
  route: 'webpubsub/events',
  methods: ['OPTIONS', 'POST'],
  handler: signedWebhookHandler(async (request, _context, services, limit) => {
    const settings = webPubSubSettings(services);
    const byAddress = { address: clientAddress(request) };
    if (request.method === 'OPTIONS') {
      await limit('reads', byAddress);
      // CloudEvents webhook abuse protection (reference-cloud-events.md, "Webhook validation").
      const origin = allowedOrigin(request, settings.WEBPUBSUB__endpoint);
      return { status: 200, headers: { 'webhook-allowed-origin': origin } };
    }
    let event;
    try {
      event = await verifiedUserEvent(request, {
        hub: settings.WEBPUBSUB_HUB,
        accessKey: settings.WEBPUBSUB_KEY,
        verifyCaller: services.verifyWebPubSubCaller,
      });
    } catch (error) {
      // Refusals count against the sender's address, so forging is rate limited too.
      await limit('writes', byAddress);
      throw error;
    }
    // From the service: counted per technician (all events come from the service's few addresses).
    await limit('writes', event.userId ? { subject: event.userId, admin: false } : byAddress);
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
  }),
});
