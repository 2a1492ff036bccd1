/**
 * Alerts that clear by themselves, through the real ingest function, pipeline and local
 * Cosmos server: per-equipment clear thresholds, and what people may do with a cleared alert
 * over PATCH /api/alerts/{id} (real signed tokens). Flapping and replays are covered at the
 * processor level (tests/lib/telemetry/processor.test.ts), the fold in alerts.test.ts.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { assignTechnician } from '../helpers/audience.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';
import {
  expectCosmosUnchanged,
  jsonEvents,
  type Json,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';

const database = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const tokens = { admin: '', technician: '', otherTechnician: '' };
beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  tokens.otherTechnician = await issuer.token(['Technician'], 'tech-eli');
  for (const subject of ['tech-dana', 'tech-eli'])
    await assignTechnician(database.pool, subject, [701, 702]);
});

const day = '2026-07-01';
const t = (hhmmss: string) => `${day}T${hhmmss}Z`;
const alertPath = (id: string) => `/api/alerts/${encodeURIComponent(id)}`;
const get = (path: string, token: string = tokens.admin) => call('GET', path, { token });
const patch = (id: string, json: unknown, token: string) =>
  call('PATCH', alertPath(id), { token, json, headers: { 'if-match': '*' } });

async function storedAlert(id: string, equipmentId: string) {
  const { resource } = await cosmos.containers.alerts.item(id, equipmentId).read<ItemDefinition>();
  return resource;
}

/** Sends one temperature reading per line, each in the window after the previous one. */
async function send(feed: PartitionFeed, equipmentId: string, temperatures: [string, number][]) {
  for (const [time, temperature] of temperatures) {
    await feed.send(jsonEvents([reading(equipmentId, t(time), { temperature })]));
  }
}

describe('an alert that clears by itself', () => {
  const feed = new PartitionFeed('71');
  const id = `701:temperature:${t('08:00:00.000')}`;

  it('stays open through one normal window and clears after the second', async () => {
    await send(feed, '701', [
      ['08:00:30', 85], // high
      ['08:06:30', 65], // closes 08:00: raised
      ['08:11:30', 65], // closes 08:05: one normal window
    ]);
    const open = await get(alertPath(id));
    expect(open.status, open.text).toBe(200);
    expect(open.body).toMatchObject({ status: 'open', version: 1 });
    expect(open.body).not.toHaveProperty('normalStreak');

    await send(feed, '701', [['08:16:30', 65]]); // closes 08:10: the second
    const cleared = await get(alertPath(id));
    expect(cleared.body).toMatchObject({
      status: 'cleared',
      version: 2,
      clearedWindowStart: t('08:10:00.000'),
      clearedAt: t('08:15:00.000'),
    });
    expect(cleared.body.acknowledgedAt).toBeUndefined();
    expect((cleared.body.timeline as Json[]).at(-1)).toMatchObject({
      action: 'cleared',
      from: 'open',
      by: 'pipeline',
      at: t('08:15:00.000'),
    });
    // Delivered to dashboards as a clearing, with no push.
    expect((await storedAlert(id, '701'))?.['delivery']).toMatchObject({
      type: 'alert.cleared',
      version: 2,
    });
    const listed = await get('/api/alerts?status=cleared&equipmentId=701');
    expect((listed.body.items as Json[]).map((a) => a.id)).toEqual([id]);
  });

  it('refuses to set cleared or open by hand (400), changing nothing', async () => {
    for (const status of ['cleared', 'open']) {
      const result = await expectCosmosUnchanged(cosmos, () =>
        patch(id, { status }, tokens.technician),
      );
      expectProblem(result, 400);
    }
  });

  it('lets a technician acknowledge the cleared alert: it stays cleared, recording who saw it', async () => {
    const result = await patch(
      id,
      { status: 'acknowledged', note: 'Fan belt replaced' },
      tokens.technician,
    );
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({
      status: 'cleared',
      acknowledgedBy: 'tech-dana',
      acknowledgementNote: 'Fan belt replaced',
      version: 3,
    });
    expect((result.body.timeline as Json[]).at(-1)).toMatchObject({
      action: 'acknowledged',
      from: 'cleared',
      by: 'tech-dana',
    });
    // A second acknowledgement changes nothing.
    const again = await expectCosmosUnchanged(cosmos, () =>
      patch(id, { status: 'acknowledged' }, tokens.otherTechnician),
    );
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ acknowledgedBy: 'tech-dana', etag: result.body.etag });
  });

  it('lets it be resolved, and then not acknowledged (409)', async () => {
    const result = await patch(id, { status: 'resolved' }, tokens.admin);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ status: 'resolved', resolvedBy: 'admin-ada' });
    const refused = await expectCosmosUnchanged(cosmos, () =>
      patch(id, { status: 'acknowledged' }, tokens.technician),
    );
    expectProblem(refused, 409);
  });

  it('lets a cleared alert nobody acknowledged be resolved directly', async () => {
    const second = `701:temperature:${t('08:50:00.000')}`;
    await send(feed, '701', [
      ['08:50:30', 82], // long after the resolve: a new alert
      ['08:56:30', 60],
      ['09:01:30', 60],
      ['09:06:30', 60], // closes 09:00: cleared
    ]);
    expect((await get(alertPath(second))).body).toMatchObject({ status: 'cleared' });
    const result = await patch(second, { status: 'resolved' }, tokens.technician);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ status: 'resolved', resolvedBy: 'tech-dana' });
    expect(result.body.acknowledgedAt).toBeUndefined();
  });
});

describe('a per-equipment clear threshold', () => {
  it('is what the alert must come back inside, not the margin below medium', async () => {
    // Medium 60: the margin would clear below 55; this machine's own clear threshold is 50.
    await database.pool.query(
      'INSERT INTO equipment_thresholds (equipment_id, thresholds) VALUES (702, ?)',
      [JSON.stringify({ temperature: { medium: 60, high: 65, critical: 85, clear: 50 } })],
    );
    const feed = new PartitionFeed('72');
    const id = `702:temperature:${t('10:00:00.000')}`;
    await send(feed, '702', [
      ['10:00:30', 70], // high for this machine
      ['10:06:30', 52], // closes 10:00: raised
      ['10:11:30', 52], // closes 10:05 (52: inside the margin, between for this machine)
      ['10:16:30', 45], // closes 10:10 (52 again)
    ]);
    expect((await get(alertPath(id))).body).toMatchObject({ status: 'open', version: 1 });
    await send(feed, '702', [
      ['10:21:30', 45], // closes 10:15: one window inside 50
      ['10:26:30', 45], // closes 10:20: the second
    ]);
    expect((await get(alertPath(id))).body).toMatchObject({
      status: 'cleared',
      clearedWindowStart: t('10:20:00.000'),
    });
  });
});
