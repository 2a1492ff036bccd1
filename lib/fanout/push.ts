/**
 * Push to technicians' phones through Azure Notification Hubs. Devices register with the tag
 * `user:<token subject>` (admins' also with `role:admin`, lib/fanout/routing.ts); each alert goes natively to APNs and FCM v1 so that critical alerts
 * can ask for high priority on both (a template notification cannot set APNs headers).
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import type { NotificationHubsClient } from '@azure/notification-hubs';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import type { SectionConfig } from '../config.js';
import type { Alert } from '../telemetry/alerts.js';
import type { DeliveryReceipt } from './deliveryLog.js';

export const pushPlatforms = ['apple', 'fcmv1'] as const;
export type PushPlatform = (typeof pushPlatforms)[number];

/** Notification Hubs accepts up to 20 tags in an OR expression. */
const maxTagsPerSend = 20;

export interface PushSender {
  send(
    platform: PushPlatform,
    alert: Alert,
    /** Tags to reach (any of them): `user:<subject>`, `role:admin` (routing.ts `pushTags`). */
    tags: readonly string[],
    signal: AbortSignal,
  ): Promise<DeliveryReceipt>;
}

function title(alert: Alert): string {
  return `${alert.severity.toUpperCase()}: equipment ${alert.equipmentId} ${alert.metric}`;
}

type NotificationHubs = typeof import('@azure/notification-hubs');

function notificationFor(
  { createAppleNotification, createFcmV1Notification }: NotificationHubs,
  platform: PushPlatform,
  alert: Alert,
) {
  const critical = alert.severity === 'critical';
  const body = alert.breach.description;
  const data = {
    alertId: alert.id,
    version: String(alert.version),
    equipmentId: alert.equipmentId,
    severity: alert.severity,
  };
  if (platform === 'apple') {
    return createAppleNotification({
      body: {
        aps: {
          alert: { title: title(alert), body },
          sound: 'default',
          'interruption-level': critical ? 'time-sensitive' : 'active',
        },
        ...data,
      },
      headers: { 'apns-priority': critical ? '10' : '5', 'apns-push-type': 'alert' },
    });
  }
  // Notification Hubs takes the FCM v1 message inside a `message` envelope.
  return createFcmV1Notification({
    body: JSON.stringify({
      message: {
        notification: { title: title(alert), body },
        android: { priority: critical ? 'HIGH' : 'NORMAL' },
        data,
      },
    }),
  });
}

/** An HTTP client that trusts only `caPem` (a local stand-in's certificate). */
function pinnedHttpClient(caPem: string): HttpClient {
  const agent = new HttpsAgent({ ca: caPem, keepAlive: true });
  const inner = createDefaultHttpClient();
  return { sendRequest: (request) => inner.sendRequest(Object.assign(request, { agent })) };
}

/** The push sender, or undefined when push is not configured. */
export function createPushSender(config: SectionConfig<'push'>): PushSender | undefined {
  const connection = config.NOTIFICATION_HUBS_CONNECTION;
  if (!connection) return undefined;
  if (!config.NOTIFICATION_HUB_NAME) {
    throw new Error('NOTIFICATION_HUB_NAME: required when NOTIFICATION_HUBS_CONNECTION is set');
  }
  const caPem = config.NOTIFICATION_HUBS_CA_CERT_FILE
    ? readFileSync(config.NOTIFICATION_HUBS_CA_CERT_FILE, 'utf8')
    : undefined;
  const hubName = config.NOTIFICATION_HUB_NAME;
  // The SDK loads on the first push, so importing the app (a cold start) does not pay for it.
  let loaded: Promise<{ sdk: NotificationHubs; client: NotificationHubsClient }> | undefined;
  const load = () =>
    (loaded ??= import('@azure/notification-hubs').then((sdk) => ({
      sdk,
      client: new sdk.NotificationHubsClient(connection, hubName, {
        ...(caPem ? { httpClient: pinnedHttpClient(caPem) } : {}),
        retryOptions: { maxRetries: 1 },
      }),
    })));
  return {
    async send(platform, alert, tags, abortSignal) {
      const { sdk, client } = await load();
      const ids: string[] = [];
      for (let i = 0; i < tags.length; i += maxTagsPerSend) {
        const response = await client.sendNotification(notificationFor(sdk, platform, alert), {
          tagExpression: tags.slice(i, i + maxTagsPerSend).join(' || '),
          abortSignal,
        });
        // The notification id comes from the response's Location (Standard tier and up), the
        // tracking id always: NotificationHubsMessageResponse in
        // @azure/notification-hubs models/notificationDetails.d.ts, parsed by
        // parseNotificationSendResponse (api/internal/_client.js).
        const id = response.notificationId ?? response.trackingId;
        if (id) ids.push(id);
      }
      return {
        recipient: `${platform}: ${tags.join(' || ')}`,
        ...(ids.length ? { providerMessageId: ids.join(',') } : {}),
      };
    },
  };
}
