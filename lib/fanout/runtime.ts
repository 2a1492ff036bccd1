/**
 * TEMPORARY: the old accessor, for the e2e test that still uses it until it builds its own
 * services (lib/services.ts). Removed with it.
 */
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { getServices } from '../services.js';

/** The process's Web PubSub service client. */
export function getWebPubSubClient(): WebPubSubServiceClient {
  return getServices().webPubSub;
}
