/**
 * The delivery log and GET /api/alerts/{id}/deliveries, through the real deliverer: alerts in
 * the Cosmos server, people in MariaDB, the Web PubSub stand-in reached by the app's own
 * service client and by real `@azure/web-pubsub-client` clients connected through
 * /api/negotiate, and the loopback Notification Hubs endpoint (which can answer 503) for the
 * real push client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../lib/api/deliverySchemas.js';
import { assignedUserIds } from '../../lib/fanout/audience.js';
import { AlertDeliverer } from '../../lib/fanout/deliverer.js';
import { CosmosDeliveryLog } from '../../lib/fanout/deliveryLog.js';
import { AlertOutbox } from '../../lib/fanout/outbox.js';
import { createPushSender } from '../../lib/fanout/push.js';
import { webPubSubSender } from '../../lib/fanout/webPubSub.js';
import { getServices } from '../../lib/services.js';
import type { Alert } from '../../lib/telemetry/alerts.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { assignTechnician } from '../helpers/audience.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { startPushStandIn, type PushStandIn } from '../helpers/notificationHubs.js';
import { expectProblem } from '../helpers/problems.js';
import { sleep, waitFor } from '../dev/webpubsub/helpers.js';
import { temperatureAlert } from '../helpers/alerts.js';

const database = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
// The stand-in the app's Web PubSub settings point at.
useAppWebPubSub();
const tokens = { admin: '', ana: '', cy: '' };
const clients: WebPubSubClient[] = [];
let push: PushStandIn;
let dir = '';
let anaTechnicianId = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sis-test-deliveries-'));
  push = await startPushStandIn({ dir });
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.ana = await issuer.token(['Technician'], 'tech-ana');
  tokens.cy = await issuer.token(['Technician'], 'tech-cy');
  anaTechnicianId = await assignTechnician(database.pool, 'tech-ana', [21]);
  await assignTechnician(database.pool, 'tech-cy', [22]);
});
afterEach(() => {
  for (const client of clients.splice(0)) client.stop();
  push.received.length = 0;
});
afterAll(async () => {
  await push.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The real deliverer on the app's own clients, with a clock of the test's. */
function deliverer(now: () => number = Date.now) {
  const services = getServices();
  return new AlertDeliverer({
    outbox: new AlertOutbox(cosmos.containers.alerts),
    webPubSub: webPubSubSender(services.webPubSub),
    push: createPushSender({
      NOTIFICATION_HUBS_CONNECTION: push.connectionString,
      NOTIFICATION_HUB_NAME: push.hubName,
      NOTIFICATION_HUBS_CA_CERT_FILE: push.caCertFile,
    }),
    deliveryLog: new CosmosDeliveryLog(cosmos.containers.deliveries),
    audience: (ids) => assignedUserIds(database.pool, ids),
    log: () => undefined,
    sendTimeoutMs: 2_000,
    now,
  });
}

let windowMinute = 0;
async function raise(equipmentId: string, temperature: number): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 2, 0, 5 * windowMinute++);
  const alert = temperatureAlert(equipmentId, temperature, windowStart);
  await cosmos.containers.alerts.items.upsert(alert);
  return alert;
}

/** A real client connected with the URL /api/negotiate hands `token`'s holder. */
async function negotiatedClient(token: string) {
  const negotiated = await call('POST', '/api/negotiate', { token });
  expect(negotiated.status, negotiated.text).toBe(200);
  const client = new WebPubSubClient((negotiated.body as { url: string }).url, {
    autoReconnect: false,
    messageRetryOptions: { maxRetries: 0 },
  });
  clients.push(client);
  const received: string[] = [];
  const record = (data: unknown) => {
    const message = data as { type: string; alert: { id: string; version: number } };
    received.push(`${message.type} ${message.alert.id} v${message.alert.version}`);
  };
  client.on('server-message', (event) => {
    record(event.message.data);
  });
  client.on('group-message', (event) => {
    record(event.message.data);
  });
  await client.start();
  return { client, received };
}

async function deliveries(alertId: string, token: string, query = '') {
  const result = await call(
    'GET',
    `/api/alerts/${encodeURIComponent(alertId)}/deliveries${query}`,
    {
      token,
    },
  );
  expect(result.status, result.text).toBe(200);
  return result.body as { items: Delivery[]; nextCursor: string | null };
}

