/**
 * The alert fan-out against the real services here: alerts in the Cosmos server, people in
 * MariaDB, the Web PubSub stand-in with real `@azure/web-pubsub-client` clients, and a
 * loopback Notification Hubs endpoint for the real push client. Faults are real too: the
 * stand-in is stopped mid-storm and started again on the same port; the push endpoint
 * answers 503.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assignedUserIds, pushAudienceByPreferences } from '../../../lib/fanout/audience.js';
import {
  AlertDeliverer,
  type DelivererOptions as AlertDelivererOptions,
} from '../../../lib/fanout/deliverer.js';
import { AlertOutbox } from '../../../lib/fanout/outbox.js';
import type { NotificationPreferences } from '../../../lib/fanout/preferences.js';
import { createPushSender, type PushSender } from '../../../lib/fanout/push.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import type { Alert } from '../../../lib/telemetry/alerts.js';
import { severities } from '../../../lib/telemetry/severity.js';
import { assignTechnician } from '../../helpers/audience.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { useTestDatabase } from '../../helpers/database.js';
import { startPushStandIn, type PushStandIn } from '../../helpers/notificationHubs.js';
import { Fixture, accessKey, hubName, sleep, waitFor } from '../../dev/webpubsub/helpers.js';
import { readStoredAlert, temperatureAlert } from '../../helpers/alerts.js';

const database = useTestDatabase();
const cosmos = useTestCosmos();
const webPubSub = new Fixture();
let dir: string;
let push: PushStandIn;
const logged: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sis-test-fanout-'));
  push = await startPushStandIn({ dir });
  await webPubSub.start({ hubs: [hubName] });
  await assignTechnician(database.pool, 'tech-ana', [101, 103]);
  await assignTechnician(database.pool, 'tech-ben', [101], { active: false });
  await assignTechnician(database.pool, 'tech-cy', [102]);
});
afterEach(() => {
  push.received.length = 0;
  logged.length = 0;
});
afterAll(async () => {
  await webPubSub.cleanup();
  await push.stop();
  rmSync(dir, { recursive: true, force: true });
});

function deliverer(
  options: {
    now?: () => number;
    push?: PushSender | undefined;
    pushAudience?: AlertDelivererOptions['pushAudience'];
  } = {},
) {
  const client = createWebPubSubClient({
    WEBPUBSUB__endpoint: webPubSub.standIn.endpoint,
    WEBPUBSUB_KEY: accessKey,
    WEBPUBSUB_HUB: hubName,
    WEBPUBSUB_TOKEN_MINUTES: 10,
    EQUIPMENT_STATUS_INTERVAL_SECONDS: 0,
  });
  return new AlertDeliverer({
    outbox: new AlertOutbox(cosmos.containers.alerts),
    webPubSub: webPubSubSender(client),
    push: 'push' in options ? options.push : undefined,
    audience: (ids) => assignedUserIds(database.pool, ids),
    pushAudience: options.pushAudience,
    log: (message) => logged.push(message),
    sendTimeoutMs: 2_000,
    ...(options.now ? { now: options.now } : {}),
  });
}

function pushSender(connectionString = push.connectionString) {
  return createPushSender({
    NOTIFICATION_HUBS_CONNECTION: connectionString,
    NOTIFICATION_HUB_NAME: push.hubName,
    NOTIFICATION_HUBS_CA_CERT_FILE: push.caCertFile,
  });
}

let windowMinute = 0;
/** A stored alert raised by one anomalous window (temperature mean as given). */
async function raise(equipmentId: string, temperature: number, latest?: Alert): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 1, 0, 5 * windowMinute++);
  const alert = temperatureAlert(equipmentId, temperature, windowStart, latest);
  await cosmos.containers.alerts.items.upsert(alert);
  return alert;
}

const stored = (alert: Alert) => readStoredAlert(cosmos.containers.alerts, alert);

const idsOf = (messages: { data: unknown }[]) =>
  messages.map((m) => {
    const data = m.data as { type: string; alert: { id: string; version: number } };
    return `${data.type} ${data.alert.id} v${data.alert.version}`;
  });

