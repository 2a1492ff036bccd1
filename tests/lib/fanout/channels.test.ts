/**
 * Email and SMS through the real `@azure/communication-email` and `@azure/communication-sms`
 * clients, over real sockets, to the Communication Services stand-in (dev/communication),
 * with alerts in the Cosmos server, people and preferences in MariaDB. Faults are real: the
 * stand-in resets every connection for a storm of alerts, then comes back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  startCommunicationStandIn,
  type CommunicationStandIn,
} from '../../../dev/communication/index.js';
import { assignedUserIds } from '../../../lib/fanout/audience.js';
import { createAlertChannels } from '../../../lib/fanout/channels.js';
import {
  communicationConnection,
  createEmailSender,
  createSmsSender,
} from '../../../lib/fanout/communication.js';
import { mysqlContactDirectory } from '../../../lib/fanout/contacts.js';
import { AlertDeliverer } from '../../../lib/fanout/deliverer.js';
import type { DeliveryAttempt, DeliveryLog } from '../../../lib/fanout/deliveryLog.js';
import { AlertOutbox } from '../../../lib/fanout/outbox.js';
import type { NotificationPreferences } from '../../../lib/fanout/preferences.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import type { Alert } from '../../../lib/telemetry/alerts.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { useTestDatabase } from '../../helpers/database.js';
import { Fixture, accessKey, hubName } from '../../dev/webpubsub/helpers.js';
import { readStoredAlert, temperatureAlert } from '../../helpers/alerts.js';

const database = useTestDatabase();
const cosmos = useTestCosmos();
const webPubSub = new Fixture();
let acs: CommunicationStandIn;
/** 12:00 UTC on a fixed day: what the channels take as now, for quiet hours. */
const noon = Date.UTC(2026, 10, 2, 12, 0);
let dana: number;

beforeAll(async () => {
  acs = await startCommunicationStandIn();
  await webPubSub.start({ hubs: [hubName] });
  await database.pool.query(
    `INSERT INTO equipment (id, serial_number, name, type, status, location)
     VALUES (501, 'SN-CH-501', 'Press <b>&amp; "Co"</b>', 'press', 'Operational', 'Hall 3 <script>x</script>'),
            (502, 'SN-CH-502', 'Lathe', 'lathe', 'Operational', NULL)`,
  );
  const [result] = await database.pool.query<import('mysql2/promise').ResultSetHeader>(
    `INSERT INTO technicians (external_id, name, email, phone, specialization)
     VALUES ('tech-dana', 'Dana', 'dana@example.com', '+14255550123', 'presses')`,
  );
  dana = result.insertId;
  await database.pool.query(
    `INSERT INTO technicians (name, email, specialization) VALUES ('Eli', 'eli@example.com', 'lathes')`,
  );
  await database.pool.query(
    `INSERT INTO equipment_technicians (equipment_id, technician_id)
     SELECT 501, id FROM technicians WHERE email IN ('dana@example.com', 'eli@example.com')`,
  );
});
afterEach(async () => {
  acs.outage(null);
  acs.emails.length = 0;
  acs.sms.length = 0;
  await database.pool.query('DELETE FROM technician_notification_preferences');
});
afterAll(async () => {
  await webPubSub.cleanup();
  await acs.stop();
});

function deliverer(
  options: {
    now?: () => number;
    connectionString?: string;
    log?: (line: string) => void;
    deliveryLog?: DeliveryLog;
  } = {},
) {
  const connection = communicationConnection({
    COMMUNICATION_CONNECTION: options.connectionString ?? acs.connectionString,
    SMS_SEVERITIES: ['critical'],
  });
  if (!connection) throw new Error('no connection');
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
    channels: createAlertChannels({
      directory: mysqlContactDirectory(() => database.pool),
      email: createEmailSender(connection, 'DoNotReply@sis.example'),
      sms: createSmsSender(connection, '+18005550100'),
      smsSeverities: ['critical'],
      publicUrl: 'https://sis.example',
      now: () => noon,
    }),
    audience: (ids) => assignedUserIds(database.pool, ids),
    log: options.log ?? (() => undefined),
    sendTimeoutMs: 5_000,
    ...(options.now ? { now: options.now } : {}),
    ...(options.deliveryLog ? { deliveryLog: options.deliveryLog } : {}),
  });
}

/** A delivery log that keeps the attempts in `attempts`. */
function recordInto(attempts: DeliveryAttempt[]): DeliveryLog {
  return {
    record: (recorded) => {
      attempts.push(...recorded);
      return Promise.resolve();
    },
  };
}