describe('each alert version once per client', () => {
  it('reaches a technician connected through negotiate once, and admins and other watchers too', async () => {
    // Ana joins equipment.21 on connect (her assignment) and also gets alerts by user id.
    const ana = await negotiatedClient(tokens.ana);
    // An admin's dashboard (alerts, admins) that also opened machine 21's channel.
    const admin = await negotiatedClient(tokens.admin);
    await admin.client.joinGroup('equipment.21');
    // Someone else watching machine 21 only (a token the service hands out directly).
    const watcherUrl = (
      await getServices().webPubSub.getClientAccessToken({
        userId: 'wall-screen',
        groups: ['equipment.21'],
      })
    ).url;
    const watcher = new WebPubSubClient(watcherUrl, { autoReconnect: false });
    clients.push(watcher);
    const watched: unknown[] = [];
    watcher.on('group-message', (event) => watched.push(event.message.data));
    await watcher.start();

    const alert = await raise('21', 95);
    expect(await deliverer().deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });
    const expected = [`alert.raised ${alert.id} v1`];
    await waitFor(() => ana.received.length >= 1, 'the technician message');
    await waitFor(() => admin.received.length >= 1, 'the dashboard message');
    await waitFor(() => watched.length >= 1, 'the watcher message');
    // Time for a repeat to arrive, were one sent.
    await sleep(300);
    expect(ana.received).toEqual(expected);
    expect(admin.received).toEqual(expected);
    expect(watched).toHaveLength(1);
  });
});

describe('the log never changes a delivery', () => {
  it('delivers, once, when the log cannot be written', async () => {
    const logged: string[] = [];
    const services = getServices();
    // A container that does not exist: every write to it fails (404 from the server).
    const broken = new AlertDeliverer({
      outbox: new AlertOutbox(cosmos.containers.alerts),
      webPubSub: webPubSubSender(services.webPubSub),
      deliveryLog: new CosmosDeliveryLog(cosmos.database.container('no-such-container')),
      audience: (ids) => assignedUserIds(database.pool, ids),
      log: (message) => logged.push(message),
    });
    const ana = await negotiatedClient(tokens.ana);
    const alert = await raise('21', 95);
    expect(await broken.deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });
    await waitFor(() => ana.received.length >= 1, 'the technician message');
    expect(logged.some((line) => line.includes('delivery log not written'))).toBe(true);
    // Nothing is owed, so nothing is sent again.
    expect(await deliverer(() => Date.now() + 3_600_000).sweep()).toEqual({
      delivered: 0,
      pending: 0,
    });
    await sleep(300);
    expect(ana.received).toEqual([`alert.raised ${alert.id} v1`]);
  });
});

