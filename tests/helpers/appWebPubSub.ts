/**
 * The Web PubSub stand-in on a free loopback port, with the app's settings
 * (tests/helpers/appServices.ts) pointed at it, so the fan-out and /api/negotiate reach it
 * through their own service client.
 */
import { afterAll, beforeAll } from 'vitest';
import { startWebPubSubStandIn, type WebPubSubStandIn } from '../../dev/webpubsub/index.js';
import { useAppSettings } from './appServices.js';

export interface AppWebPubSub {
  standIn: WebPubSubStandIn;
  accessKey: string;
  hub: string;
}

export function useAppWebPubSub(): AppWebPubSub {
  const handle = { accessKey: 'test-web-pubsub-access-key', hub: 'sis' } as AppWebPubSub;
  beforeAll(async () => {
    handle.standIn = await startWebPubSubStandIn({
      port: 0,
      hubs: [handle.hub],
      accessKey: handle.accessKey,
    });
  });
  useAppSettings(() => ({
    WEBPUBSUB__endpoint: handle.standIn.endpoint,
    WEBPUBSUB_KEY: handle.accessKey,
    WEBPUBSUB_HUB: handle.hub,
  }));
  afterAll(async () => {
    await handle.standIn.stop();
  });
  return handle;
}