describe('who receives an alert', () => {
  it('reaches the alerts group, the equipment group and each active assigned technician, once', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-ada', groups: ['alerts'] });
    const watcher = await webPubSub.connect({ userId: 'w', groups: ['equipment.101'] });
    const otherMachine = await webPubSub.connect({ userId: 'w2', groups: ['equipment.102'] });
    const ana = await webPubSub.connect({ userId: 'tech-ana' });
    const ben = await webPubSub.connect({ userId: 'tech-ben' });
    const cy = await webPubSub.connect({ userId: 'tech-cy' });

    const alert = await raise('101', 95);
    expect(await deliverer().deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });

    const expected = [`alert.raised ${alert.id} v1`];
    await waitFor(() => dashboard.groupMessages.length === 1, 'the dashboard message');
    await waitFor(() => watcher.groupMessages.length === 1, 'the watcher message');
    await waitFor(() => ana.serverMessages.length === 1, 'the technician message');
    await sleep(200);
    expect(idsOf(dashboard.groupMessages)).toEqual(expected);
    expect(idsOf(watcher.groupMessages)).toEqual(expected);
    expect(idsOf(ana.serverMessages)).toEqual(expected);
    // Not assigned, inactive, or watching another machine: nothing.
    expect(otherMachine.groupMessages).toEqual([]);
    expect(ben.serverMessages).toEqual([]);
    expect(cy.serverMessages).toEqual([]);
    // The message is the alert as the API shows it, without the outbox.
    const data = dashboard.groupMessages[0]?.data as { alert: Record<string, unknown> };
    expect(data.alert).toMatchObject({ id: alert.id, equipmentId: '101', severity: 'critical' });
    expect(data.alert).not.toHaveProperty('delivery');
    // Recorded as delivered.
    const after = await stored(alert);
    expect(after.delivery?.pending).toEqual([]);
    expect(after.deliveryPending).toBeUndefined();
    // Nothing is owed, so the sweep sends nothing, even much later.
    const later = deliverer({ now: () => Date.now() + 3_600_000 });
    expect(await later.sweep()).toEqual({ delivered: 0, pending: 0 });
    await sleep(200);
    expect(dashboard.groupMessages).toHaveLength(1);
  });

  it('tells clients about an escalation as a new version of the same alert', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-ada', groups: ['alerts'] });
    const first = await raise('103', 81); // medium
    await deliverer().deliverWritten([first]);
    const escalated = await raise('103', 95, await stored(first)); // critical
    expect(escalated.id).toBe(first.id);
    await deliverer().deliverWritten([escalated]);
    await waitFor(() => dashboard.groupMessages.length === 2, 'two messages');
    expect(idsOf(dashboard.groupMessages)).toEqual([
      `alert.raised ${first.id} v1`,
      `alert.escalated ${first.id} v2`,
    ]);
  });
});

