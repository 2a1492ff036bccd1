/**
 * The app's Web PubSub service client. In Azure it signs in with the managed identity (the
 * service has local auth disabled); locally it uses the stand-in's access key, and plain
 * http is allowed only to a loopback stand-in with a key, never with Entra tokens.
 */
import { AzureKeyCredential, WebPubSubServiceClient } from '@azure/web-pubsub';
import type { SectionConfig } from '../config.js';
import { azureCredential } from '../identity.js';
import { isLoopbackHost } from '../loopback.js';

/** What delivery needs from Web PubSub (the service client, or anything shaped like it). */
export interface WebPubSubSender {
  /** `filter`: an OData filter of the connections that get it (routing.ts `groupSendFilter`). */
  sendToGroup(group: string, message: unknown, signal: AbortSignal, filter?: string): Promise<void>;
  sendToUser(userId: string, message: unknown, signal: AbortSignal): Promise<void>;
}

export function createWebPubSubClient(config: SectionConfig<'webPubSub'>): WebPubSubServiceClient {
  const url = new URL(config.WEBPUBSUB__endpoint);
  const endpoint = url.origin;
  // Delivery has its own retry (the outbox sweep); one quick retry covers a blip.
  const options = { retryOptions: { maxRetries: 1 } };
  if (config.WEBPUBSUB_KEY) {
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      throw new Error('WEBPUBSUB__endpoint: plain http is allowed only to a loopback stand-in');
    }
    return new WebPubSubServiceClient(
      endpoint,
      new AzureKeyCredential(config.WEBPUBSUB_KEY),
      config.WEBPUBSUB_HUB,
      { ...options, allowInsecureConnection: url.protocol === 'http:' },
    );
  }
  if (url.protocol !== 'https:') {
    throw new Error('WEBPUBSUB__endpoint: expected https when signing in with Entra ID');
  }
  return new WebPubSubServiceClient(
    endpoint,
    azureCredential(config.WEBPUBSUB__clientId),
    config.WEBPUBSUB_HUB,
    options,
  );
}

/** Delivery's view of a service client: JSON messages, each call bounded by `signal`. */
export function webPubSubSender(client: WebPubSubServiceClient): WebPubSubSender {
  return {
    sendToGroup: (group, message, abortSignal, filter) =>
      client
        .group(group)
        .sendToAll(
          message as Record<string, unknown>,
          filter ? { abortSignal, filter } : { abortSignal },
        ),
    sendToUser: (userId, message, abortSignal) =>
      client.sendToUser(userId, message as Record<string, unknown>, { abortSignal }),
  };
}
