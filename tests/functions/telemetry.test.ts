/**
 * /api/equipment/{id}/telemetry over what the real pipeline wrote: readings go through the
 * Event Hub handler, equipment rows live in MySQL, and the route answers with the latest
 * reading, the window still collecting readings and the closed windows in [from, to).
 * Every request passes explicit `from`/`to` (their defaults are relative to the clock).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../lib/api/telemetrySchemas.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  expectCosmosUnchanged,
  insertEquipment,
  jsonEvents,
  type Json,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';
import { expectParameterProblem, expectProblem, problemTargets } from '../helpers/problems.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const tokens = { admin: '', technician: '', noRole: '' };
beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  tokens.noRole = await issuer.token([], 'x');
  for (const id of [7, 8, 9, 10, 12]) await insertEquipment(db.pool, id);
});

const t = (hhmmss: string) => `2026-07-01T${hhmmss}Z`;

function telemetry(
  id: number | string,
  from: string,
  to: string,
  token: string = tokens.admin,
  extra = '',
) {
  return call(
    'GET',
    `/api/equipment/${id}/telemetry?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${extra}`,
    { token },
  );
}

/** The whole morning: wide enough to hold every window of equipment 7. */
const morning = [t('09:00:00'), t('12:00:00')] as const;

describe('GET /api/equipment/{id}/telemetry', () => {
  const feed = new PartitionFeed('0');

  it('answers with nothing yet for equipment without readings', async () => {
    const result = await telemetry(7, ...morning);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toEqual({
      equipmentId: '7',
      latest: null,
      currentWindow: null,
      history: [],
    });
  });

  it('shows the latest reading and the open window once readings arrive', async () => {
    await feed.send(
      jsonEvents([
        reading('7', t('10:00:10'), { temperature: 70, vibration: 2 }),
        reading('7', t('10:02:00'), { temperature: 74, vibration: 4 }),
      ]),
    );
    const result = await telemetry(7, ...morning);
    expect(result.status, result.text).toBe(200);
    expect(() => telemetrySchema.parse(result.body)).not.toThrow();
    expect(result.body).toEqual({
      equipmentId: '7',
      latest: { equipmentId: '7', timestamp: t('10:02:00.000'), temperature: 74, vibration: 4 },
      currentWindow: {
        start: t('10:00:00.000'),
        end: t('10:05:00.000'),
        summary: {
          readings: 2,
          metrics: {
            temperature: { count: 2, min: 70, max: 74, mean: 72 },
            vibration: { count: 2, min: 2, max: 4, mean: 3 },
          },
        },
      },
      history: [],
    });
  });

  it('keeps windows open across batches until the watermark passes them', async () => {
    await feed.send(
      jsonEvents([
        reading('7', t('10:05:30'), { temperature: 80 }),
        reading('7', t('10:07:00'), { temperature: 76, pressure: 30 }, { status: 'running' }),
      ]),
    );
    // 10:07:00 minus 60 s lateness passes 10:05: window 10:00 closed, 10:05 open.
    const result = await telemetry(7, ...morning);
    expect(result.body.latest).toEqual({
      equipmentId: '7',
      timestamp: t('10:07:00.000'),
      temperature: 76,
      pressure: 30,
      status: 'running',
    });
    expect(result.body.currentWindow).toEqual({
      start: t('10:05:00.000'),
      end: t('10:10:00.000'),
      summary: {
        readings: 2,
        metrics: {
          temperature: { count: 2, min: 76, max: 80, mean: 78 },
          pressure: { count: 1, min: 30, max: 30, mean: 30 },
        },
      },
    });
    expect((result.body.history as Json[]).map((w) => w.windowStart)).toEqual([t('10:00:00.000')]);
  });

  it('merges the open window over several batches, and takes the newest reading of a batch', async () => {
    await feed.send(
      jsonEvents([
        reading('7', t('10:11:30'), { temperature: 73 }), // closes 10:05
        reading('7', t('10:12:10'), { temperature: 71 }),
        reading('7', t('10:11:50'), { temperature: 75 }), // out of order within the batch
      ]),
    );
    await feed.send(jsonEvents([reading('7', t('10:13:00'), { temperature: 77 })]));
    const result = await telemetry(7, ...morning);
    expect(result.status, result.text).toBe(200);
    expect(() => telemetrySchema.parse(result.body)).not.toThrow();
    expect(result.body.latest).toEqual({
      equipmentId: '7',
      timestamp: t('10:13:00.000'),
      temperature: 77,
    });
    expect(result.body.currentWindow).toEqual({
      start: t('10:10:00.000'),
      end: t('10:15:00.000'),
      summary: {
        readings: 4,
        metrics: { temperature: { count: 4, min: 71, max: 77, mean: 74 } },
      },
    });
  });

  it('lists the closed windows in [from, to), oldest first', async () => {
    const result = await telemetry(7, ...morning, tokens.technician);
    expect(result.status, result.text).toBe(200);
    expect(result.body.history).toEqual([
      {
        id: `7:${t('10:00:00.000')}`,
        equipmentId: '7',
        windowStart: t('10:00:00.000'),
        windowEnd: t('10:05:00.000'),
        partitionId: '0',
        summary: {
          readings: 2,
          metrics: {
            temperature: { count: 2, min: 70, max: 74, mean: 72 },
            vibration: { count: 2, min: 2, max: 4, mean: 3 },
          },
        },
      },
      {
        id: `7:${t('10:05:00.000')}`,
        equipmentId: '7',
        windowStart: t('10:05:00.000'),
        windowEnd: t('10:10:00.000'),
        partitionId: '0',
        summary: {
          readings: 2,
          metrics: {
            temperature: { count: 2, min: 76, max: 80, mean: 78 },
            pressure: { count: 1, min: 30, max: 30, mean: 30 },
          },
        },
      },
    ]);
    const starts = async (from: string, to: string) =>
      ((await telemetry(7, from, to)).body.history as Json[]).map((w) => w.windowStart as string);
    // Windows are picked by their start: from inclusive, to exclusive.
    expect(await starts(t('10:00:00'), t('10:05:00'))).toEqual([t('10:00:00.000')]);
    expect(await starts(t('10:00:00.001'), t('10:05:00.001'))).toEqual([t('10:05:00.000')]);
    expect(await starts(t('10:05:00'), t('10:10:00'))).toEqual([t('10:05:00.000')]);
    expect(await starts(t('09:00:00'), t('10:00:00'))).toEqual([]);
    expect(await starts('2026-07-01T12:00:00+02:00', t('10:05:00.001'))).toEqual([
      t('10:00:00.000'),
      t('10:05:00.000'),
    ]);
    // The open window is never part of the history.
    expect(await starts(t('10:10:00'), t('10:15:00'))).toEqual([]);
  });

  it('answers the same for a technician and an admin', async () => {
    const admin = await telemetry(7, ...morning);
    const technician = await telemetry(7, ...morning, tokens.technician);
    expect(technician.status, technician.text).toBe(200);
    expect(technician.body).toEqual(admin.body);
  });

  it('shows nothing of one equipment in another’s telemetry', async () => {
    const result = await telemetry(8, ...morning);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toEqual({
      equipmentId: '8',
      latest: null,
      currentWindow: null,
      history: [],
    });
  });

  it('accepts a range of exactly seven days', async () => {
    const result = await telemetry(7, '2026-06-24T10:00:00.001Z', t('10:00:00.001'));
    expect(result.status, result.text).toBe(200);
    expect(result.body.history).toHaveLength(1);
  });

  it('is read-only', async () => {
    await expectCosmosUnchanged(cosmos, () => telemetry(7, ...morning));
  });
});