describe('GET /api/alerts/{id}/deliveries', () => {
  it('logs delivered and failed-then-retried targets, with attempts and provider ids', async () => {
    // Both platforms' first try and the push client's own quick retry.
    push.failNext(4, 503);
    const alert = await raise('21', 95);
    const start = Date.now();
    expect(await deliverer(() => start).deliverWritten([alert])).toEqual({
      delivered: 0,
      pending: 1,
    });
    const owed = await deliveries(alert.id, tokens.admin);
    const pushEntries = owed.items.filter((entry) => entry.channel === 'push');
    expect(pushEntries.map((entry) => [entry.target, entry.status, entry.attempts]).sort()).toEqual(
      [
        ['push:apple', 'pending-retry', 1],
        ['push:fcmv1', 'pending-retry', 1],
      ],
    );
    expect(pushEntries[0]?.lastError).toMatch(/503|Service Unavailable/i);

    const later = start + 60_000;
    expect(await deliverer(() => later).sweep()).toEqual({ delivered: 1, pending: 0 });
    const log = await deliveries(alert.id, tokens.admin);
    const byTarget = new Map(log.items.map((entry) => [entry.target, entry]));
    expect([...byTarget.keys()].sort()).toEqual([
      'group:alerts',
      'group:equipment.21',
      'push:apple',
      'push:fcmv1',
      'user:tech-ana',
    ]);
    expect(byTarget.get('group:equipment.21')).toMatchObject({
      channel: 'webPubSub',
      recipient: 'equipment.21',
      status: 'delivered',
      attempts: 1,
      version: 1,
      eventType: 'alert.raised',
    });
    expect(byTarget.get('user:tech-ana')).toMatchObject({
      recipient: 'tech-ana',
      status: 'delivered',
      attempts: 1,
    });
    for (const platform of ['apple', 'fcmv1']) {
      const entry = byTarget.get(`push:${platform}`);
      expect(entry).toMatchObject({
        channel: 'push',
        recipient: `${platform}: user:tech-ana`,
        status: 'delivered',
        attempts: 2,
        firstAttemptAt: new Date(start).toISOString(),
        lastAttemptAt: new Date(later).toISOString(),
      });
      expect(entry?.providerMessageId).toMatch(/\S/);
      expect(entry?.lastError).toMatch(/503|Service Unavailable/i);
    }
    // Web PubSub has no message id.
    expect(byTarget.get('group:alerts')?.providerMessageId).toBeUndefined();
  });

  it('pages newest first', async () => {
    const alert = await raise('21', 95);
    await deliverer().deliverWritten([alert]);
    const first = await deliveries(alert.id, tokens.admin, '?limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const rest = await deliveries(
      alert.id,
      tokens.admin,
      `?limit=10&cursor=${encodeURIComponent(first.nextCursor ?? '')}`,
    );
    expect(rest.nextCursor).toBeNull();
    const all = [...first.items, ...rest.items];
    expect(new Set(all.map((entry) => entry.id)).size).toBe(5);
    const keys = all.map((entry) => `${entry.firstAttemptAt} ${entry.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });

  it('shows technicians only their own entries, with addresses masked', async () => {
    const alert = await raise('21', 95);
    await deliverer().deliverWritten([alert]);
    // What the email and SMS channels record (their sends return these receipts).
    const at = new Date().toISOString();
    const common = {
      alertId: alert.id,
      equipmentId: alert.equipmentId,
      version: alert.version,
      eventType: 'alert.raised',
      outcome: 'delivered' as const,
      at,
    };
    await new CosmosDeliveryLog(cosmos.containers.deliveries).record([
      {
        ...common,
        target: `email:${anaTechnicianId}`,
        userIds: [],
        receipt: { recipient: 'tech-ana@example.com', providerMessageId: 'op-1' },
      },
      {
        ...common,
        target: `sms:${anaTechnicianId}`,
        userIds: [],
        receipt: { recipient: '+14155554567' },
      },
      { ...common, target: 'email:99999', userIds: [], receipt: { recipient: 'zed@example.com' } },
    ]);

    const mine = await deliveries(alert.id, tokens.ana);
    const byTarget = new Map(mine.items.map((entry) => [entry.target, entry]));
    expect([...byTarget.keys()].sort()).toEqual(
      [
        `email:${anaTechnicianId}`,
        'push:apple',
        'push:fcmv1',
        `sms:${anaTechnicianId}`,
        'user:tech-ana',
      ].sort(),
    );
    expect(byTarget.get(`email:${anaTechnicianId}`)).toMatchObject({
      channel: 'email',
      recipient: 't***@example.com',
      providerMessageId: 'op-1',
    });
    expect(byTarget.get(`sms:${anaTechnicianId}`)?.recipient).toBe('+*******4567');
    expect(byTarget.get('push:apple')?.recipient).toBe('apple: user:tech-ana');

    // Admins see everything, unmasked.
    const all = await deliveries(alert.id, tokens.admin);
    expect(all.items.find((entry) => entry.target === `sms:${anaTechnicianId}`)?.recipient).toBe(
      '+14155554567',
    );
    expect(all.items.find((entry) => entry.target === 'email:99999')?.recipient).toBe(
      'zed@example.com',
    );
  });

  it('answers 404 for alerts the caller may not see or that do not exist, 401 without a token', async () => {
    const alert = await raise('21', 95);
    await deliverer().deliverWritten([alert]);
    const path = `/api/alerts/${encodeURIComponent(alert.id)}/deliveries`;
    expectProblem(await call('GET', path, { token: tokens.cy }), 404);
    const missing = alert.id.replace('21', '29');
    expectProblem(
      await call('GET', `/api/alerts/${encodeURIComponent(missing)}/deliveries`, {
        token: tokens.admin,
      }),
      404,
    );
    expectProblem(await call('GET', path), 401);
    expectProblem(await call('GET', `${path}?limit=0`, { token: tokens.admin }), 400);
  });
});
