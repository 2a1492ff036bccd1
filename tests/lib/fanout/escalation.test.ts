/**
 * Escalation and reminders through the real delivery sweep: alerts in the Cosmos server,
 * technicians in MariaDB, the Web PubSub stand-in with real `@azure/web-pubsub-client`
 * clients and the loopback Notification Hubs endpoint. The policy is shortened by its
 * setting (minutes), and the test drives the sweep's `now`: nothing depends on wall-clock time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changeAlertStatus } from '../../../lib/api/alerts.js';
import { loadSection } from '../../../lib/config.js';
import { assignedUserIds } from '../../../lib/fanout/audience.js';
import { AlertDeliverer } from '../../../lib/fanout/deliverer.js';
import { AlertEscalator } from '../../../lib/fanout/escalator.js';
import { AlertOutbox } from '../../../lib/fanout/outbox.js';
import { createPushSender } from '../../../lib/fanout/push.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import type { Alert } from '../../../lib/telemetry/alerts.js';
import { assignTechnician } from '../../helpers/audience.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { useTestDatabase } from '../../helpers/database.js';
import { startPushStandIn, type PushStandIn } from '../../helpers/notificationHubs.js';
import { Fixture, accessKey, hubName, waitFor } from '../../dev/webpubsub/helpers.js';
import { readStoredAlert, temperatureAlert } from '../../helpers/alerts.js';

const database = useTestDatabase();
const cosmos = useTestCosmos();
const webPubSub = new Fixture();
let dir: string;
let push: PushStandIn;

/** The policy as the setting gives it: technicians again after 1 minute, admins after 2. */
const policy = loadSection('escalation', {
  ALERT_ESCALATION_POLICY: JSON.stringify({
    critical: {
      steps: [
        { afterMinutes: 1, notify: 'technicians' },
        { afterMinutes: 2, notify: 'admins' },
      ],
      remindEveryMinutes: 5,
    },
  }),
}).ALERT_ESCALATION_POLICY;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sis-test-escalation-'));
  push = await startPushStandIn({ dir });
  await webPubSub.start({ hubs: [hubName] });
  await assignTechnician(database.pool, 'tech-dee', [301, 302, 303, 304, 305, 306, 307, 308]);
});
afterEach(() => {
  push.received.length = 0;
});
afterAll(async () => {
  await webPubSub.cleanup();
  await push.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A sweeper of its own (as another instance would have), at the instant `now` says. */
function sweeper(now: () => number) {
  const client = createWebPubSubClient({
    WEBPUBSUB__endpoint: webPubSub.standIn.endpoint,
    WEBPUBSUB_KEY: accessKey,
    WEBPUBSUB_HUB: hubName,
    WEBPUBSUB_TOKEN_MINUTES: 10,
    EQUIPMENT_STATUS_INTERVAL_SECONDS: 0,
  });
  const outbox = new AlertOutbox(cosmos.containers.alerts);
  return new AlertDeliverer({
    outbox,
    escalator: new AlertEscalator(outbox, policy),
    webPubSub: webPubSubSender(client),
    push: createPushSender({
      NOTIFICATION_HUBS_CONNECTION: push.connectionString,
      NOTIFICATION_HUB_NAME: push.hubName,
      NOTIFICATION_HUBS_CA_CERT_FILE: push.caCertFile,
    }),
    audience: (ids) => assignedUserIds(database.pool, ids),
    log: () => undefined,
    sendTimeoutMs: 2_000,
    now,
  });
}

const minuteMs = 60_000;

/** Sweeps once at `raisedAt + minutes`. */
async function sweepAt(alert: Alert, minutes: number) {
  return sweeper(() => Date.parse(alert.raisedAt) + minutes * minuteMs).sweep();
}

let windowSlot = 0;
/** A stored, delivered alert of `equipmentId` (temperature 95: critical; 77: medium). */
async function raise(equipmentId: string, temperature = 95, inMaintenance = false): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 2, 8, 5 * windowSlot++);
  const alert = temperatureAlert(equipmentId, temperature, windowStart, undefined, inMaintenance);
  await cosmos.containers.alerts.items.create(alert);
  await sweeper(() => Date.parse(alert.raisedAt)).deliverWritten([alert]);
  return alert;
}

const stored = (alert: Alert) => readStoredAlert(cosmos.containers.alerts, alert);

/** `type id vN` of each alert message received, for the one alert. */
const messagesOf = (messages: { data: unknown }[], alert: Alert) =>
  messages.flatMap((m) => {
    const data = m.data as { type: string; alert: { id: string; version: number } };
    return data.alert.id === alert.id ? [`${data.type} v${data.alert.version}`] : [];
  });

const escalationEntries = (alert: Alert) =>
  (alert.timeline ?? [])
    .filter((e) => e.action === 'escalation-step' || e.action === 'reminded')
    .map((e) => [e.action, e.at, e.to]);

const at = (alert: Alert, minutes: number) =>
  new Date(Date.parse(alert.raisedAt) + minutes * minuteMs).toISOString();