describe('outages', () => {
  it('delivers every alert of a storm exactly once after Web PubSub comes back', async () => {
    const port = webPubSub.standIn.port;
    await webPubSub.standIn.stop();
    const storm: Alert[] = [];
    for (let i = 0; i < 8; i++) storm.push(await raise(String(200 + i), 95));
    const report = await deliverer().deliverWritten(storm);
    expect(report).toEqual({ delivered: 0, pending: 8 });
    for (const alert of storm) {
      const owed = await stored(alert);
      expect(owed.deliveryPending).toBe(true);
      expect(owed.delivery?.attempts).toBe(1);
      expect(owed.delivery?.pending).toEqual([
        'group:equipment.' + alert.equipmentId,
        'group:alerts',
      ]);
    }
    // Before the backoff has passed, the sweep leaves them.
    expect(await deliverer().sweep()).toEqual({ delivered: 0, pending: 0 });

    await webPubSub.start({ hubs: [hubName], port });
    const dashboard = await webPubSub.connect({ userId: 'admin-ada', groups: ['alerts'] });
    const later = () => Date.now() + 60_000;
    // Two sweepers at once (two instances): the claims keep each delivery to one of them.
    const reports = await Promise.all([
      deliverer({ now: later }).sweep(),
      deliverer({ now: later }).sweep(),
    ]);
    expect(reports.reduce((sum, r) => sum + r.delivered, 0)).toBe(8);
    await waitFor(() => dashboard.groupMessages.length >= 8, 'eight alerts');
    await sleep(300);
    expect(idsOf(dashboard.groupMessages).sort()).toEqual(
      storm.map((a) => `alert.raised ${a.id} v1`).sort(),
    );
    expect(await deliverer({ now: later }).sweep()).toEqual({ delivered: 0, pending: 0 });
  });

  it('leaves a fresh alert to its writer, and delivers it once that writer has clearly failed', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-ada', groups: ['alerts'] });
    const alert = await raise('300', 95); // stored, never delivered (the writer "crashed")
    expect(await deliverer().sweep()).toEqual({ delivered: 0, pending: 0 });
    const report = await deliverer({ now: () => Date.now() + 60_000 }).sweep();
    expect(report).toEqual({ delivered: 1, pending: 0 });
    await waitFor(() => dashboard.groupMessages.length === 1, 'the alert');
    expect(idsOf(dashboard.groupMessages)).toEqual([`alert.raised ${alert.id} v1`]);
  });
});

describe('push', () => {
  it('sends raised alerts to the assigned technicians on both platforms, critical ones at high priority', async () => {
    const alert = await raise('101', 95);
    await deliverer({ push: pushSender() }).deliverWritten([alert]);
    expect(push.received.map((p) => p.platform).sort()).toEqual(['apple', 'fcmv1']);
    for (const sent of push.received) {
      expect(sent.hub).toBe(push.hubName);
      expect(sent.tags).toBe('user:tech-ana');
    }
    const apple = push.received.find((p) => p.platform === 'apple');
    expect(apple?.headers['apns-priority']).toBe('10');
    expect(JSON.parse(apple?.body ?? '{}')).toMatchObject({ alertId: alert.id, version: '1' });
    const fcm = push.received.find((p) => p.platform === 'fcmv1');
    expect(JSON.parse(fcm?.body ?? '{}')).toMatchObject({
      message: { android: { priority: 'HIGH' }, data: { alertId: alert.id } },
    });
  });

  it('does not push plain updates, nor alerts of machines nobody is assigned to', async () => {
    const sender = pushSender();
    const first = await raise('101', 81);
    await deliverer({ push: sender }).deliverWritten([first]);
    push.received.length = 0;
    const update = await raise('101', 81, await stored(first)); // same severity: an update
    await deliverer({ push: sender }).deliverWritten([update]);
    const nobody = await raise('999', 95);
    await deliverer({ push: sender }).deliverWritten([nobody]);
    expect(push.received).toEqual([]);
  });

  it('retries a push the service refused with 5xx until it is accepted, once', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-ada', groups: ['alerts'] });
    // Both platforms' first try and the client's own quick retry.
    push.failNext(4, 503);
    const alert = await raise('101', 95);
    expect(await deliverer({ push: pushSender() }).deliverWritten([alert])).toEqual({
      delivered: 0,
      pending: 1,
    });
    expect(push.received).toEqual([]);
    expect((await stored(alert)).delivery?.pending.sort()).toEqual(['push:apple', 'push:fcmv1']);
    const report = await deliverer({ push: pushSender(), now: () => Date.now() + 60_000 }).sweep();
    expect(report).toEqual({ delivered: 1, pending: 0 });
    expect(push.received.map((p) => p.platform).sort()).toEqual(['apple', 'fcmv1']);
    // Web PubSub had it the first time and did not get it again.
    await sleep(300);
    expect(idsOf(dashboard.groupMessages)).toEqual([`alert.raised ${alert.id} v1`]);
  });

  it('keeps a push owed when the signature is refused', async () => {
    const wrongKey = push.connectionString.replace(
      /SharedAccessKey=[^;]+/,
      'SharedAccessKey=wrong',
    );
    const refusedBefore = push.refused;
    const alert = await raise('101', 95);
    const report = await deliverer({ push: pushSender(wrongKey) }).deliverWritten([alert]);
    expect(report).toEqual({ delivered: 0, pending: 1 });
    expect(push.refused).toBeGreaterThan(refusedBefore);
    expect(push.received).toEqual([]);
  });
});

