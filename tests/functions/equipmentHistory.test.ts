/**
 * /api/equipment/{id}/history and the change log behind it, against a real MariaDB database
 * and real signed tokens: every write appends its events in the write's transaction, the
 * history pages newest first with filters, and replaying it gives the row the API returns.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { replayEquipment } from '../../lib/api/history.js';
import type { EquipmentEvent } from '../../lib/api/historySchemas.js';
import { equipmentStatuses, type Equipment } from '../../lib/api/schemas.js';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { adminFixtures, excavator, unique } from '../helpers/fixtures.js';
import { expectQueryRefused, walkPages } from '../helpers/lists.js';
import { expectParameterProblem, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const adminSubject = 'admin-ada';
const tokens = useTokens(issuer, {
  admin: [['Admin'], adminSubject],
  technician: [['Technician'], 'tech-sub'],
  // Longer than change_events.actor holds: the event insert fails.
});
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment, createTechnician } = adminFixtures(tokens);

// Whatever the status values are spelt, the tests use three different ones.
const [statusA, statusB, statusC] = equipmentStatuses;

function body(equipment: Equipment): Record<string, unknown> {
  const { id: _id, version: _v, createdAt: _c, updatedAt: _u, ...writable } = equipment;
  return writable;
}

async function put(
  equipment: Equipment,
  changes: Record<string, unknown>,
  token = tokens.admin,
): Promise<ApiResult> {
  return call('PUT', `/api/equipment/${equipment.id}`, {
    token,
    json: { ...body(equipment), ...changes },
    headers: { 'if-match': `"${equipment.version}"` },
  });
}

async function change(equipment: Equipment, changes: Record<string, unknown>): Promise<Equipment> {
  const res = await put(equipment, changes);
  expect(res.status, res.text.slice(0, 500)).toBe(200);
  return res.body as Equipment;
}

/** The whole history, newest first, read page by page. */
async function history(id: number, query = '', token = tokens.admin): Promise<EquipmentEvent[]> {
  const events: EquipmentEvent[] = [];
  await walkPages(`/api/equipment/${id}/history${query}`, token, {
    idOf: (item: EquipmentEvent) => {
      events.push(item);
      return item.id;
    },
  });
  return events;
}