describe('escalation from the delivery sweep', () => {
  it('re-sends an unacknowledged critical alert, then reaches the admins, on schedule', async () => {
    const tech = await webPubSub.connect({ userId: 'tech-dee' });
    const admins = await webPubSub.connect({ userId: 'admin-ada', groups: ['admins'] });
    const alert = await raise('301');
    const muted = await raise('302', 95, true);
    const medium = await raise('303', 77);
    await waitFor(() => tech.serverMessages.length >= 2, 'the raised alerts');
    push.received.length = 0;

    await sweepAt(alert, 0.9);
    expect((await stored(alert)).version).toBe(1);

    await sweepAt(alert, 1);
    await waitFor(() => messagesOf(tech.serverMessages, alert).length === 2, 'the re-send');
    const firstStep = await stored(alert);
    expect(firstStep.version).toBe(2);
    // Pushed again to the technician only.
    expect(push.received.map((p) => p.tags)).toEqual(['user:tech-dee', 'user:tech-dee']);
    push.received.length = 0;

    await sweepAt(alert, 1.5);
    expect((await stored(alert)).version).toBe(2);

    await sweepAt(alert, 2);
    await waitFor(() => messagesOf(admins.groupMessages, alert).length === 1, 'the admins');
    await waitFor(() => messagesOf(tech.serverMessages, alert).length === 3, 'the technician');
    // The admins' group got the step that named them, and not the one before.
    expect(messagesOf(admins.groupMessages, alert)).toEqual(['alert.escalated v3']);
    expect(messagesOf(tech.serverMessages, alert)).toEqual([
      'alert.raised v1',
      'alert.escalated v2',
      'alert.escalated v3',
    ]);
    expect(push.received.map((p) => p.tags)).toEqual([
      'user:tech-dee || role:admin',
      'user:tech-dee || role:admin',
    ]);

    // Every step is in the timeline, dated by the sweep that took it; then nothing more.
    await sweepAt(alert, 600);
    const done = await stored(alert);
    expect(done.version).toBe(3);
    expect(escalationEntries(done)).toEqual([
      ['escalation-step', at(alert, 1), 'technicians'],
      ['escalation-step', at(alert, 2), 'admins'],
    ]);
    expect(done.escalation).toMatchObject({ step: 2, notify: 'admins', checkedVersion: 3 });
    expect(done.escalation?.nextAt).toBeUndefined();
    // Suppressed (maintenance) and medium alerts are never escalated.
    expect((await stored(muted)).version).toBe(1);
    expect((await stored(medium)).version).toBe(1);
    expect(messagesOf(admins.groupMessages, muted)).toEqual([]);
    expect(messagesOf(tech.serverMessages, medium)).toEqual(['alert.raised v1']);
  });

  it('stops once acknowledged, and reminds the acknowledged alert', async () => {
    const tech = await webPubSub.connect({ userId: 'tech-dee' });
    const admins = await webPubSub.connect({ userId: 'admin-ada', groups: ['admins'] });
    const alert = await raise('304');
    await sweepAt(alert, 1);
    await waitFor(() => messagesOf(tech.serverMessages, alert).length === 2, 'the re-send');

    const acknowledgedAt = new Date(Date.parse(alert.raisedAt) + 1.5 * minuteMs);
    const change = await changeAlertStatus(
      cosmos.database,
      alert.id,
      'acknowledged',
      'tech-dee',
      undefined,
      acknowledgedAt,
    );
    expect(change.alert.status).toBe('acknowledged');
    await sweeper(() => acknowledgedAt.getTime()).deliverWritten([change.alert]);

    // The admins' step is never taken; the sweep only notes when the reminder is due.
    for (const minutes of [2, 3, 6]) await sweepAt(alert, minutes);
    const quiet = await stored(alert);
    expect(quiet.version).toBe(3);
    expect(quiet.escalation?.nextAt).toBe(at(alert, 6.5));

    await sweepAt(alert, 6.5);
    await waitFor(() => messagesOf(tech.serverMessages, alert).length === 4, 'the reminder');
    const reminded = await stored(alert);
    expect(reminded).toMatchObject({ version: 4, status: 'acknowledged' });
    expect(messagesOf(tech.serverMessages, alert)).toEqual([
      'alert.raised v1',
      'alert.escalated v2',
      'alert.updated v3',
      'alert.escalated v4',
    ]);
    expect(escalationEntries(reminded)).toEqual([
      ['escalation-step', at(alert, 1), 'technicians'],
      ['reminded', at(alert, 6.5), '1'],
    ]);
    expect(messagesOf(admins.groupMessages, alert)).toEqual([]);

    // Resolved: nothing more, however late.
    await changeAlertStatus(cosmos.database, alert.id, 'resolved', 'tech-dee', undefined);
    await sweepAt(alert, 600);
    expect((await stored(alert)).version).toBe(5);
  });

  it('never takes one step twice, even with sweeps running at once', async () => {
    const tech = await webPubSub.connect({ userId: 'tech-dee' });
    const alerts = [await raise('305'), await raise('306'), await raise('307'), await raise('308')];
    await waitFor(() => tech.serverMessages.length >= 4, 'the raised alerts');
    // Four instances sweep at the same instant, each with its own clients.
    const now = Math.max(...alerts.map((a) => Date.parse(a.raisedAt))) + 1.2 * minuteMs;
    const sweeps = await Promise.all([1, 2, 3, 4].map(() => sweeper(() => now).sweep()));
    expect(sweeps.reduce((sum, report) => sum + report.delivered, 0)).toBe(alerts.length);
    for (const alert of alerts) {
      await waitFor(() => messagesOf(tech.serverMessages, alert).length >= 2, 'the re-send');
      const after = await stored(alert);
      expect(after.version).toBe(2);
      expect(escalationEntries(after)).toHaveLength(1);
    }
    // And again, once more each: still no repeat.
    await Promise.all([1, 2].map(() => sweeper(() => now).sweep()));
    for (const alert of alerts) {
      expect((await stored(alert)).version).toBe(2);
      expect(messagesOf(tech.serverMessages, alert)).toEqual([
        'alert.raised v1',
        'alert.escalated v2',
      ]);
    }
  });
});
