/**
 * /api/service-records against a real MariaDB database and real signed tokens: CRUD with
 * entity tags, every validation problem with its JSON pointer, foreign-key conflicts, list
 * filters and keyset paging, the technician ownership rules, and hostile strings. Every
 * refused write is checked to leave the table exactly as it was. What every CRUD resource
 * shares (ids, bodies, If-Match, authentication) also runs from tests/helpers/suites.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { singlePageIds, walkPages } from '../helpers/lists.js';
import { lookalikeSubjects } from '../helpers/audience.js';
import { expectProblem, problemTargets } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';
import {
  describeAuthentication,
  describeBodyParsing,
  describeConditionalReads,
  describeConditionalWrites,
  describeItemIds,
  type Item,
  type RoleCheckedResourceUnderTest,
  type TableResourceUnderTest,
} from '../helpers/suites.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin'], 'admin-1'],
  tech1: [['Technician'], 'tech-1'],
  tech2: [['Technician'], 'tech-2'],
  inactive: [['Technician'], 'tech-inactive'],
  unlinked: [['Technician'], 'nobody-here'],
  noRoles: [[], 'tech-1'],
  adminAndTechnician: [['Technician', 'Admin'], 'tech-2'],
});
const { rows, insert } = rowHelpers(db);

/** Ids of the rows every test starts with. */
const ids = { e1: 0, e2: 0, t1: 0, t2: 0, inactive: 0, unlinked: 0 };

async function insertEquipment(serial: string): Promise<number> {
  return insert('INSERT INTO equipment (serial_number, name, type, status) VALUES (?, ?, ?, ?)', [
    serial,
    `Machine ${serial}`,
    'excavator',
    'Operational',
  ]);
}

async function insertTechnician(
  externalId: string | null,
  email: string,
  active = true,
): Promise<number> {
  return insert(
    'INSERT INTO technicians (external_id, name, email, specialization, is_active) VALUES (?, ?, ?, ?, ?)',
    [externalId, `Tech ${email}`, email, 'hydraulics', active],
  );
}

async function insertRecord(values: {
  equipmentId?: number;
  technicianId?: number | null;
  status?: string;
  /** `YYYY-MM-DD`, as the DATE column holds it. */
  serviceDate: string;
  description?: string;
}): Promise<number> {
  return insert(
    `INSERT INTO service_records
       (equipment_id, technician_id, service_type, status, service_date, description)
     VALUES (?, ?, 'inspection', ?, ?, ?)`,
    [
      values.equipmentId ?? ids.e1,
      values.technicianId === undefined ? ids.t1 : values.technicianId,
      values.status ?? 'completed',
      values.serviceDate,
      values.description ?? 'seeded',
    ],
  );
}

beforeEach(async () => {
  await truncateAll(db.pool);
  ids.e1 = await insertEquipment('EQ-1');
  ids.e2 = await insertEquipment('EQ-2');
  ids.t1 = await insertTechnician('tech-1', 'tech1@example.com');
  ids.t2 = await insertTechnician('tech-2', 'tech2@example.com');
  ids.inactive = await insertTechnician('tech-inactive', 'gone@example.com', false);
  ids.unlinked = await insertTechnician(null, 'nologin@example.com');
  // Technicians record work on the equipment assigned to them: every technician looks after
  // e1, nobody after e2.
  for (const technicianId of [ids.t1, ids.t2, ids.inactive, ids.unlinked])
    await assign(ids.e1, technicianId);
});

async function assign(equipmentId: number, technicianId: number): Promise<void> {
  await db.pool.query(
    'INSERT INTO equipment_technicians (equipment_id, technician_id) VALUES (?, ?)',
    [equipmentId, technicianId],
  );
}

/** Every row of service_records, every column: what "unchanged" is compared against. */
function snapshot() {
  return rows('SELECT * FROM service_records ORDER BY id');
}

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    equipmentId: ids.e1,
    technicianId: ids.t1,
    serviceType: 'repair',
    status: 'completed',
    serviceDate: '2024-05-01',
    description: 'Replaced the boom cylinder hose',
    laborHours: 2.5,
    cost: 125.5,
    ...overrides,
  };
}

/** A problem for some path under /api/service-records. */
function expectRecordProblem(result: ApiResult, status: number): void {
  expectProblem(result, status, /^\/api\/service-records(\/|$)/);
}

async function create(token: string, overrides: Record<string, unknown> = {}): Promise<ApiResult> {
  return call('POST', '/api/service-records', { token, json: body(overrides) });
}

/** What the shared suites (tests/helpers/suites.ts) need to know about service records. */
const resource = {
  name: 'service records',
  path: '/api/service-records',
  db,
  issuer,
  // Read when the tests run; tech1 is the technician the shared suites act as.
  tokens: {
    get admin() {
      return tokens.admin;
    },
    get technician() {
      return tokens.tech1;
    },
  },
  create: async () => {
    const created = await create(tokens.admin);
    expect(created.status, created.text).toBe(201);
    return created.body as Item;
  },
  validBody: () => body(),
  table: 'service_records',
  textField: 'description',
} satisfies TableResourceUnderTest & RoleCheckedResourceUnderTest;

