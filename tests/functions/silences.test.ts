/**
 * /api/silences through the real handlers, against a real MariaDB database, the local Cosmos
 * server (alerts raised by the real pipeline) and real signed tokens: create, read, list,
 * change and end, each audited; a silence created from an alert mutes it at once and ends
 * when the alert is resolved; malformed, oversized, hostile and unauthorised requests are
 * refused with problem documents and change nothing.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silenceSchema } from '../../lib/api/silences.js';
import { equipmentSilences } from '../../lib/telemetry/equipmentLookups.js';
import { call, type ApiResult } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { assignTechnician } from '../helpers/audience.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { expectParameterProblem, expectPointers, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';
import {
  expectCosmosUnchanged,
  jsonEvents,
  PartitionFeed,
  reading,
  type Json,
} from '../helpers/telemetry.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();
const { rows, expectNothingChanged } = rowHelpers(db);

const tokens = { admin: '', technician: '', noRole: '' };
beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-sil');
  tokens.technician = await issuer.token(['Technician'], 'tech-sil');
  tokens.noRole = await issuer.token([], 'nobody-sil');
});

/** Machines 301 (the technician's) and 302 (not theirs), cranes at Dock 4 and Yard. */
async function machines(): Promise<void> {
  await truncateAll(db.pool);
  await assignTechnician(db.pool, 'tech-sil', [301]);
  await db.pool.query(
    `INSERT INTO equipment (id, serial_number, name, type, location, status)
     VALUES (302, 'SN-302', 'Crane 302', 'crane', 'Yard', 'Operational'),
            (303, 'SN-303', 'Crane 303', 'crane', 'Dock 4', 'Operational')`,
  );
  await db.pool.query("UPDATE equipment SET location = 'Dock 4' WHERE id = 301");
}

/**
 * A period after any wall-clock time the tests run at, so the silences stay changeable (a
 * silence that has ended cannot be changed); the pipeline's tests use event times instead.
 */
const period = { startsAt: '2099-06-01T08:00:00Z', endsAt: '2099-06-01T10:00:00Z' };
const itemPath = (id: number) => `/api/silences/${id}`;

function post(json: unknown, token = tokens.admin): Promise<ApiResult> {
  return call('POST', '/api/silences', { token, json });
}

function silenceEvents(id: number) {
  return rows(
    `SELECT event_type, actor, aggregate_version, before_state, after_state FROM change_events
      WHERE aggregate = 'silence' AND aggregate_id = ? ORDER BY id`,
    [id],
  );
}

