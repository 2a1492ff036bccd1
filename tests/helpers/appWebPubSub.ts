/**
 * The Web PubSub stand-in on a free loopback port, with the app's settings
 * (tests/helpers/appServices.ts) pointed at it, so the fan-out and /api/negotiate reach it
 * through their own service client.
 */
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { afterAll, beforeAll } from 'vitest';
import {
  startWebPubSubStandIn,
  type EventHandlerSettings,
  type UpstreamTokenSource,
  type WebPubSubStandIn,
} from '../../dev/webpubsub/index.js';
import { openRaw } from '../dev/webpubsub/helpers.js';
import { useAppSettings } from './appServices.js';

export interface AppWebPubSub {
  standIn: WebPubSubStandIn;
  accessKey: string;
  hub: string;
}

/**
 * `eventHandler`, asked for when the stand-in starts: where the hub's user events go;
 * `upstreamTokens`: the tokens of the service's identity, for a handler with `auth`.
 */
export function useAppWebPubSub(
  options: { eventHandler?: () => EventHandlerSettings; upstreamTokens?: UpstreamTokenSource } = {},
): AppWebPubSub {
  const handle = { accessKey: 'test-web-pubsub-access-key', hub: 'sis' } as AppWebPubSub;
  beforeAll(async () => {
    handle.standIn = await startWebPubSubStandIn({
      port: 0,
      hubs: [handle.hub],
      accessKey: handle.accessKey,
      ...(options.eventHandler ? { eventHandlers: { [handle.hub]: options.eventHandler() } } : {}),
      ...(options.upstreamTokens ? { upstreamTokens: options.upstreamTokens } : {}),
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

/**
 * A dashboard listening to every alert (group `alerts`) on the app's stand-in, through a real
 * client token: `messages()` are the alert messages received so far, oldest first.
 */
export async function openAlertsFeed(webPubSub: AppWebPubSub): Promise<{
  messages: () => Record<string, unknown>[];
  close: () => void;
}> {
  const service = new WebPubSubServiceClient(webPubSub.standIn.connectionString, webPubSub.hub, {
    allowInsecureConnection: true,
  });
  const { url } = await service.getClientAccessToken({ groups: ['alerts'] });
  const dashboard = await openRaw(url, 'json.webpubsub.azure.v1');
  await dashboard.next((f) => f?.type === 'system' && f.event === 'connected', 'connected');
  return {
    messages: () =>
      dashboard
        .messages()
        .map((m) => m.data)
        .filter((data) => String(data['type']).startsWith('alert.')),
    close: () => {
      dashboard.socket.terminate();
    },
  };
}