describe('service records: create, read, replace, delete', () => {
  it('round-trips a record with ETags, Location and a 412 on a stale If-Match', async () => {
    const created = await create(tokens.admin);
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    expect(created.body).toMatchObject(body());
    expect(created.body.version).toBe(1);
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as number;
    expect(created.headers.get('location')).toBe(`/api/service-records/${id}`);

    const read = await call('GET', `/api/service-records/${id}`, { token: tokens.tech2 });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers.get('etag')).toBe('"1"');

    const replaced = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ status: 'cancelled', laborHours: null, technicianId: null, cost: null }),
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      id,
      status: 'cancelled',
      laborHours: null,
      cost: null,
      technicianId: null,
      version: 2,
    });
    expect(replaced.headers.get('etag')).toBe('"2"');

    const before = await snapshot();
    const stalePut = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ description: 'lost update' }),
      headers: { 'if-match': '"1"' },
    });
    expectRecordProblem(stalePut, 412);
    expect(stalePut.headers.get('etag')).toBe('"2"');
    const staleDelete = await call('DELETE', `/api/service-records/${id}`, {
      token: tokens.admin,
      headers: { 'if-match': '"1"' },
    });
    expectRecordProblem(staleDelete, 412);
    expect(await snapshot()).toEqual(before);

    const deleted = await call('DELETE', `/api/service-records/${id}`, {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(await snapshot()).toEqual([]);

    const gone = await call('GET', `/api/service-records/${id}`, { token: tokens.admin });
    expectRecordProblem(gone, 404);
  });

  it('stores a date-time as its UTC date, defaults the status and keeps two decimals', async () => {
    const created = await call('POST', '/api/service-records', {
      token: tokens.admin,
      json: {
        equipmentId: ids.e2,
        serviceType: 'inspection',
        // 01:30 on the 10th in UTC+02:00 is still the 9th in UTC.
        serviceDate: '2024-03-10T01:30:00.250+02:00',
        description: 'Walk-around inspection',
        laborHours: 9999.99,
        cost: 99999999.99,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      equipmentId: ids.e2,
      technicianId: null,
      status: 'scheduled',
      serviceDate: '2024-03-09',
      laborHours: 9999.99,
      cost: 99999999.99,
    });
    const stored = await rows(
      'SELECT service_date, labor_hours, cost, status FROM service_records WHERE id = ?',
      [created.body.id],
    );
    expect(stored[0]?.['service_date']).toBe('2024-03-09');
    expect(stored[0]?.['labor_hours']).toBe(9999.99);
    expect(stored[0]?.['cost']).toBe(99999999.99);
  });

  it('accepts the boundaries: 4000, 50 and 20 characters, 0 hours and cost, 1900 and 2199', async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [
        { description: 'd'.repeat(4000), laborHours: 0, cost: 0 },
        { description: 'd'.repeat(4000), laborHours: 0, cost: 0 },
      ],
      [
        { serviceType: 't'.repeat(50), status: 's'.repeat(20) },
        { serviceType: 't'.repeat(50), status: 's'.repeat(20) },
      ],
      [{ serviceDate: '1900-01-01' }, { serviceDate: '1900-01-01' }],
      [{ serviceDate: '1900-01-01T00:00:00Z' }, { serviceDate: '1900-01-01' }],
      [{ serviceDate: '2199-12-31' }, { serviceDate: '2199-12-31' }],
      [{ serviceDate: '2199-12-31T23:59:59.999Z' }, { serviceDate: '2199-12-31' }],
    ];
    for (const [overrides, expected] of cases) {
      const created = await create(tokens.admin, overrides);
      expect(created.status, JSON.stringify(overrides).slice(0, 80)).toBe(201);
      expect(created.body).toMatchObject(expected);
    }
    expect(await snapshot()).toHaveLength(cases.length);
  });

  it('replaces unconditionally without If-Match, and with If-Match: *', async () => {
    const id = (await create(tokens.admin)).body.id as number;
    const first = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ description: 'no precondition' }),
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ description: 'no precondition', version: 2 });
    const second = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ description: 'any version' }),
      headers: { 'if-match': '*' },
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ description: 'any version', version: 3 });
    const listed = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ description: 'one of several' }),
      headers: { 'if-match': '"1", "3"' },
    });
    expect(listed.status).toBe(200);
    expect(listed.headers.get('etag')).toBe('"4"');
  });

  it('refuses weak and malformed If-Match values without changing the row', async () => {
    const id = (await create(tokens.admin)).body.id as number;
    const before = await snapshot();
    const weak = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: body({ description: 'weak' }),
      headers: { 'if-match': 'W/"1"' },
    });
    expectRecordProblem(weak, 412);
    const malformed = await call('DELETE', `/api/service-records/${id}`, {
      token: tokens.admin,
      headers: { 'if-match': '1' },
    });
    expectRecordProblem(malformed, 400);
    expect(await snapshot()).toEqual(before);
  });

  it('answers 404 for unknown ids and 400 for ids that are not positive whole numbers', async () => {
    const id = (await create(tokens.admin)).body.id as number;
    const before = await snapshot();
    const unknown = id + 1000;
    expectRecordProblem(
      await call('GET', `/api/service-records/${unknown}`, { token: tokens.admin }),
      404,
    );
    expectRecordProblem(
      await call('PUT', `/api/service-records/${unknown}`, {
        token: tokens.admin,
        json: body(),
        headers: { 'if-match': '"1"' },
      }),
      404,
    );
    expectRecordProblem(
      await call('DELETE', `/api/service-records/${unknown}`, { token: tokens.admin }),
      404,
    );
    for (const bad of [
      'abc',
      '0',
      '-1',
      '1e3',
      '1.5',
      '99999999999999999999',
      '%20' + String(id),
    ]) {
      const result = await call('GET', `/api/service-records/${bad}`, { token: tokens.admin });
      expectRecordProblem(result, 400);
      expect(result.body.type).toBe('urn:sis:problem:validation');
    }
    expectRecordProblem(
      await call('DELETE', `/api/service-records/abc`, { token: tokens.admin }),
      400,
    );
    expect(await snapshot()).toEqual(before);
  });
  it('names the id parameter when a path id is refused', async () => {
    const result = await call('GET', '/api/service-records/abc', { token: tokens.admin });
    expectRecordProblem(result, 400);
    expect(problemTargets(result)).toEqual(['id']);
  });
});