async function currentRow(id: number): Promise<Equipment> {
  const res = await call('GET', `/api/equipment/${id}`, { token: tokens.admin });
  expect(res.status).toBe(200);
  return res.body as Equipment;
}

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('equipment history', () => {
  it('shows an admin changing status and location twice, newest first, and replays to the row', async () => {
    const created = await createEquipment({ status: statusA, location: 'Quarry North' });
    const first = await change(created, { status: statusB, location: 'Workshop' });
    const second = await change(first, { status: statusC, location: 'Quarry South' });

    const events = await history(created.id);
    expect(events.map((e) => e.type)).toEqual([
      'LocationUpdated',
      'StatusChanged',
      'LocationUpdated',
      'StatusChanged',
      'EquipmentCreated',
    ]);
    expect(events.every((e) => e.actor === adminSubject && e.equipmentId === created.id)).toBe(
      true,
    );
    expect(events.slice(0, 2).map((e) => [e.before, e.after])).toEqual([
      [{ location: 'Workshop' }, { location: 'Quarry South' }],
      [{ status: statusB }, { status: statusC }],
    ]);
    expect(events.slice(2, 4).map((e) => [e.before, e.after])).toEqual([
      [{ location: 'Quarry North' }, { location: 'Workshop' }],
      [{ status: statusA }, { status: statusB }],
    ]);
    expect(events[0]?.version).toBe(second.version);
    expect(events[0]?.occurredAt).toBe(second.updatedAt);
    expect(events[4]?.after).toEqual(body(created));
    expect(replayEquipment([...events].reverse())).toEqual(await currentRow(created.id));
  });

  it('puts other field changes in one EquipmentUpdated, and a no-op replace still in the log', async () => {
    const created = await createEquipment();
    const renamed = await change(created, { name: 'Excavator 43', model: null });
    await change(renamed, {});
    const events = await history(created.id);
    expect(events.map((e) => [e.type, e.before, e.after])).toEqual([
      ['EquipmentUpdated', {}, {}],
      [
        'EquipmentUpdated',
        { name: created.name, model: created.model },
        { name: 'Excavator 43', model: null },
      ],
      ['EquipmentCreated', null, body(created)],
    ]);
    expect(replayEquipment([...events].reverse())).toEqual(await currentRow(created.id));
  });

  it('logs assignments and service records in the equipment history, with their actor', async () => {
    const equipment = await createEquipment();
    const technician = await createTechnician();
    const path = `/api/equipment/${equipment.id}/technicians/${technician.id}`;
    expect((await call('PUT', path, { token: tokens.admin })).status).toBe(201);
    expect((await call('PUT', path, { token: tokens.admin })).status).toBe(200);
    const record = await call('POST', '/api/service-records', {
      token: tokens.admin,
      json: {
        equipmentId: equipment.id,
        serviceType: 'inspection',
        status: 'completed',
        serviceDate: '2026-11-20T08:00:00Z',
        description: 'Checked the hydraulics',
      },
    });
    expect(record.status, record.text.slice(0, 500)).toBe(201);
    expect((await call('DELETE', path, { token: tokens.admin })).status).toBe(204);

    const events = await history(equipment.id);
    // The repeated (idempotent) assignment changed nothing, so it is not in the log.
    expect(events.map((e) => [e.type, e.actor, e.before, e.after])).toEqual([
      ['TechnicianUnassigned', adminSubject, { technicianId: technician.id }, null],
      ['ServiceRecorded', adminSubject, null, record.body],
      ['TechnicianAssigned', adminSubject, null, { technicianId: technician.id }],
      ['EquipmentCreated', adminSubject, null, body(equipment)],
    ]);
    expect(replayEquipment([...events].reverse())).toEqual(await currentRow(equipment.id));
  });

  it('records technician and service-record changes with actor and time', async () => {
    const technician = await createTechnician();
    const equipment = await createEquipment();
    const created = await call('POST', '/api/service-records', {
      token: tokens.admin,
      json: {
        equipmentId: equipment.id,
        serviceType: 'repair',
        status: 'scheduled',
        serviceDate: '2026-11-21T08:00:00Z',
        description: 'Replace a hose',
      },
    });
    expect(created.status).toBe(201);
    const recordId = (created.body as { id: number }).id;
    const {
      id: _id,
      alertId: _a,
      version: _v,
      createdAt: _c,
      updatedAt: _u,
      ...record
    } = created.body;
    const updated = await call('PUT', `/api/service-records/${recordId}`, {
      token: tokens.admin,
      json: { ...record, status: 'completed' },
      headers: { 'if-match': `"${created.body.version}"` },
    });
    expect(updated.status, updated.text.slice(0, 500)).toBe(200);
    const { id: _tid, version: _tv, createdAt: _tc, updatedAt: _tu, ...person } = technician;
    const renamed = await call('PUT', `/api/technicians/${technician.id}`, {
      token: tokens.admin,
      json: { ...person, name: 'Ana Lima-Berg' },
      headers: { 'if-match': `"${technician.version}"` },
    });
    expect(renamed.status, renamed.text.slice(0, 500)).toBe(200);

    const logged = await rows(
      `SELECT aggregate, aggregate_id, event_type, actor, occurred_at, before_state, after_state
         FROM change_events WHERE aggregate <> 'equipment' ORDER BY id`,
    );
    expect(
      logged.map((r): unknown[] => [
        r['aggregate'],
        r['aggregate_id'],
        r['event_type'],
        r['actor'],
      ]),
    ).toEqual([
      ['technician', technician.id, 'TechnicianCreated', adminSubject],
      ['service_record', recordId, 'ServiceRecordUpdated', adminSubject],
      ['technician', technician.id, 'TechnicianUpdated', adminSubject],
    ]);
    expect(logged.every((r) => r['occurred_at'] instanceof Date)).toBe(true);
    expect(logged[1]?.['after_state']).toEqual(updated.body);
    expect(logged[2]?.['before_state']).toEqual(technician);
  });

  it('keeps a deleted machine readable: its history ends in EquipmentDeleted and replays to nothing', async () => {
    const equipment = await createEquipment();
    const removed = await call('DELETE', `/api/equipment/${equipment.id}`, {
      token: tokens.admin,
      headers: { 'if-match': `"${equipment.version}"` },
    });
    expect(removed.status).toBe(204);
    const events = await history(equipment.id, '', tokens.technician);
    expect(events.map((e) => [e.type, e.actor, e.before])).toEqual([
      ['EquipmentDeleted', adminSubject, body(equipment)],
      ['EquipmentCreated', adminSubject, null],
    ]);
    expect(replayEquipment([...events].reverse())).toBeNull();
  });

  it('pages newest first without gaps or repeats, and lets technicians read', async () => {
    let equipment = await createEquipment();
    for (let i = 0; i < 6; i++) equipment = await change(equipment, { location: `Bay ${i}` });
    const all = await history(equipment.id);
    expect(all).toHaveLength(7);
    const paged = await walkPages(
      `/api/equipment/${equipment.id}/history?limit=2`,
      tokens.technician,
      {
        maxItems: 2,
      },
    );
    expect(paged.pages).toBe(4);
    expect(paged.ids).toEqual(all.map((e) => e.id));
    expect(paged.ids).toEqual([...paged.ids].sort((a, b) => b - a));
  });

  it('filters by event types (a comma list) and by time', async () => {
    let equipment = await createEquipment({ status: statusA });
    equipment = await change(equipment, { status: statusB });
    equipment = await change(equipment, { location: 'Workshop', name: 'Renamed' });
    equipment = await change(equipment, { status: statusC, location: 'Yard' });
    const all = await history(equipment.id);
    const path = `/api/equipment/${equipment.id}/history`;

    const statusOnly = await history(equipment.id, '?type=StatusChanged');
    expect(statusOnly.map((e) => e.id)).toEqual(
      all.filter((e) => e.type === 'StatusChanged').map((e) => e.id),
    );
    expect(statusOnly).toHaveLength(2);
    const two = await history(equipment.id, '?type=StatusChanged,%20LocationUpdated');
    expect(two.map((e) => e.id)).toEqual(
      all
        .filter((e) => e.type === 'StatusChanged' || e.type === 'LocationUpdated')
        .map((e) => e.id),
    );

    // A window taken from the log's own times, so no wall clock is involved.
    const times = [...new Set(all.map((e) => e.occurredAt))].sort();
    const from = times[1] ?? '';
    const to = times.at(-1) ?? '';
    const windowed = await history(
      equipment.id,
      `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    );
    expect(windowed.map((e) => e.id)).toEqual(
      all.filter((e) => e.occurredAt >= from && e.occurredAt < to).map((e) => e.id),
    );
    expect(windowed.length).toBeGreaterThan(0);
    const none = await call('GET', `${path}?type=EquipmentDeleted`, { token: tokens.admin });
    expect(none.body).toEqual({ items: [], nextCursor: null });
  });

  it('refuses an unknown type, a reversed range, a bad cursor or limit, an unknown parameter', async () => {
    const equipment = await createEquipment();
    const path = `/api/equipment/${equipment.id}/history`;
    await expectQueryRefused(path, '?type=Bogus', 'type', tokens.admin);
    await expectQueryRefused(path, '?type=StatusChanged,Bogus', 'type', tokens.admin);
    await expectQueryRefused(path, '?type=', 'type', tokens.admin);
    await expectQueryRefused(
      path,
      '?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z',
      'from',
      tokens.admin,
    );
    await expectQueryRefused(
      path,
      '?from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z',
      'from',
      tokens.admin,
    );
    await expectQueryRefused(path, '?to=2026-02-30T00:00:00Z', 'to', tokens.admin);
    await expectQueryRefused(path, '?cursor=bm90LWEtY3Vyc29y', 'cursor', tokens.admin);
    await expectQueryRefused(path, '?limit=0', 'limit', tokens.admin);
    await expectQueryRefused(path, '?actor=admin-ada', 'actor', tokens.admin);
  });

  it('answers 400 for a bad id, 404 for equipment that never existed, 401 without a token', async () => {
    expectParameterProblem(
      await call('GET', '/api/equipment/abc/history', { token: tokens.admin }),
      'id',
    );
    expectProblem(await call('GET', '/api/equipment/987654/history', { token: tokens.admin }), 404);
    const anonymous = await call('GET', '/api/equipment/1/history');
    expectProblem(anonymous, 401);
  });

  it('appends nothing when a change is refused (409, 412, 400, 403)', async () => {
    const equipment = await createEquipment();
    const other = await createEquipment();
    await expectNothingChanged(async () => {
      expect((await put(equipment, { serialNumber: other.serialNumber })).status).toBe(409);
      expect((await put({ ...equipment, version: 99 }, { status: statusB })).status).toBe(412);
      expect((await put(equipment, { status: 'not-a-status' })).status).toBe(400);
      expect((await put(equipment, { status: statusB }, tokens.technician)).status).toBe(403);
    });
  });

  it('does not make a change whose event cannot be recorded', async () => {
    const equipment = await createEquipment();
    // The log refuses every insert: the change must go with it.
    await db.pool.query(
      "CREATE TRIGGER refuse_events BEFORE INSERT ON change_events FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'",
    );
    try {
      await expectNothingChanged(async () => {
        expect((await put(equipment, { status: statusB }, tokens.admin)).status).toBe(500);
        const created = await call('POST', '/api/equipment', {
          token: tokens.admin,
          json: { ...excavator, serialNumber: `SN-${unique()}` },
        });
        expect(created.status).toBe(500);
      });
    } finally {
      await db.pool.query('DROP TRIGGER refuse_events');
    }
  });
});

describe('replaying the history', () => {
  const location = fc.constantFrom(null, 'Quarry North', 'Workshop', 'Yard');
  const step = fc.oneof(
    fc.record({ status: fc.constantFrom(...equipmentStatuses) }),
    fc.record({ location }),
    fc.record({ status: fc.constantFrom(...equipmentStatuses), location }),
    fc.record({
      name: fc.constantFrom('Excavator 42', 'Loader 7'),
      model: fc.constantFrom(null, 'X1'),
    }),
    fc.constant({}),
  );

  it('gives the row the API returns, for random sequences of changes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...equipmentStatuses),
        location,
        fc.array(step, { maxLength: 6 }),
        async (status, initialLocation, steps) => {
          let equipment = await createEquipment({ status, location: initialLocation });
          for (const changes of steps) equipment = await change(equipment, changes);
          const events = await history(equipment.id, '?limit=3');
          expect(replayEquipment([...events].reverse())).toEqual(await currentRow(equipment.id));
        },
      ),
      { numRuns: 25 },
    );
  });
});