describe('GET /api/equipment/{id}/telemetry: the open window', () => {
  it('has no open window when the latest reading’s window is closed, whatever the range', async () => {
    // Equipment 9's only reading is in window 11:00; machine 12's later reading on the
    // same partition moves the watermark past it, so that window is closed and stored.
    const feed = new PartitionFeed('1');
    await feed.send(
      jsonEvents([
        reading('9', t('11:00:10'), { temperature: 50 }),
        reading('12', t('11:06:30'), { temperature: 20 }),
      ]),
    );
    const covering = await telemetry(9, t('11:00:00'), t('11:05:00'));
    expect(covering.status, covering.text).toBe(200);
    expect((covering.body.history as Json[]).map((w) => w.windowStart)).toEqual([
      t('11:00:00.000'),
    ]);
    expect(covering.body.currentWindow).toBeNull();

    // The same data asked about with a history range that leaves window 11:00 out: the
    // closed window must not come back as the open one (lib/telemetry/queries.ts decides
    // "closed" only from the aggregates inside [from, to).
    const earlier = await telemetry(9, t('09:00:00'), t('11:00:00'));
    expect(earlier.status, earlier.text).toBe(200);
    expect(earlier.body.history).toEqual([]);
    expect(earlier.body.latest).toEqual(covering.body.latest);
    expect(earlier.body.currentWindow).toBeNull();
  });

  it('shows the window of the newest reading after an out-of-order batch', async () => {
    // Equipment 10 on a partition of its own: a reading at 12:05:10 opens window 12:05;
    // a later batch brings a reading stamped 12:04:50, still within the allowed lateness.
    // The latest reading is still the 12:05:10 one, and 12:05 the window being filled.
    const feed = new PartitionFeed('2');
    await feed.send(jsonEvents([reading('10', t('12:04:00'), { temperature: 60 })]));
    await feed.send(jsonEvents([reading('10', t('12:05:10'), { temperature: 62 })]));
    await feed.send([
      [JSON.stringify(reading('10', t('12:04:50'), { temperature: 64 })), t('12:05:20')],
    ]);
    const result = await telemetry(10, t('12:00:00'), t('13:00:00'));
    expect(result.status, result.text).toBe(200);
    expect(result.body.latest).toEqual({
      equipmentId: '10',
      timestamp: t('12:05:10.000'),
      temperature: 62,
    });
    expect(result.body.currentWindow).toEqual({
      start: t('12:05:00.000'),
      end: t('12:10:00.000'),
      summary: { readings: 1, metrics: { temperature: { count: 1, min: 62, max: 62, mean: 62 } } },
    });
  });
});