describeItemIds(resource);

describeConditionalWrites(resource);
describeConditionalReads(resource);

describe('service records: validation', () => {
  const cases: [string, () => Record<string, unknown>, string][] = [
    [
      'serviceDate without a time zone',
      () => body({ serviceDate: '2024-05-01T08:00:00' }),
      '#/serviceDate',
    ],
    [
      'serviceDate with a one-digit month',
      () => body({ serviceDate: '2024-5-01' }),
      '#/serviceDate',
    ],
    ['serviceDate on 30 February', () => body({ serviceDate: '2026-02-30' }), '#/serviceDate'],
    [
      'serviceDate on 29 February of a common year (date)',
      () => body({ serviceDate: '2023-02-29' }),
      '#/serviceDate',
    ],
    ['serviceDate in month 13', () => body({ serviceDate: '2026-13-01' }), '#/serviceDate'],
    [
      'serviceDate as a date before 1900',
      () => body({ serviceDate: '1899-12-31' }),
      '#/serviceDate',
    ],
    ['serviceDate as a date in 2200', () => body({ serviceDate: '2200-01-01' }), '#/serviceDate'],
    ['serviceDate that is not a date', () => body({ serviceDate: 'yesterday' }), '#/serviceDate'],
    [
      'serviceDate on 29 February of a common year',
      () => body({ serviceDate: '2023-02-29T10:00:00Z' }),
      '#/serviceDate',
    ],
    [
      'serviceDate before 1900',
      () => body({ serviceDate: '1899-12-31T23:59:59Z' }),
      '#/serviceDate',
    ],
    ['serviceDate in 2200', () => body({ serviceDate: '2200-01-01T00:00:00Z' }), '#/serviceDate'],
    [
      'serviceDate in year 0001',
      () => body({ serviceDate: '0001-01-01T00:00:00Z' }),
      '#/serviceDate',
    ],
    ['serviceDate as a number', () => body({ serviceDate: 1714550400000 }), '#/serviceDate'],
    ['negative laborHours', () => body({ laborHours: -0.5 }), '#/laborHours'],
    ['laborHours with three decimals', () => body({ laborHours: 1.234 }), '#/laborHours'],
    ['laborHours as a string', () => body({ laborHours: '2.5' }), '#/laborHours'],
    ['laborHours over the column range', () => body({ laborHours: 10000 }), '#/laborHours'],
    ['negative cost', () => body({ cost: -0.01 }), '#/cost'],
    ['cost with three decimals', () => body({ cost: 125.505 }), '#/cost'],
    ['cost with a float tail', () => body({ cost: 0.1 + 0.2 }), '#/cost'],
    ['cost over DECIMAL(10,2)', () => body({ cost: 100000000 }), '#/cost'],
    ['cost as a string', () => body({ cost: '125.50' }), '#/cost'],
    [
      'serviceType over 50 characters',
      () => body({ serviceType: 't'.repeat(51) }),
      '#/serviceType',
    ],
    ['blank serviceType', () => body({ serviceType: '  ' }), '#/serviceType'],
    ['serviceType as a number', () => body({ serviceType: 3 }), '#/serviceType'],
    ['missing serviceType', () => body({ serviceType: undefined }), '#/serviceType'],
    ['status over 20 characters', () => body({ status: 's'.repeat(21) }), '#/status'],
    ['blank status', () => body({ status: '' }), '#/status'],
    [
      'description over 4000 characters',
      () => body({ description: 'x'.repeat(4001) }),
      '#/description',
    ],
    ['blank description', () => body({ description: '   ' }), '#/description'],
    ['missing description', () => body({ description: undefined }), '#/description'],
    ['unknown field', () => body({ notes: 'not a field' }), '#/notes'],
    ['unknown field needing pointer escapes', () => body({ 'a/b~c': 1 }), '#/a~1b~0c'],
    ['missing equipmentId', () => body({ equipmentId: undefined }), '#/equipmentId'],
    ['equipmentId zero', () => body({ equipmentId: 0 }), '#/equipmentId'],
    ['equipmentId fractional', () => body({ equipmentId: 1.5 }), '#/equipmentId'],
    ['equipmentId null', () => body({ equipmentId: null }), '#/equipmentId'],
    ['equipmentId as a string', () => body({ equipmentId: String(ids.e1) }), '#/equipmentId'],
    ['equipmentId as a boolean', () => body({ equipmentId: true }), '#/equipmentId'],
    ['technicianId negative', () => body({ technicianId: -3 }), '#/technicianId'],
    ['technicianId as a boolean', () => body({ technicianId: true }), '#/technicianId'],
    ['technicianId as an array', () => body({ technicianId: [ids.t1] }), '#/technicianId'],
  ];

  it.each(cases)('POST with %s is a 400 pointing at the field', async (_name, make, pointer) => {
    const before = await snapshot();
    const result = await call('POST', '/api/service-records', {
      token: tokens.admin,
      json: make(),
    });
    expectRecordProblem(result, 400);
    expect(result.body.type).toBe('urn:sis:problem:validation');
    expect(problemTargets(result)).toContain(pointer);
    expect(await snapshot()).toEqual(before);
  });

  it.each(cases)('PUT with %s is a 400 and the row is unchanged', async (_name, make, pointer) => {
    const id = await insertRecord({ serviceDate: '2024-01-01' });
    const before = await snapshot();
    const result = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.admin,
      json: make(),
      headers: { 'if-match': '"1"' },
    });
    expectRecordProblem(result, 400);
    expect(problemTargets(result)).toContain(pointer);
    expect(await snapshot()).toEqual(before);
  });

  it('lists every problem of a body at once, each with its own pointer', async () => {
    const result = await create(tokens.admin, {
      serviceDate: '2024-05-01T08:00:00',
      laborHours: -1,
      serviceType: 'o'.repeat(51),
      cost: -1,
      extra: true,
    });
    expectRecordProblem(result, 400);
    expect(problemTargets(result).sort()).toEqual(
      ['#/cost', '#/extra', '#/laborHours', '#/serviceDate', '#/serviceType'].sort(),
    );
    for (const problem of result.body.errors as { detail: unknown }[]) {
      expect(problem.detail).toEqual(expect.any(String));
    }
    expect(await snapshot()).toEqual([]);
  });

  it('refuses bodies that are not a JSON object: malformed, empty, array, wrong type, too large', async () => {
    const raw = async (payload: string | Uint8Array, contentType = 'application/json') =>
      call('POST', '/api/service-records', {
        token: tokens.admin,
        raw: payload,
        headers: { 'content-type': contentType },
      });
    expectRecordProblem(await raw('{"equipmentId": 1,'), 400);
    expectRecordProblem(await raw(''), 400);
    expectRecordProblem(await raw('[]'), 400);
    expectRecordProblem(await raw('null'), 400);
    expectRecordProblem(await raw(new Uint8Array([0x7b, 0xff, 0x7d])), 400);
    expectRecordProblem(await raw(JSON.stringify(body()), 'text/plain'), 415);
    const huge = JSON.stringify(body({ description: 'x'.repeat(1024 * 1024) }));
    expectRecordProblem(await raw(huge), 413);
    expectRecordProblem(
      await call('POST', '/api/service-records', {
        token: tokens.admin,
        raw: JSON.stringify(body()),
      }),
      415,
    );
    expect(await snapshot()).toEqual([]);
  });
});

