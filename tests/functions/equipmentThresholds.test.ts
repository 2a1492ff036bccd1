/**
 * /api/equipment/{id}/thresholds: per-equipment threshold overrides, against a real MariaDB
 * database and real signed tokens: create, replace, read and delete with ETags; each bad rule
 * refused with a 400 that changes nothing; who may read and write.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { adminFixtures } from '../helpers/fixtures.js';
import { expectPointers, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin']],
  technician: [['Technician'], 'thresholds-tech'],
});
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment, createTechnician } = adminFixtures(tokens);

const path = (id: number) => `/api/equipment/${id}/thresholds`;
const hot = { temperature: { medium: 60, high: 65, critical: 85, clear: 55 } };
const lowPressure = { pressure: { medium: 20, high: 15, critical: 8, clear: 22 } };

function put(
  id: number,
  thresholds: unknown,
  options: { token?: string; ifMatch?: string } = {},
): Promise<ApiResult> {
  return call('PUT', path(id), {
    token: options.token ?? tokens.admin,
    json: { thresholds },
    ...(options.ifMatch ? { headers: { 'if-match': options.ifMatch } } : {}),
  });
}

function thresholdEvents(id: number) {
  return rows(
    `SELECT event_type, actor, before_state, after_state FROM change_events
      WHERE aggregate = 'equipment' AND aggregate_id = ? AND event_type = 'ThresholdsChanged'
      ORDER BY id`,
    [id],
  );
}

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('equipment thresholds: writing and reading', () => {
  it('creates, reads, replaces and deletes, with ETags and a history event each time', async () => {
    const { id } = await createEquipment();
    const created = await put(id, hot);
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toMatchObject({ equipmentId: id, thresholds: hot, version: 1 });

    const read = await call('GET', path(id), { token: tokens.admin });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    const cached = await call('GET', path(id), {
      token: tokens.admin,
      headers: { 'if-none-match': '"1"' },
    });
    expect(cached.status).toBe(304);

    const stale = await put(id, lowPressure, { ifMatch: '"7"' });
    expectProblem(stale, 412);
    const replaced = await put(id, lowPressure, { ifMatch: '"1"' });
    expect(replaced.status).toBe(200);
    expect(replaced.headers.get('etag')).toBe('"2"');
    expect(replaced.body).toMatchObject({ thresholds: lowPressure, version: 2 });

    expectProblem(
      await call('DELETE', path(id), { token: tokens.admin, headers: { 'if-match': '"1"' } }),
      412,
    );
    const deleted = await call('DELETE', path(id), {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(204);
    expectProblem(await call('GET', path(id), { token: tokens.admin }), 404);
    expectProblem(await call('DELETE', path(id), { token: tokens.admin }), 404);

    const events = await thresholdEvents(id);
    expect(
      events.map((e) =>
        [e['before_state'], e['after_state']].map((s: unknown) =>
          typeof s === 'string' ? (JSON.parse(s) as unknown) : s,
        ),
      ),
    ).toEqual([
      [null, { thresholds: hot }],
      [{ thresholds: hot }, { thresholds: lowPressure }],
      [{ thresholds: lowPressure }, null],
    ]);
    expect(events.every((e) => typeof e['actor'] === 'string' && e['actor'] !== '')).toBe(true);
    const history = await call('GET', `/api/equipment/${id}/history?type=ThresholdsChanged`, {
      token: tokens.admin,
    });
    expect(history.status).toBe(200);
    expect(history.body.items).toHaveLength(3);
  });

  it('refuses If-Match on equipment that has no overrides yet (412)', async () => {
    const { id } = await createEquipment();
    await expectNothingChanged(async () => {
      expectProblem(await put(id, hot, { ifMatch: '"1"' }), 412);
    });
  });

  it('goes with its equipment when the equipment is deleted', async () => {
    const { id } = await createEquipment();
    expect((await put(id, hot)).status).toBe(201);
    const res = await call('DELETE', `/api/equipment/${id}`, { token: tokens.admin });
    expect(res.status).toBe(204);
    expect(await rows('SELECT * FROM equipment_thresholds')).toEqual([]);
  });
});

describe('equipment thresholds: bad input changes nothing', () => {
  const cases: [string, unknown, string[]][] = [
    [
      'severities out of order (above)',
      { temperature: { medium: 80, high: 70, critical: 90 } },
      ['#/thresholds/temperature/high'],
    ],
    [
      'severities out of order (pressure is lower-is-worse)',
      { pressure: { medium: 8, high: 15, critical: 20 } },
      ['#/thresholds/pressure/high'],
    ],
    [
      'a clear threshold not inside the medium threshold (above)',
      { vibration: { medium: 4, high: 5, critical: 7, clear: 4 } },
      ['#/thresholds/vibration/clear'],
    ],
    [
      'a clear threshold not inside the medium threshold (below)',
      { pressure: { medium: 12, high: 10, critical: 5, clear: 11 } },
      ['#/thresholds/pressure/clear'],
    ],
    [
      'a threshold outside the physical range',
      { temperature: { medium: 60, high: 65, critical: 300 } },
      ['#/thresholds/temperature/critical'],
    ],
    ['no metric at all', {}, ['#/thresholds']],
    [
      'an unknown metric',
      { humidity: { medium: 1, high: 2, critical: 3 } },
      ['#/thresholds', '#/thresholds/humidity'],
    ],
    [
      'a missing severity',
      { temperature: { medium: 60, critical: 90 } },
      ['#/thresholds/temperature/high'],
    ],
  ];
  it.each(cases)('400 for %s', async (_name, thresholds, pointers) => {
    const { id } = await createEquipment();
    expect((await put(id, lowPressure)).status).toBe(201);
    await expectNothingChanged(async () => {
      expectPointers(await put(id, thresholds), path(id), pointers);
    });
  });
});

describe('equipment thresholds: who may do what', () => {
  it('401 without a token, and nothing changes', async () => {
    const { id } = await createEquipment();
    await expectNothingChanged(async () => {
      expectProblem(await call('GET', path(id)), 401);
      expectProblem(await call('PUT', path(id), { json: { thresholds: hot } }), 401);
    });
  });

  it('404 for unknown equipment, and nothing changes', async () => {
    await expectNothingChanged(async () => {
      expectProblem(await put(987654, hot), 404);
      expectProblem(await call('GET', path(987654), { token: tokens.admin }), 404);
    });
  });

  it('a technician reads the overrides of assigned equipment only, and may not write', async () => {
    const mine = await createEquipment();
    const other = await createEquipment();
    const tech = await createTechnician({ externalId: 'thresholds-tech' });
    const assigned = await call('PUT', `/api/equipment/${mine.id}/technicians/${tech.id}`, {
      token: tokens.admin,
    });
    expect(assigned.status).toBe(201);
    expect((await put(mine.id, hot)).status).toBe(201);
    expect((await put(other.id, hot)).status).toBe(201);

    const read = await call('GET', path(mine.id), { token: tokens.technician });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ thresholds: hot });
    expectProblem(await call('GET', path(other.id), { token: tokens.technician }), 404);

    await expectNothingChanged(async () => {
      expectProblem(await put(mine.id, lowPressure, { token: tokens.technician }), 403);
      expectProblem(await call('DELETE', path(mine.id), { token: tokens.technician }), 403);
    });
  });
});