describe('GET /api/equipment/{id}/telemetry: refusals', () => {
  it('answers 404 for equipment the API does not know, even with telemetry', async () => {
    // 11 sends telemetry but has no equipment row (its readings are dead-lettered as
    // unregistered); 999 sends nothing.
    await new PartitionFeed('3').send(
      jsonEvents([reading('11', t('10:00:00'), { temperature: 20 })]),
    );
    for (const id of [11, 999]) {
      const result = await expectCosmosUnchanged(cosmos, () => telemetry(id, ...morning));
      expectProblem(result, 404);
      expect(result.body.instance).toBe(`/api/equipment/${id}/telemetry`);
      expect(result.text).not.toContain('latest');
    }
  });

  it.each(['abc', '0', '-1', '1.5', '007', '1e3', '99999999999999999', 'other-device'])(
    'refuses the id %s with 400',
    async (id) => {
      const result = await expectCosmosUnchanged(cosmos, () =>
        telemetry(encodeURIComponent(id), ...morning),
      );
      expectParameterProblem(result, 'id');
    },
  );

  it.each([
    ['from equal to to', `from=${t('10:00:00')}&to=${t('10:00:00')}`, 'from'],
    ['from after to', `from=${t('10:00:01')}&to=${t('10:00:00')}`, 'from'],
    ['more than seven days', `from=2026-06-24T10:00:00Z&to=${t('10:00:00.001')}`, 'from'],
    ['a from that is not a time', `from=yesterday&to=${t('10:00:00')}`, 'from'],
    ['a to without a zone', `from=${t('09:00:00')}&to=2026-07-01T10:00:00`, 'to'],
    ['a date for from', `from=2026-07-01&to=${t('10:00:00')}`, 'from'],
    ['an unknown parameter', `from=${t('09:00:00')}&to=${t('10:00:00')}&limit=5`, 'limit'],
    ['from given twice', `from=${t('09:00:00')}&from=${t('09:30:00')}&to=${t('10:00:00')}`, 'from'],
  ])('refuses %s with 400', async (_name, query, parameter) => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      call('GET', `/api/equipment/7/telemetry?${query.replaceAll('+', '%2B')}`, {
        token: tokens.technician,
      }),
    );
    expectProblem(result, 400);
    // An unreadable time is also out of range: its parameter may be named twice, no other.
    expect(new Set(problemTargets(result))).toEqual(new Set([parameter]));
  });

  it('needs a token (401) with a role (403)', async () => {
    await expectCosmosUnchanged(cosmos, async () => {
      const anonymous = await call(
        'GET',
        `/api/equipment/7/telemetry?from=${morning[0]}&to=${morning[1]}`,
      );
      expectProblem(anonymous, 401);
      const noRole = await telemetry(7, ...morning, tokens.noRole);
      expectProblem(noRole, 403);
      for (const refused of [anonymous, noRole]) expect(refused.text).not.toContain('latest');
    });
  });
});