describe('silences: create, read, list, change and end', () => {
  beforeEach(machines);

  it('keeps who created, changed and ended a silence, when and why', async () => {
    const created = await post({
      equipmentId: 301,
      metric: 'temperature',
      reason: 'Recalibration',
      ...period,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as number;
    expect(created.headers.get('location')).toBe(itemPath(id));
    expect(() => silenceSchema.parse(created.body)).not.toThrow();
    expect(created.body).toMatchObject({
      scope: 'equipment',
      equipmentId: 301,
      equipmentType: null,
      location: null,
      metric: 'temperature',
      alertId: null,
      startsAt: '2099-06-01T08:00:00.000Z',
      endsAt: '2099-06-01T10:00:00.000Z',
      reason: 'Recalibration',
      createdBy: 'admin-sil',
      updatedBy: 'admin-sil',
      endedBy: null,
      endReason: null,
      version: 1,
    });

    const read = await call('GET', itemPath(id), { token: tokens.technician });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    const cached = await call('GET', itemPath(id), {
      token: tokens.admin,
      headers: { 'if-none-match': '"1"' },
    });
    expect(cached.status).toBe(304);

    // The technician looks after 301, so may change its silence, under If-Match.
    const patch = { endsAt: '2099-06-01T12:00:00Z', reason: 'Recalibration, second pass' };
    expectProblem(
      await call('PATCH', itemPath(id), {
        token: tokens.technician,
        json: patch,
        headers: { 'if-match': '"9"' },
      }),
      412,
    );
    const changed = await call('PATCH', itemPath(id), {
      token: tokens.technician,
      json: patch,
      headers: { 'if-match': '"1"' },
    });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body).toMatchObject({
      ...patch,
      endsAt: '2099-06-01T12:00:00.000Z',
      createdBy: 'admin-sil',
      updatedBy: 'tech-sil',
      version: 2,
    });

    const ended = await call('DELETE', itemPath(id), {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(ended.status, ended.text).toBe(200);
    expect(ended.body).toMatchObject({
      state: 'ended',
      endedBy: 'admin-sil',
      endReason: 'expired',
      version: 3,
    });
    // Ending it again, or changing it once ended, is a conflict and changes nothing.
    await expectNothingChanged(async () => {
      expectProblem(await call('DELETE', itemPath(id), { token: tokens.admin }), 409);
      expectProblem(
        await call('PATCH', itemPath(id), { token: tokens.admin, json: { reason: 'again' } }),
        409,
      );
    });

    const events = await silenceEvents(id);
    const parse = (value: unknown): unknown =>
      typeof value === 'string' ? JSON.parse(value) : value;
    expect(
      events.map((e): unknown[] => [e['event_type'], e['actor'], e['aggregate_version']]),
    ).toEqual([
      ['SilenceCreated', 'admin-sil', 1],
      ['SilenceUpdated', 'tech-sil', 2],
      ['SilenceEnded', 'admin-sil', 3],
    ]);
    expect(parse(events[0]?.['after_state'])).toMatchObject({ reason: 'Recalibration' });
    expect(parse(events[1]?.['before_state'])).toEqual({
      endsAt: '2099-06-01T10:00:00.000Z',
      reason: 'Recalibration',
      updatedBy: 'admin-sil',
    });
    expect(parse(events[2]?.['after_state'])).toMatchObject({
      endedBy: 'admin-sil',
      endReason: 'expired',
    });
  });

  it('lists newest first, filtered and paged; a machine’s filter includes its type and location', async () => {
    const ids: number[] = [];
    for (const scope of [
      { equipmentId: 301 },
      { equipmentType: 'crane' },
      { location: 'Dock 4' },
      { equipmentId: 302 },
    ]) {
      const res = await post({ ...scope, reason: 'test', ...period });
      expect(res.status, res.text).toBe(201);
      ids.push(res.body.id as number);
    }
    const [own, cranes, dock, other] = ids as [number, number, number, number];
    const list = async (query: string) => {
      const res = await call('GET', `/api/silences${query}`, { token: tokens.admin });
      expect(res.status, res.text).toBe(200);
      return res;
    };
    expect(((await list('')).body.items as Json[]).map((s) => s['id'])).toEqual([
      other,
      dock,
      cranes,
      own,
    ]);
    // 301 is an excavator at Dock 4: its own and the location's, not the cranes'.
    expect(((await list('?equipmentId=301')).body.items as Json[]).map((s) => s['id'])).toEqual([
      dock,
      own,
    ]);
    expect(((await list('?equipmentType=crane')).body.items as Json[]).map((s) => s['id'])).toEqual(
      [cranes],
    );
    const first = await list('?limit=3');
    expect(first.body.items).toHaveLength(3);
    const second = await list(
      `?limit=3&cursor=${encodeURIComponent(String(first.body.nextCursor))}`,
    );
    expect((second.body.items as Json[]).map((s) => s['id'])).toEqual([own]);
    expect(second.body.nextCursor).toBeNull();
    await call('DELETE', itemPath(cranes), { token: tokens.admin });
    // Ended before it started: it never holds anything.
    expect(((await list('?state=ended')).body.items as Json[]).map((s) => s['id'])).toEqual([
      cranes,
    ]);
    expect(((await list('?state=scheduled')).body.items as Json[]).map((s) => s['id'])).toEqual([
      other,
      dock,
      own,
    ]);
  });

  it('the pipeline’s lookup finds the silences of a machine by id, type and location', async () => {
    for (const scope of [
      { equipmentId: 301, metric: 'pressure' },
      { equipmentType: 'crane' },
      { location: 'Dock 4' },
    ])
      expect((await post({ ...scope, reason: 'test', ...period })).status).toBe(201);
    const found = await equipmentSilences(db.pool)(
      [301, 302, 303, 999],
      Date.parse(period.startsAt),
    );
    const idsOf = (equipmentId: number) =>
      (found.get(equipmentId) ?? []).map((s) => s.metric ?? 'all').sort();
    expect(idsOf(301)).toEqual(['all', 'pressure']); // its own (pressure) and Dock 4's
    expect(idsOf(302)).toEqual(['all']); // cranes
    expect(idsOf(303)).toEqual(['all', 'all']); // cranes and Dock 4
    expect(found.get(999)).toBeUndefined();
    expect(found.get(301)?.find((s) => s.metric === 'pressure')).toEqual({
      id: expect.any(Number) as number,
      metric: 'pressure',
      startsAt: Date.parse(period.startsAt),
      endsAt: Date.parse(period.endsAt),
      alertId: null,
    });
    // A window ending when they end (or later) cannot be held by them: they are not read.
    const before = await equipmentSilences(db.pool)([301], Date.parse(period.endsAt) - 1);
    expect(before.get(301)).toHaveLength(2);
    const later = await equipmentSilences(db.pool)([301], Date.parse(period.endsAt));
    expect(later.get(301)).toBeUndefined();
  });
});

describe('silences: bad input changes nothing', () => {
  beforeEach(machines);

  const cases: [string, unknown, string[]][] = [
    [
      'an end before the start',
      { equipmentId: 301, reason: 'r', startsAt: period.endsAt, endsAt: period.startsAt },
      ['#/endsAt'],
    ],
    [
      'an end equal to the start',
      { equipmentId: 301, reason: 'r', startsAt: period.startsAt, endsAt: period.startsAt },
      ['#/endsAt'],
    ],
    [
      'over a year',
      {
        equipmentId: 301,
        reason: 'r',
        startsAt: '2099-01-01T00:00:00Z',
        endsAt: '2100-01-01T00:00:01Z',
      },
      ['#/endsAt'],
    ],
    ['no end (and no alert)', { equipmentId: 301, reason: 'r' }, ['#/endsAt']],
    ['no scope', { reason: 'r', ...period }, ['#']],
    [
      'two scopes',
      { equipmentId: 301, location: 'Dock 4', reason: 'r', ...period },
      ['#/location'],
    ],
    ['an unknown scope', { site: 'North', reason: 'r', ...period }, ['#/site']],
    [
      'an unknown metric',
      { equipmentId: 301, metric: 'humidity', reason: 'r', ...period },
      ['#/metric'],
    ],
    [
      'a scope with an alert',
      { alertId: '301:temperature:2099-06-01T08:00:00.000Z', equipmentId: 301, reason: 'r' },
      ['#/equipmentId'],
    ],
    ['no reason', { equipmentId: 301, ...period }, ['#/reason']],
    ['a blank reason', { equipmentId: 301, reason: '   ', ...period }, ['#/reason']],
    ['an over-long reason', { equipmentId: 301, reason: 'x'.repeat(501), ...period }, ['#/reason']],
    ['a lone surrogate', { equipmentId: 301, reason: 'bad \ud800', ...period }, ['#/reason']],
    ['a string id', { equipmentId: '301', reason: 'r', ...period }, ['#/equipmentId']],
    [
      'a time without zone',
      { equipmentId: 301, reason: 'r', startsAt: '2099-06-01T08:00:00', endsAt: period.endsAt },
      ['#/startsAt'],
    ],
  ];
  it.each(cases)('400 for %s', async (_name, body, pointers) => {
    await expectNothingChanged(async () => {
      expectPointers(await post(body), '/api/silences', pointers);
    });
  });

  it('refuses references to no equipment (409), bad ids and filters (400), big and non-JSON bodies', async () => {
    await expectNothingChanged(async () => {
      for (const scope of [
        { equipmentId: 9999 },
        { equipmentType: 'hovercraft' },
        { location: 'Mars' },
      ]) {
        const res = await post({ ...scope, reason: 'r', ...period });
        expectProblem(res, 409);
      }
      expectParameterProblem(await call('GET', '/api/silences/abc', { token: tokens.admin }), 'id');
      expectParameterProblem(await call('GET', '/api/silences/0', { token: tokens.admin }), 'id');
      expectProblem(await call('GET', '/api/silences/987654', { token: tokens.admin }), 404);
      expectProblem(
        await call('PATCH', '/api/silences/987654', { token: tokens.admin, json: { reason: 'x' } }),
        404,
      );
      expectProblem(await call('DELETE', '/api/silences/987654', { token: tokens.admin }), 404);
      expectParameterProblem(
        await call('GET', '/api/silences?state=paused', { token: tokens.admin }),
        'state',
      );
      expectParameterProblem(
        await call('GET', '/api/silences?limit=0', { token: tokens.admin }),
        'limit',
      );
      expectParameterProblem(
        await call('GET', '/api/silences?colour=red', { token: tokens.admin }),
        'colour',
      );
      expectProblem(await call('GET', '/api/silences?cursor=bm9wZQ', { token: tokens.admin }), 400);
      expectProblem(
        await call('POST', '/api/silences', {
          token: tokens.admin,
          raw: '{"equipmentId": 301,',
          headers: { 'content-type': 'application/json' },
        }),
        400,
      );
      expectProblem(
        await call('POST', '/api/silences', {
          token: tokens.admin,
          raw: 'reason=x',
          headers: { 'content-type': 'text/plain' },
        }),
        415,
      );
      expectProblem(
        await post({ equipmentId: 301, ...period, reason: 'r', padding: 'x'.repeat(1024 * 1024) }),
        413,
      );
      // SQL metacharacters are data: no equipment has this type, so nothing is created.
      expectProblem(await post({ equipmentType: "crane' OR '1'='1", reason: 'r', ...period }), 409);
    });
    // Stored verbatim when it names something: a reason with quotes and emoji round-trips.
    const odd = "Don't page 🚨 -- ; DROP TABLE silences";
    const created = await post({ equipmentId: 301, reason: odd, ...period });
    expect(created.status).toBe(201);
    expect(
      (await call('GET', itemPath(created.body.id as number), { token: tokens.admin })).body.reason,
    ).toBe(odd);
  });

  it('refuses bad changes (400) and leaves the silence as it was', async () => {
    const created = await post({ equipmentId: 301, reason: 'r', ...period });
    const path = itemPath(created.body.id as number);
    const patchCases: [unknown, string[]][] = [
      [{}, ['#']],
      [{ endsAt: period.startsAt }, ['#/endsAt']],
      [{ endsAt: '2100-06-01T08:00:01Z' }, ['#/endsAt']],
      [{ endsAt: null }, ['#/endsAt']],
      [{ startsAt: period.startsAt }, ['#', '#/startsAt']],
      [{ reason: '' }, ['#/reason']],
    ];
    await expectNothingChanged(async () => {
      for (const [json, pointers] of patchCases)
        expectPointers(await call('PATCH', path, { token: tokens.admin, json }), path, pointers);
    });
  });
});

describe('silences: who may do what', () => {
  beforeEach(machines);

  it('401 without a token and 403 without a role, and nothing changes', async () => {
    const created = await post({ equipmentId: 301, reason: 'r', ...period });
    const path = itemPath(created.body.id as number);
    await expectNothingChanged(async () => {
      expectProblem(await call('GET', '/api/silences'), 401);
      expectProblem(
        await call('POST', '/api/silences', { json: { equipmentId: 301, reason: 'r', ...period } }),
        401,
      );
      expectProblem(await call('DELETE', path), 401);
      expectProblem(await call('GET', path, { token: tokens.noRole }), 403);
      expectProblem(await post({ equipmentId: 301, reason: 'r', ...period }, tokens.noRole), 403);
      expectProblem(
        await call('PATCH', path, { token: tokens.noRole, json: { reason: 'x' } }),
        403,
      );
    });
  });

  it('a technician silences only equipment assigned to them, never a type or location', async () => {
    await expectNothingChanged(async () => {
      for (const scope of [
        { equipmentId: 302 },
        { equipmentId: 9999 },
        { equipmentType: 'crane' },
        { location: 'Dock 4' },
      ])
        expectProblem(await post({ ...scope, reason: 'r', ...period }, tokens.technician), 403);
    });
    const mine = await post({ equipmentId: 301, reason: 'r', ...period }, tokens.technician);
    expect(mine.status, mine.text).toBe(201);
    expect(mine.body).toMatchObject({ createdBy: 'tech-sil' });
    // An admin's silence of another machine, or of a type, is not theirs to change or end.
    const others = [
      await post({ equipmentId: 302, reason: 'r', ...period }),
      await post({ equipmentType: 'crane', reason: 'r', ...period }),
    ];
    await expectNothingChanged(async () => {
      for (const other of others) {
        const path = itemPath(other.body.id as number);
        expectProblem(
          await call('PATCH', path, { token: tokens.technician, json: { reason: 'x' } }),
          403,
        );
        expectProblem(await call('DELETE', path, { token: tokens.technician }), 403);
      }
    });
  });
});

describe('silences created from an alert', () => {
  const day = '2026-07-01';
  const at = (hhmmss: string) => `${day}T${hhmmss}Z`;
  const alertId = `301:temperature:${at('08:00:00.000')}`;
  const otherAlertId = `302:temperature:${at('08:00:00.000')}`;
  const alertPath = (id: string) => `/api/alerts/${encodeURIComponent(id)}`;

  beforeAll(async () => {
    await machines();
    await new PartitionFeed('31').send(
      jsonEvents([
        reading('301', at('08:00:30'), { temperature: 95 }),
        reading('302', at('08:00:40'), { temperature: 95 }),
        reading('301', at('08:06:00'), { temperature: 20 }),
        reading('302', at('08:06:10'), { temperature: 20 }),
      ]),
    );
  });

  it('refuses alerts the caller may not see (404) or that do not exist, changing nothing', async () => {
    await expectNothingChanged(() =>
      expectCosmosUnchanged(cosmos, async () => {
        expectProblem(await post({ alertId: otherAlertId, reason: 'r' }, tokens.technician), 404);
        expectProblem(
          await post({ alertId: `301:temperature:${at('09:00:00.000')}`, reason: 'r' }),
          404,
        );
        expectProblem(await post({ alertId: 'not an alert', reason: 'r' }), 404);
        expectPointers(await post({ alertId: '', reason: 'r' }), '/api/silences', ['#/alertId']);
        expectPointers(await post({ alertId, metric: 'pressure', reason: 'r' }), '/api/silences', [
          '#/metric',
        ]);
        expectPointers(
          await post({ alertId, startsAt: '2099-01-01T00:00:00Z', reason: 'r' }),
          '/api/silences',
          ['#/startsAt'],
        );
      }),
    );
  });

  it('mutes the alert at once, names the silence in its timeline, and ends when it is resolved', async () => {
    const before = await call('GET', alertPath(alertId), { token: tokens.admin });
    expect(before.status, before.text).toBe(200);
    expect(before.body).not.toHaveProperty('suppressed');

    const created = await post({ alertId, reason: 'Known sensor fault' }, tokens.technician);
    expect(created.status, created.text).toBe(201);
    const silenceId = created.body.id as number;
    expect(created.body).toMatchObject({
      scope: 'equipment',
      equipmentId: 301,
      metric: 'temperature',
      alertId,
      endsAt: null,
      state: 'active',
    });

    const muted = await call('GET', alertPath(alertId), { token: tokens.admin });
    expect(muted.body).toMatchObject({
      suppressed: { reason: 'silence', silenceId },
      version: (before.body.version as number) + 1,
    });
    expect((muted.body.timeline as Json[]).at(-1)).toMatchObject({
      action: 'muted',
      by: 'tech-sil',
      to: `silence:${silenceId}`,
    });
    const stored = await cosmos.containers.alerts.item(alertId, '301').read();
    expect(stored.resource).toMatchObject({ delivery: { pending: [] } });
    expect(stored.resource).not.toHaveProperty('deliveryPending');

    const resolved = await call('PATCH', alertPath(alertId), {
      token: tokens.admin,
      json: { status: 'resolved' },
    });
    expect(resolved.status, resolved.text).toBe(200);
    const ended = await call('GET', itemPath(silenceId), { token: tokens.admin });
    expect(ended.body).toMatchObject({
      state: 'ended',
      endedBy: 'admin-sil',
      endReason: 'alert-resolved',
    });
    expect(typeof ended.body.endsAt).toBe('string');
    // A resolved alert cannot be silenced.
    await expectNothingChanged(async () => {
      expectProblem(await post({ alertId, reason: 'again' }), 409);
    });
  });
});
