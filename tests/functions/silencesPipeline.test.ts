/**
 * A machine under a silence, end to end: the silence is created through the API (real
 * MariaDB), readings go through the Event Hub handler (local Cosmos server), and a dashboard
 * listens on the app's Web PubSub stand-in, so the real delivery path decides who is told.
 * The alert raised under the silence notifies nobody and names the silence; the first window
 * after the silence ends delivers it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { alertSlotType } from '../../lib/telemetry/cosmosStore.js';
import { waitFor } from '../dev/webpubsub/helpers.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { renewAppServices } from '../helpers/appServices.js';
import { openAlertsFeed, useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  deliver,
  documents,
  expectCosmosUnchanged,
  insertEquipment,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
const webPubSub = useAppWebPubSub();

const day = '2026-08-02';
const t = (hhmmss: string) => `${day}T${hhmmss}Z`;

beforeAll(async () => {
  await insertEquipment(db.pool, 270);
  await insertEquipment(db.pool, 271);
});

const alertsOf = async (equipmentId: string) =>
  (await documents(cosmos, 'alerts')).filter(
    (a) => a['equipmentId'] === equipmentId && a['type'] !== alertSlotType,
  );
const alertsOf270 = () => alertsOf('270');

describe('pipeline: equipment under a silence', () => {
  it('stores its alert muted by the silence, notifies nobody, and delivers once it ends', async () => {
    const admin = await issuer.token(['Admin'], 'admin-quiet');
    // Held: windows ending from 12:00 until (not including) 12:10, temperature only.
    const silence = await call('POST', '/api/silences', {
      token: admin,
      json: {
        equipmentId: 270,
        metric: 'temperature',
        startsAt: t('12:00:00'),
        endsAt: t('12:10:00'),
        reason: 'Thermocouple replaced',
      },
    });
    expect(silence.status, silence.text).toBe(201);
    const silenceId = silence.body.id as number;

    // A dashboard listening to every alert, on the app's Web PubSub stand-in.
    const dashboard = await openAlertsFeed(webPubSub);
    const alertMessages = dashboard.messages;
    try {
      const feed = new PartitionFeed('14');
      const hot = feed.batch([
        [JSON.stringify(reading('270', t('12:00:10'), { temperature: 95 })), t('12:00:11')],
        // Closes the 12:00 window (ends 12:05, inside the silence) and stays hot.
        [JSON.stringify(reading('270', t('12:06:00'), { temperature: 95 })), t('12:06:01')],
      ]);
      await deliver(hot);
      const [muted, ...others] = await alertsOf270();
      expect(others).toEqual([]);
      expect(muted).toMatchObject({
        id: `270:temperature:${t('12:00:00.000')}`,
        version: 1,
        status: 'open',
        suppressed: { reason: 'silence', silenceId },
        delivery: {
          version: 1,
          type: 'alert.raised',
          pending: [],
          withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
        },
      });
      expect(muted).not.toHaveProperty('deliveryPending');
      expect(muted?.['timeline']).toEqual([
        expect.objectContaining({ action: 'raised', by: 'pipeline', at: t('12:05:00.000') }),
        expect.objectContaining({ action: 'muted', to: `silence:${silenceId}` }),
      ]);
      // The same emission again writes the identical document.
      await expectCosmosUnchanged(cosmos, () => deliver(hot));

      // The 12:05 window ends at 12:10, when the silence does: no longer held.
      await deliver(
        feed.batch([
          [JSON.stringify(reading('270', t('12:11:30'), { temperature: 95 })), t('12:11:31')],
        ]),
      );
      const [delivered] = await alertsOf270();
      expect(delivered).toMatchObject({ version: 2, occurrences: 2 });
      expect(delivered).not.toHaveProperty('suppressed');
      expect(delivered?.['delivery']).toMatchObject({ version: 2, type: 'alert.raised' });
      expect((delivered?.['timeline'] as unknown[]).at(-1)).toMatchObject({
        action: 'unmuted',
        from: `silence:${silenceId}`,
        at: t('12:10:00.000'),
      });
      // Nobody was told of the muted version: the first message is the alert, as raised, now.
      await waitFor(() => alertMessages().length > 0 || undefined, 'the alert message');
      const messages = alertMessages();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({
        type: 'alert.raised',
        alert: { id: `270:temperature:${t('12:00:00.000')}`, version: 2 },
      });
      expect(messages[0]?.['alert']).not.toHaveProperty('suppressed');
    } finally {
      dashboard.close();
    }
  });

  it('names maintenance while the machine is in Maintenance, and the silence once it is back', async () => {
    const admin = await issuer.token(['Admin'], 'admin-quiet');
    const silence = await call('POST', '/api/silences', {
      token: admin,
      json: { equipmentId: 271, startsAt: t('14:00:00'), endsAt: t('15:00:00'), reason: 'Survey' },
    });
    expect(silence.status, silence.text).toBe(201);
    const silenceId = silence.body.id as number;
    await db.pool.query("UPDATE equipment SET status = 'Maintenance' WHERE id = 271");
    await renewAppServices();
    const feed = new PartitionFeed('15');
    await deliver(
      feed.batch([
        [JSON.stringify(reading('271', t('14:00:10'), { temperature: 95 })), t('14:00:11')],
        [JSON.stringify(reading('271', t('14:06:00'), { temperature: 95 })), t('14:06:01')],
      ]),
    );
    const [inMaintenance] = await alertsOf('271');
    expect(inMaintenance).toMatchObject({ version: 1, suppressed: { reason: 'maintenance' } });

    // Back in operation, still inside the silence: the silence takes over, still muted.
    await db.pool.query("UPDATE equipment SET status = 'Operational' WHERE id = 271");
    await renewAppServices();
    await deliver(
      feed.batch([
        [JSON.stringify(reading('271', t('14:11:00'), { temperature: 95 })), t('14:11:01')],
      ]),
    );
    const [silenced] = await alertsOf('271');
    expect(silenced).toMatchObject({
      version: 2,
      suppressed: { reason: 'silence', silenceId },
      delivery: { pending: [], withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'] },
    });
    expect((silenced?.['timeline'] as unknown[]).at(-1)).toMatchObject({
      action: 'muted',
      from: 'maintenance',
      to: `silence:${silenceId}`,
    });
  });
});