describe('push preferences', () => {
  /** 12:00 UTC (13:00 in Berlin): what the push audience takes as now, for quiet hours. */
  const noon = Date.UTC(2026, 10, 2, 12, 0);
  let pia: number;
  let quin: number;

  beforeAll(async () => {
    pia = await assignTechnician(database.pool, 'tech-pia', [104]);
    quin = await assignTechnician(database.pool, 'tech-quin', [104]);
  });
  afterEach(async () => {
    await database.pool.query('DELETE FROM technician_notification_preferences');
  });

  async function prefer(
    technicianId: number,
    push: NotificationPreferences['channels']['push'],
    quietHours: NotificationPreferences['quietHours'] = null,
  ): Promise<void> {
    const preferences: NotificationPreferences = {
      channels: { push, email: [...severities], sms: ['critical'] },
      quietHours,
    };
    await database.pool.query(
      'INSERT INTO technician_notification_preferences (technician_id, preferences) VALUES (?, ?)',
      [technicianId, JSON.stringify(preferences)],
    );
  }

  const byPreference = () =>
    deliverer({
      push: pushSender(),
      pushAudience: pushAudienceByPreferences(
        () => database.pool,
        () => noon,
      ),
    });
  const tagsPushed = () => [...new Set(push.received.map((p) => p.tags))];

  it('pushes only the severities a technician chose, others by the defaults; Web PubSub still reaches everyone', async () => {
    await prefer(pia, ['critical']);
    const piaClient = await webPubSub.connect({ userId: 'tech-pia' });
    const high = await raise('104', 81);
    expect(high.severity).not.toBe('critical');
    expect(await byPreference().deliverWritten([high])).toEqual({ delivered: 1, pending: 0 });
    expect(push.received.map((p) => p.platform).sort()).toEqual(['apple', 'fcmv1']);
    expect(tagsPushed()).toEqual(['user:tech-quin']);
    await waitFor(() => piaClient.serverMessages.length === 1, "Pia's dashboard message");

    push.received.length = 0;
    const critical = await raise('104', 95);
    expect(critical.severity).toBe('critical');
    await byPreference().deliverWritten([critical]);
    expect(tagsPushed()).toEqual(['user:tech-pia || user:tech-quin']);
  });

  it('holds non-critical pushes in quiet hours (their own time zone), not critical ones', async () => {
    // Pia: quiet now (11:00-13:00 UTC); Quin: overnight in Berlin, so not now.
    await prefer(pia, [...severities], { start: '11:00', end: '13:00', timeZone: 'UTC' });
    await prefer(quin, [...severities], {
      start: '22:00',
      end: '06:00',
      timeZone: 'Europe/Berlin',
    });
    await byPreference().deliverWritten([await raise('104', 81)]);
    expect(tagsPushed()).toEqual(['user:tech-quin']);

    // Quin quiet too (13:00-14:00 in Berlin is now): nobody's phone rings, nothing stays owed.
    await database.pool.query(
      'DELETE FROM technician_notification_preferences WHERE technician_id = ?',
      [quin],
    );
    await prefer(quin, [...severities], {
      start: '13:00',
      end: '14:00',
      timeZone: 'Europe/Berlin',
    });
    push.received.length = 0;
    const held = await raise('104', 81);
    expect(await byPreference().deliverWritten([held])).toEqual({ delivered: 1, pending: 0 });
    expect(push.received).toEqual([]);
    expect((await stored(held)).delivery?.pending).toEqual([]);

    // A critical alert goes through quiet hours.
    await byPreference().deliverWritten([await raise('104', 95)]);
    expect(tagsPushed()).toEqual(['user:tech-pia || user:tech-quin']);
  });
});