describeBodyParsing(resource);

describe('service records: foreign keys', () => {
  it('answers 409 naming the field when equipmentId or technicianId does not exist', async () => {
    const missingEquipment = await create(tokens.admin, { equipmentId: ids.e2 + 1000 });
    expectRecordProblem(missingEquipment, 409);
    expect(problemTargets(missingEquipment)).toEqual(['#/equipmentId']);
    const missingTechnician = await create(tokens.admin, { technicianId: ids.unlinked + 1000 });
    expectRecordProblem(missingTechnician, 409);
    expect(problemTargets(missingTechnician)).toEqual(['#/technicianId']);
    const largest = await create(tokens.admin, { equipmentId: Number.MAX_SAFE_INTEGER });
    expectRecordProblem(largest, 409);
    expect(await snapshot()).toEqual([]);
  });

  it('answers 409 on replace too, leaving the row as it was', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01' });
    const before = await snapshot();
    for (const overrides of [{ equipmentId: ids.e2 + 1000 }, { technicianId: ids.t2 + 1000 }]) {
      const result = await call('PUT', `/api/service-records/${id}`, {
        token: tokens.admin,
        json: body(overrides),
        headers: { 'if-match': '"1"' },
      });
      expectRecordProblem(result, 409);
      expect(problemTargets(result)).toEqual([`#/${Object.keys(overrides)[0] ?? ''}`]);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('service records: lists', () => {
  /** Seeds a varied set and returns the ids by name. */
  async function seed() {
    return {
      a: await insertRecord({ serviceDate: '2024-01-10', status: 'completed' }),
      b: await insertRecord({
        serviceDate: '2024-02-01',
        status: 'scheduled',
        technicianId: ids.t2,
      }),
      c: await insertRecord({
        serviceDate: '2024-02-01',
        status: 'completed',
        equipmentId: ids.e2,
      }),
      d: await insertRecord({
        serviceDate: '2024-03-15',
        status: 'in_progress',
        equipmentId: ids.e2,
        technicianId: ids.t2,
      }),
      e: await insertRecord({
        serviceDate: '2023-12-31',
        status: 'cancelled',
        technicianId: null,
      }),
    };
  }

  const listIds = (query: string, token = tokens.tech1) =>
    singlePageIds(`/api/service-records${query}`, token);

  it('orders newest service date first, then by id descending', async () => {
    const r = await seed();
    expect(await listIds('')).toEqual([r.d, r.c, r.b, r.a, r.e]);
    const result = await call('GET', '/api/service-records', { token: tokens.admin });
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.body.items[0]).toMatchObject({
      id: r.d,
      equipmentId: ids.e2,
      technicianId: ids.t2,
      status: 'in_progress',
      serviceDate: '2024-03-15',
    });
  });

  it('filters by equipmentId, technicianId and status, alone and combined', async () => {
    const r = await seed();
    expect(await listIds(`?equipmentId=${ids.e2}`)).toEqual([r.d, r.c]);
    expect(await listIds(`?technicianId=${ids.t2}`)).toEqual([r.d, r.b]);
    expect(await listIds(`?technicianId=${ids.t1}`)).toEqual([r.c, r.a]);
    expect(await listIds('?status=completed')).toEqual([r.c, r.a]);
    expect(await listIds(`?equipmentId=${ids.e1}&status=completed`)).toEqual([r.a]);
    expect(await listIds(`?equipmentId=${ids.e2}&technicianId=${ids.t2}`)).toEqual([r.d]);
    expect(await listIds(`?equipmentId=${ids.e2 + 1000}`)).toEqual([]);
  });

  it('treats from as inclusive and to as exclusive, a date-time as its UTC date', async () => {
    const r = await seed();
    expect(await listIds('?from=2024-02-01')).toEqual([r.d, r.c, r.b]);
    expect(await listIds('?to=2024-02-01')).toEqual([r.a, r.e]);
    expect(await listIds('?from=2024-01-01&to=2024-03-15')).toEqual([r.c, r.b, r.a]);
    expect(await listIds('?from=2024-03-16')).toEqual([]);
    expect(await listIds('?to=2024-01-01')).toEqual([r.e]);
    expect(await listIds('?from=2024-02-01T00:00:00Z')).toEqual([r.d, r.c, r.b]);
    // 01:00 at +01:00 is midnight UTC; 23:30 at -01:00 is already the next day in UTC.
    expect(await listIds(`?from=${encodeURIComponent('2024-02-01T01:00:00+01:00')}`)).toEqual([
      r.d,
      r.c,
      r.b,
    ]);
    expect(await listIds(`?to=${encodeURIComponent('2024-01-31T23:30:00-01:00')}`)).toEqual([
      r.a,
      r.e,
    ]);
    expect(await listIds(`?status=completed&from=2024-02-01&to=2024-02-02`)).toEqual([r.c]);
  });

  const badQueries: [string, string, string][] = [
    ['from equal to to', '?from=2024-02-01&to=2024-02-01', 'from'],
    ['from after to', '?from=2024-03-01&to=2024-02-01', 'from'],
    [
      'from and to on the same UTC date',
      '?from=2024-02-01T00:00:00Z&to=2024-02-01T23:00:00Z',
      'from',
    ],
    ['from without a zone', '?from=2024-02-01T00:00:00', 'from'],
    ['to that is not a date', '?to=soon', 'to'],
    ['to on 30 February', '?to=2026-02-30', 'to'],
    ['from in 1800', '?from=1800-01-01', 'from'],
    ['status over 20 characters', `?status=${'s'.repeat(21)}`, 'status'],
    ['equipmentId that is not a number', '?equipmentId=abc', 'equipmentId'],
    ['equipmentId with SQL', `?equipmentId=${encodeURIComponent('1 OR 1=1')}`, 'equipmentId'],
    ['technicianId zero', '?technicianId=0', 'technicianId'],
    ['limit zero', '?limit=0', 'limit'],
    ['limit over 200', '?limit=201', 'limit'],
    ['limit fractional', '?limit=2.5', 'limit'],
    ['unknown parameter', '?sort=id', 'sort'],
    ['a parameter given twice', '?status=completed&status=scheduled', 'status'],
    ['a cursor that was never issued', '?cursor=not-a-cursor', 'cursor'],
    [
      'a cursor with the wrong shape',
      `?cursor=${Buffer.from(JSON.stringify([5])).toString('base64url')}`,
      'cursor',
    ],
    [
      'a cursor with a bad date',
      `?cursor=${Buffer.from(JSON.stringify(['yesterday', 5])).toString('base64url')}`,
      'cursor',
    ],
    [
      'a cursor with a date-time where the date goes',
      `?cursor=${Buffer.from(JSON.stringify(['2024-02-01T00:00:00.000Z', 5])).toString('base64url')}`,
      'cursor',
    ],
    ['a cursor with SQL', `?cursor=${encodeURIComponent("' OR 1=1 --")}`, 'cursor'],
  ];

  it.each(badQueries)('refuses %s with a 400 naming the parameter', async (_name, query, name) => {
    await seed();
    const result = await call('GET', `/api/service-records${query}`, { token: tokens.admin });
    expectRecordProblem(result, 400);
    expect(problemTargets(result)).toContain(name);
  });

  it('pages through records sharing a service date without duplicates or gaps', async () => {
    const shared = '2024-06-01';
    const seeded: number[] = [];
    for (let i = 0; i < 7; i++) seeded.push(await insertRecord({ serviceDate: shared }));
    seeded.push(await insertRecord({ serviceDate: '2024-06-02' }));
    seeded.push(await insertRecord({ serviceDate: '2024-05-31' }));
    seeded.push(await insertRecord({ serviceDate: shared, equipmentId: ids.e2 }));
    seeded.push(await insertRecord({ serviceDate: '2024-06-02' }));
    const stored = await rows('SELECT id FROM service_records ORDER BY service_date DESC, id DESC');
    const expected = stored.map((row) => Number(row['id']));
    expect(expected).toHaveLength(seeded.length);

    for (const limit of [1, 2, 3, 4, 200]) {
      const { ids: seen, pages } = await walkPages(
        `/api/service-records?limit=${limit}`,
        tokens.tech1,
        { maxItems: limit, maxPages: seeded.length + 1 },
      );
      expect(seen, `limit ${limit}`).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
    }
  });

  it('keeps filtering while paging, and rows inserted mid-walk cause no duplicates', async () => {
    const shared = '2024-06-01';
    for (let i = 0; i < 5; i++) {
      await insertRecord({ serviceDate: shared, equipmentId: ids.e1 });
      await insertRecord({ serviceDate: shared, equipmentId: ids.e2 });
    }
    const first = await call('GET', `/api/service-records?equipmentId=${ids.e2}&limit=2`, {
      token: tokens.admin,
    });
    expect(first.status).toBe(200);
    const seen = (first.body.items as { id: number }[]).map((i) => i.id);
    // Newer than the cursor (same date, higher id): sorts before it, so never shown.
    const newer = await insertRecord({ serviceDate: shared, equipmentId: ids.e2 });
    // Older than everything: shown at the end.
    const older = await insertRecord({ serviceDate: '2020-01-01', equipmentId: ids.e2 });
    let cursor = first.body.nextCursor as string | null;
    while (cursor) {
      const page = await call(
        'GET',
        `/api/service-records?equipmentId=${ids.e2}&limit=2&cursor=${cursor}`,
        { token: tokens.admin },
      );
      expect(page.status).toBe(200);
      for (const item of page.body.items as { equipmentId: number; id: number }[]) {
        expect(item.equipmentId).toBe(ids.e2);
        seen.push(item.id);
      }
      cursor = page.body.nextCursor as string | null;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).not.toContain(newer);
    expect(seen.at(-1)).toBe(older);
    expect(seen).toHaveLength(6);
  });

  it('defaults to 50 items a page', async () => {
    const values = Array.from({ length: 51 }, (_, i) => [
      ids.e1,
      'inspection',
      'completed',
      new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10),
      `bulk ${i}`,
    ]);
    await db.pool.query(
      'INSERT INTO service_records (equipment_id, service_type, status, service_date, description) VALUES ?',
      [values],
    );
    const page = await call('GET', '/api/service-records', { token: tokens.admin });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(50);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    expect(page.body.items[0].description).toBe('bulk 50');
    const rest = await call(
      'GET',
      `/api/service-records?cursor=${page.body.nextCursor as string}`,
      { token: tokens.admin },
    );
    expect((rest.body.items as { description: string }[]).map((i) => i.description)).toEqual([
      'bulk 0',
    ]);
    expect(rest.body.nextCursor).toBeNull();
  });
});

describe('service records: technicians', () => {
  it('lets a technician create a record naming themselves', async () => {
    const created = await create(tokens.tech1, { technicianId: ids.t1 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ technicianId: ids.t1, version: 1 });
    expect(await snapshot()).toHaveLength(1);
  });

  it('answers a technician posting a bad body with 400 or 415, not 403: they may write records', async () => {
    const post = (options: { json?: unknown; raw?: string | Uint8Array; contentType?: string }) =>
      call('POST', '/api/service-records', {
        token: tokens.tech1,
        ...(options.json === undefined ? {} : { json: options.json }),
        ...(options.raw === undefined ? {} : { raw: options.raw }),
        headers: { 'content-type': options.contentType ?? 'application/json' },
      });
    const invalid = await post({ json: body({ serviceType: 'o'.repeat(51), laborHours: -1 }) });
    expectRecordProblem(invalid, 400);
    expect(problemTargets(invalid).sort()).toEqual(['#/laborHours', '#/serviceType']);
    const empty = await post({ json: {} });
    expectRecordProblem(empty, 400);
    expect(problemTargets(empty)).toEqual(
      expect.arrayContaining(['#/equipmentId', '#/serviceType', '#/serviceDate']),
    );
    expectRecordProblem(await post({ json: { bogus: true } }), 400);
    expectRecordProblem(await post({ raw: '{"equipmentId": 1,' }), 400);
    expectRecordProblem(await post({ raw: '' }), 400);
    expectRecordProblem(await post({ raw: new Uint8Array([0x7b, 0xff, 0x7d]) }), 400);
    expectRecordProblem(
      await post({ raw: JSON.stringify(body()), contentType: 'text/plain' }),
      415,
    );
    expect(await snapshot()).toEqual([]);
  });

  it('answers a technician putting a bad body over their own record with 400', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const before = await snapshot();
    const path = `/api/service-records/${id}`;
    const invalid = await call('PUT', path, {
      token: tokens.tech1,
      json: body({ status: 'd'.repeat(21) }),
      headers: { 'if-match': '"1"' },
    });
    expectRecordProblem(invalid, 400);
    expect(problemTargets(invalid)).toEqual(['#/status']);
    const malformed = await call('PUT', path, {
      token: tokens.tech1,
      raw: '{"equipmentId": 1,',
      headers: { 'content-type': 'application/json', 'if-match': '"1"' },
    });
    expectRecordProblem(malformed, 400);
    expect(await snapshot()).toEqual(before);
  });

  it('answers 403 to a token without a product role before reading its body', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const before = await snapshot();
    const json = { 'content-type': 'application/json' };
    for (const options of [
      { json: {} },
      { raw: '{"equipmentId": 1,', headers: json },
      { raw: JSON.stringify(body()), headers: { 'content-type': 'text/plain' } },
    ]) {
      expectRecordProblem(
        await call('POST', '/api/service-records', { ...options, token: tokens.noRoles }),
        403,
      );
      expectRecordProblem(
        await call('PUT', `/api/service-records/${id}`, { ...options, token: tokens.noRoles }),
        403,
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a technician creating a record for someone else, or for nobody', async () => {
    for (const technicianId of [ids.t2, ids.unlinked, null, undefined]) {
      const result = await create(tokens.tech1, { technicianId });
      expectRecordProblem(result, 403);
    }
    expect(await snapshot()).toEqual([]);
  });

  it('lets a technician replace their own record', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const replaced = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.tech1,
      json: body({ status: 'completed', description: 'Done' }),
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id, description: 'Done', version: 2 });
  });

  it("refuses a technician replacing someone else's record, even naming themselves", async () => {
    const theirs = await insertRecord({
      serviceDate: '2024-01-01',
      technicianId: ids.t2,
    });
    const nobodys = await insertRecord({ serviceDate: '2024-01-02', technicianId: null });
    const before = await snapshot();
    for (const [id, technicianId] of [
      [theirs, ids.t2],
      [theirs, ids.t1],
      [nobodys, ids.t1],
    ] as const) {
      const result = await call('PUT', `/api/service-records/${id}`, {
        token: tokens.tech1,
        json: body({ technicianId, description: 'taken over' }),
        headers: { 'if-match': '"1"' },
      });
      expectRecordProblem(result, 403);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a technician handing their own record to someone else', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const before = await snapshot();
    for (const technicianId of [ids.t2, null]) {
      const result = await call('PUT', `/api/service-records/${id}`, {
        token: tokens.tech1,
        json: body({ technicianId }),
      });
      expectRecordProblem(result, 403);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a deactivated technician creating or replacing their own records', async () => {
    const id = await insertRecord({
      serviceDate: '2024-01-01',
      technicianId: ids.inactive,
    });
    const before = await snapshot();
    expectRecordProblem(await create(tokens.inactive, { technicianId: ids.inactive }), 403);
    expectRecordProblem(
      await call('PUT', `/api/service-records/${id}`, {
        token: tokens.inactive,
        json: body({ technicianId: ids.inactive }),
      }),
      403,
    );
    expect(await snapshot()).toEqual(before);
    const reads = await call('GET', `/api/service-records/${id}`, { token: tokens.inactive });
    expect(reads.status).toBe(200);
  });

  it('refuses a technician token whose subject has no technician row', async () => {
    const id = await insertRecord({
      serviceDate: '2024-01-01',
      technicianId: ids.unlinked,
    });
    const before = await snapshot();
    for (const technicianId of [ids.unlinked, ids.t1]) {
      expectRecordProblem(await create(tokens.unlinked, { technicianId }), 403);
      expectRecordProblem(
        await call('PUT', `/api/service-records/${id}`, {
          token: tokens.unlinked,
          json: body({ technicianId }),
        }),
        403,
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each([...lookalikeSubjects('tech-1'), 'tech-'])(
    'does not link a subject that only resembles the technician’s to their row (sub %j)',
    async (subject) => {
      const token = await issuer.token(['Technician'], subject);
      const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
      const before = await snapshot();
      expectRecordProblem(await create(token, { technicianId: ids.t1 }), 403);
      expectRecordProblem(
        await call('PUT', `/api/service-records/${id}`, {
          token,
          json: body({ technicianId: ids.t1, description: 'borrowed identity' }),
        }),
        403,
      );
      expect(await snapshot()).toEqual(before);
    },
  );

  it('refuses a technician creating a record for equipment not assigned to them (403)', async () => {
    const result = await create(tokens.tech1, { equipmentId: ids.e2 });
    expectRecordProblem(result, 403);
    expect(result.body.detail).toBe(
      `Equipment ${ids.e2} is not assigned to you; technicians may only record work on their assigned equipment.`,
    );
    // Nor for equipment that does not exist: it is not theirs either.
    expectRecordProblem(await create(tokens.tech1, { equipmentId: ids.e2 + 1000 }), 403);
    expect(await snapshot()).toEqual([]);
  });

  it('refuses a technician moving their own record onto equipment not assigned to them', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const before = await snapshot();
    const result = await call('PUT', `/api/service-records/${id}`, {
      token: tokens.tech1,
      json: body({ equipmentId: ids.e2 }),
      headers: { 'if-match': '"1"' },
    });
    expectRecordProblem(result, 403);
    expect(result.body.detail).toContain(`Equipment ${ids.e2} is not assigned to you`);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a technician changing or moving their own record on equipment no longer theirs', async () => {
    // Recorded on e2 (by an admin, or before an unassignment): it stays as it is.
    const id = await insertRecord({
      serviceDate: '2024-01-01',
      technicianId: ids.t1,
      equipmentId: ids.e2,
    });
    const before = await snapshot();
    for (const equipmentId of [ids.e2, ids.e1]) {
      const result = await call('PUT', `/api/service-records/${id}`, {
        token: tokens.tech1,
        json: body({ equipmentId, description: 'moved' }),
      });
      expectRecordProblem(result, 403);
      expect(result.body.detail).toContain(`Equipment ${ids.e2} is not assigned to you`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('lets a technician record work on equipment once it is assigned to them', async () => {
    expectRecordProblem(await create(tokens.tech1, { equipmentId: ids.e2 }), 403);
    await assign(ids.e2, ids.t1);
    const created = await create(tokens.tech1, { equipmentId: ids.e2 });
    expect(created.status, created.text).toBe(201);
    const moved = await call('PUT', `/api/service-records/${created.body.id}`, {
      token: tokens.tech1,
      json: body({ equipmentId: ids.e1 }),
    });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body).toMatchObject({ equipmentId: ids.e1, version: 2 });
  });

  it('lets an admin record work for a technician on any equipment', async () => {
    const created = await create(tokens.admin, { equipmentId: ids.e2, technicianId: ids.t1 });
    expect(created.status, created.text).toBe(201);
    const moved = await call('PUT', `/api/service-records/${created.body.id}`, {
      token: tokens.admin,
      json: body({ equipmentId: ids.e1, technicianId: ids.t2 }),
    });
    expect(moved.status, moved.text).toBe(200);
  });

  it('refuses a technician deleting any record, including their own', async () => {
    const own = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const other = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t2 });
    const before = await snapshot();
    for (const id of [own, other]) {
      expectRecordProblem(
        await call('DELETE', `/api/service-records/${id}`, {
          token: tokens.tech1,
          headers: { 'if-match': '"1"' },
        }),
        403,
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses every operation to a token with no product role', async () => {
    const id = await insertRecord({ serviceDate: '2024-01-01', technicianId: ids.t1 });
    const before = await snapshot();
    expectRecordProblem(await call('GET', '/api/service-records', { token: tokens.noRoles }), 403);
    expectRecordProblem(
      await call('GET', `/api/service-records/${id}`, { token: tokens.noRoles }),
      403,
    );
    expectRecordProblem(await create(tokens.noRoles, { technicianId: ids.t1 }), 403);
    expectRecordProblem(
      await call('PUT', `/api/service-records/${id}`, { token: tokens.noRoles, json: body() }),
      403,
    );
    expectRecordProblem(
      await call('DELETE', `/api/service-records/${id}`, { token: tokens.noRoles }),
      403,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('lets technicians read every record, whoever it belongs to', async () => {
    const theirs = await insertRecord({
      serviceDate: '2024-01-01',
      technicianId: ids.t2,
    });
    const read = await call('GET', `/api/service-records/${theirs}`, { token: tokens.tech1 });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: theirs, technicianId: ids.t2 });
    const list = await call('GET', `/api/service-records?technicianId=${ids.t2}`, {
      token: tokens.unlinked,
    });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
  });

  it('lets an Admin who is also a Technician do everything', async () => {
    const created = await create(tokens.adminAndTechnician, { technicianId: ids.t1 });
    expect(created.status).toBe(201);
    const replaced = await call('PUT', `/api/service-records/${created.body.id}`, {
      token: tokens.adminAndTechnician,
      json: body({ technicianId: ids.inactive }),
    });
    expect(replaced.status).toBe(200);
    const deleted = await call('DELETE', `/api/service-records/${created.body.id}`, {
      token: tokens.adminAndTechnician,
    });
    expect(deleted.status).toBe(204);
  });
});

describeAuthentication(resource);

describe('service records: hostile strings', () => {
  const hostile: [string, string][] = [
    ['SQL injection', "'; DROP TABLE service_records; --"],
    ['SQL with a comment and union', "1' UNION SELECT password FROM mysql.user /*"],
    ['quotes and backslashes', `"double" 'single' \`back\` \\ \\' \\0 \\n`],
    ['a NUL byte', 'before\u0000after'],
    ['emoji and joiners', 'Hydraulics 🚜🔧 done by 👩🏽‍🔧, 5⭐'],
    ['right-to-left override and zero-width', 'abc\u202Edef\u200Bghi'],
    ['LIKE wildcards', '100% of _ parts'],
    ['markup', '<script>alert("x")</script><img src=x onerror=alert(1)>'],
    ['control characters', 'tab\there\r\nnext line\u0007bell'],
    ['2000 astral characters (4000 UTF-16 units)', '🔧'.repeat(2000)],
    ['exactly 4000 characters', 'Ω'.repeat(4000)],
  ];

  it.each(hostile)('stores %s verbatim', async (_name, description) => {
    const created = await create(tokens.admin, { description });
    expect(created.status, created.text.slice(0, 300)).toBe(201);
    expect(created.body.description).toBe(description);
    const read = await call('GET', `/api/service-records/${created.body.id}`, {
      token: tokens.admin,
    });
    expect(read.body.description).toBe(description);
    const stored = await rows('SELECT description FROM service_records WHERE id = ?', [
      created.body.id,
    ]);
    expect(stored[0]?.['description']).toBe(description);
    expect(await rows('SELECT COUNT(*) AS n FROM equipment')).toEqual([{ n: 2 }]);
  });

  it('rejects 10,000 characters cleanly and stores nothing', async () => {
    const result = await create(tokens.admin, { description: "'".repeat(10_000) });
    expectRecordProblem(result, 400);
    expect(problemTargets(result)).toEqual(['#/description']);
    expect(await snapshot()).toEqual([]);
  });

  it('either stores a lone surrogate verbatim or rejects it cleanly', async () => {
    const description = 'broken \ud800 surrogate';
    const created = await create(tokens.admin, { description });
    expect(created.status).toBeLessThan(500);
    if (created.status === 201) {
      const stored = await rows('SELECT description FROM service_records WHERE id = ?', [
        created.body.id,
      ]);
      expect(stored[0]?.['description']).toBe(description);
    } else {
      expectRecordProblem(created, 400);
      expect(await snapshot()).toEqual([]);
    }
  });

  it('treats hostile filter values as data', async () => {
    await insertRecord({ serviceDate: '2024-01-01', status: 'completed' });
    // status is free text: SQL in it is a status no record has.
    const asStatus = await call(
      'GET',
      `/api/service-records?status=${encodeURIComponent("completed' OR '1'='1")}`,
      { token: tokens.admin },
    );
    expect(asStatus.status).toBe(200);
    expect(asStatus.body).toEqual({ items: [], nextCursor: null });
    for (const query of [
      `?technicianId=${encodeURIComponent('1; DELETE FROM service_records')}`,
      `?from=${encodeURIComponent("2024-01-01T00:00:00Z' OR 1=1 --")}`,
    ]) {
      const result = await call('GET', `/api/service-records${query}`, { token: tokens.admin });
      expectRecordProblem(result, 400);
    }
    expect(await snapshot()).toHaveLength(1);
  });
});