let windowMinute = 0;
async function raise(equipmentId: string, temperature: number, latest?: Alert): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 1, 0, 5 * windowMinute++);
  const alert = temperatureAlert(equipmentId, temperature, windowStart, latest);
  await cosmos.containers.alerts.items.upsert(alert);
  return alert;
}

const stored = (alert: Alert) => readStoredAlert(cosmos.containers.alerts, alert);

async function prefer(technicianId: number, preferences: NotificationPreferences): Promise<void> {
  await database.pool.query(
    'INSERT INTO technician_notification_preferences (technician_id, preferences) VALUES (?, ?)',
    [technicianId, JSON.stringify(preferences)],
  );
}

describe('email and SMS', () => {
  it('a critical alert reaches each assigned technician by email once and the one with a phone by SMS once', async () => {
    const alert = await raise('501', 95);
    expect(alert.severity).toBe('critical');
    expect(await deliverer().deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });
    expect(acs.emails.map((e) => e.to).sort()).toEqual([['dana@example.com'], ['eli@example.com']]);
    expect(acs.sms.map((s) => s.to)).toEqual(['+14255550123']);
    expect(acs.refused).toBe(0);

    const email = acs.emails.find((e) => e.to[0] === 'dana@example.com');
    expect(email?.senderAddress).toBe('DoNotReply@sis.example');
    expect(email?.subject).toContain('[CRITICAL] Alert raised: temperature on Press');
    expect(email?.plainText).toContain('Hall 3 <script>x</script>');
    expect(email?.plainText).toContain(alert.breach.recommendedAction);
    expect(email?.plainText).toContain(`${alert.window.start} to ${alert.window.end}`);
    expect(email?.plainText).toContain(
      `https://sis.example/api/dashboard/?alert=${encodeURIComponent(alert.id)}`,
    );
    // Everything from outside is escaped in the HTML body.
    expect(email?.html).toContain('Press &lt;b&gt;&amp;amp; &quot;Co&quot;&lt;/b&gt;');
    expect(email?.html).toContain('Hall 3 &lt;script&gt;x&lt;/script&gt;');
    expect(email?.html).not.toContain('<script>');
    expect(acs.sms[0]?.message).toMatch(/^SIS CRITICAL raised: temperature on Press/);
    expect(acs.sms[0]?.message.length).toBeLessThanOrEqual(459);

    // Recorded as arrived: neither the writer nor the sweep sends them again.
    expect((await stored(alert)).delivery?.pending).toEqual([]);
    const later = () => Date.now() + 60_000;
    expect(await deliverer({ now: later }).sweep()).toEqual({ delivered: 0, pending: 0 });
    expect(acs.emails).toHaveLength(2);
    expect(acs.sms).toHaveLength(1);
  });

  it('a medium alert is emailed but sends no SMS', async () => {
    const alert = await raise('501', 77);
    expect(alert.severity).toBe('medium');
    await deliverer().deliverWritten([alert]);
    expect(acs.emails).toHaveLength(2);
    expect(acs.sms).toEqual([]);
  });

  it('a technician’s preferences choose the channels per severity', async () => {
    await prefer(dana, {
      channels: { push: [], email: [], sms: ['medium', 'high', 'critical'] },
      quietHours: null,
    });
    await deliverer().deliverWritten([await raise('501', 77)]);
    expect(acs.emails.map((e) => e.to)).toEqual([['eli@example.com']]);
    expect(acs.sms.map((s) => s.to)).toEqual(['+14255550123']);
  });

  it('quiet hours hold non-critical alerts, not critical ones', async () => {
    // 12:00 UTC is 13:00 in Berlin (November): inside 11:00-14:00 there.
    const quietHours = { start: '11:00', end: '14:00', timeZone: 'Europe/Berlin' };
    await prefer(dana, {
      channels: { push: [], email: ['medium', 'high', 'critical'], sms: ['medium', 'critical'] },
      quietHours,
    });
    await deliverer().deliverWritten([await raise('501', 77)]);
    expect(acs.emails.map((e) => e.to)).toEqual([['eli@example.com']]);
    expect(acs.sms).toEqual([]);
    await deliverer().deliverWritten([await raise('502', 95), await raise('501', 95)]);
    expect(acs.emails.filter((e) => e.to[0] === 'dana@example.com')).toHaveLength(1);
    expect(acs.sms.map((s) => s.to)).toEqual(['+14255550123']);
  });

  it('an email outage for a storm of alerts delays each email, and after it each arrives once', async () => {
    acs.outage('down');
    const storm: Alert[] = [];
    for (let i = 0; i < 6; i++) storm.push(await raise('501', 77));
    const report = await deliverer().deliverWritten(storm);
    expect(report).toEqual({ delivered: 0, pending: 6 });
    expect(acs.emails).toEqual([]);
    for (const alert of storm)
      expect((await stored(alert)).delivery?.pending.sort()).toEqual([
        `email:${dana}`,
        `email:${dana + 1}`,
      ]);

    // A 5xx outage keeps them owed as well.
    acs.outage(503);
    const later = () => Date.now() + 60_000;
    expect((await deliverer({ now: later }).sweep()).pending).toBe(6);
    expect(acs.emails).toEqual([]);

    acs.outage(null);
    const muchLater = () => Date.now() + 3_600_000;
    expect(await deliverer({ now: muchLater }).sweep()).toEqual({ delivered: 6, pending: 0 });
    expect(await deliverer({ now: muchLater }).sweep()).toEqual({ delivered: 0, pending: 0 });
    const received = acs.emails.map(
      (e) => `${e.to[0] ?? ''} ${e.plainText?.split('\n').at(-1) ?? ''}`,
    );
    expect(received).toHaveLength(12);
    expect(new Set(received).size).toBe(12);
  });

  it('refuses a request signed with another key, and keeps the email owed', async () => {
    const wrong = acs.connectionString.replace(
      /accesskey=.*/,
      `accesskey=${Buffer.alloc(32, 7).toString('base64')}`,
    );
    const refused = acs.refused;
    const alert = await raise('502', 95);
    await database.pool.query(
      `INSERT IGNORE INTO equipment_technicians (equipment_id, technician_id) VALUES (502, ?)`,
      [dana],
    );
    try {
      expect(await deliverer({ connectionString: wrong }).deliverWritten([alert])).toEqual({
        delivered: 0,
        pending: 1,
      });
      expect(acs.refused).toBeGreaterThan(refused);
      expect(acs.emails).toEqual([]);
    } finally {
      await database.pool.query(
        'DELETE FROM equipment_technicians WHERE equipment_id = 502 AND technician_id = ?',
        [dana],
      );
    }
  });

  it('a retried email with the same operation is not sent twice', async () => {
    const connection = communicationConnection({
      COMMUNICATION_CONNECTION: acs.connectionString,
      SMS_SEVERITIES: ['critical'],
    });
    if (!connection) throw new Error('no connection');
    const sender = createEmailSender(connection, 'DoNotReply@sis.example');
    const email = {
      to: { address: 'x@example.com', displayName: 'X' },
      subject: 's',
      plainText: 't',
      html: '<p>t</p>',
    };
    const id = '0b0e5b1c-1a2b-8c3d-8e4f-5a6b7c8d9e0f';
    const first = await sender.send(email, id, AbortSignal.timeout(5_000));
    const second = await sender.send(email, id, AbortSignal.timeout(5_000));
    expect(first).toEqual({ recipient: 'x@example.com', providerMessageId: id });
    expect(second).toEqual(first);
    expect(acs.emails).toHaveLength(1);
  });

  it('an SMS the service refuses for its number is dropped with the reason, not retried', async () => {
    // The API takes phone numbers in local forms too; the service wants E.164 and answers
    // that recipient 400, which no retry changes.
    await database.pool.query("UPDATE technicians SET phone = '(425) 555-0123' WHERE id = ?", [
      dana,
    ]);
    const lines: string[] = [];
    try {
      const alert = await raise('501', 96);
      const attempts: DeliveryAttempt[] = [];
      const log = (line: string) => lines.push(line);
      const recording = deliverer({ log, deliveryLog: recordInto(attempts) });
      expect(await recording.deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });
      expect(acs.sms).toEqual([]);
      expect(acs.emails).toHaveLength(2);
      const sms = attempts.find((a) => a.target === `sms:${dana}`);
      expect(sms?.outcome).toBe('dropped');
      expect(String(sms?.error)).toContain('Invalid To phone number format');
      expect(lines.some((line) => /sms refused for good, not retried/.test(line))).toBe(true);
      // Owed to nobody any more: a later sweep sends nothing.
      expect((await stored(alert)).delivery?.pending).toEqual([]);
      const later = () => Date.now() + 60_000;
      // (Another test leaves an email owed; only this alert's attempts matter here.)
      const swept: DeliveryAttempt[] = [];
      await deliverer({ now: later, deliveryLog: recordInto(swept) }).sweep();
      expect(swept.filter((a) => a.alertId === alert.id)).toEqual([]);
      expect(acs.sms).toEqual([]);
    } finally {
      await database.pool.query("UPDATE technicians SET phone = '+14255550123' WHERE id = ?", [
        dana,
      ]);
    }
  });
});
