/**
 * /api/equipment against a real MariaDB database and real signed tokens. What every CRUD
 * resource shares (ids, paging, bodies, If-Match, authentication) runs from the suites in
 * tests/helpers/suites.ts; this file tests what is particular to equipment.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import {
  adminFixtures,
  excavator,
  insertEquipmentRows,
  insertServiceRecord,
  unique,
} from '../helpers/fixtures.js';
import { expectQueryRefused, singlePageIds } from '../helpers/lists.js';
import { expectParameterProblem, expectPointers, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';
import {
  describeAdminOnlyWrites,
  describeAuthentication,
  describeBodyParsing,
  describeConditionalReads,
  describeConditionalWrites,
  describeItemIds,
  describePagination,
  type PagedResourceUnderTest,
  rejectOnCreateAndReplace,
  type RoleCheckedResourceUnderTest,
} from '../helpers/suites.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin']],
  technician: [['Technician'], 'tech-1'],
});
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment } = adminFixtures(tokens);

/** What the shared suites (tests/helpers/suites.ts) need to know about equipment. */
const resource = {
  name: 'equipment',
  path: '/api/equipment',
  db,
  issuer,
  tokens,
  create: () => createEquipment(),
  validBody: () => ({ ...excavator, serialNumber: `VALID-${unique()}` }),
  table: 'equipment',
  insertRows: (count: number) => insertEquipmentRows(db.pool, count),
  filter: {
    query: 'status=Offline',
    insertMatching: (count: number) => insertEquipmentRows(db.pool, count, 'Offline'),
    insertOther: (count: number) => insertEquipmentRows(db.pool, count, 'Operational'),
  },
  textField: 'name',
} satisfies PagedResourceUnderTest & RoleCheckedResourceUnderTest;

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('equipment', () => {
  it('creates, reads, replaces and deletes with ETags', async () => {
    const created = await call('POST', '/api/equipment', { token: tokens.admin, json: excavator });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...excavator, version: 1 });
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/api/equipment/${created.body.id}`);

    const read = await call('GET', `/api/equipment/${created.body.id}`, {
      token: tokens.technician,
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const replaced = await call('PUT', `/api/equipment/${created.body.id}`, {
      token: tokens.admin,
      json: { ...excavator, status: 'Maintenance' },
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ status: 'Maintenance', version: 2 });
    expect(replaced.headers.get('etag')).toBe('"2"');

    const stale = await call('DELETE', `/api/equipment/${created.body.id}`, {
      token: tokens.admin,
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const deleted = await call('DELETE', `/api/equipment/${created.body.id}`, {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(204);
    expect(await rows('SELECT COUNT(*) AS n FROM equipment')).toEqual([{ n: 0 }]);
  });

  it('refuses a technician creating equipment with 403 and no token with 401', async () => {
    const forbidden = await call('POST', '/api/equipment', {
      token: tokens.technician,
      json: excavator,
    });
    expect(forbidden.status).toBe(403);
    const anonymous = await call('POST', '/api/equipment', { json: excavator });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});

describe('equipment: create and read', () => {
  it('creates with only the required fields, defaulting status and nulling the rest', async () => {
    const res = await call('POST', '/api/equipment', {
      token: tokens.admin,
      json: { serialNumber: 'MIN-1', name: 'Minimal', type: 'dozer' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      id: expect.any(Number),
      serialNumber: 'MIN-1',
      name: 'Minimal',
      type: 'dozer',
      manufacturer: null,
      model: null,
      location: null,
      latitude: null,
      longitude: null,
      status: 'Operational',
      commissionedOn: null,
      version: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('location')).toBe(`/api/equipment/${res.body.id}`);
    const stored = await rows('SELECT * FROM equipment WHERE id = ?', [res.body.id]);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      serial_number: 'MIN-1',
      name: 'Minimal',
      type: 'dozer',
      manufacturer: null,
      model: null,
      location: null,
      status: 'Operational',
      commissioned_on: null,
      version: 1,
    });
  });

  it('stores every field and serves it back at the Location with the same ETag', async () => {
    const res = await call('POST', '/api/equipment', { token: tokens.admin, json: excavator });
    expect(res.status).toBe(201);
    const stored = await rows('SELECT * FROM equipment WHERE id = ?', [res.body.id]);
    expect(stored[0]).toMatchObject({
      serial_number: 'CAT-336-00042',
      name: 'Excavator 42',
      type: 'excavator',
      manufacturer: 'Caterpillar',
      model: '336',
      location: 'Quarry North',
      status: 'Operational',
      commissioned_on: '2021-04-01',
      version: 1,
    });
    const location = res.headers.get('location');
    expect(location).not.toBeNull();
    const read = await call('GET', location!, { token: tokens.admin });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    expect(read.headers.get('etag')).toBe('"1"');
  });

  it('trims surrounding whitespace from text fields', async () => {
    const body = await createEquipment({ serialNumber: '  TRIM-1\t', name: ' Spaced ' });
    expect(body).toMatchObject({ serialNumber: 'TRIM-1', name: 'Spaced' });
  });

  it('accepts strings exactly at their column length and stores them in full', async () => {
    const full = {
      serialNumber: 'S'.repeat(64),
      name: 'N'.repeat(200),
      type: 'T'.repeat(50),
      manufacturer: 'M'.repeat(100),
      model: 'O'.repeat(100),
      location: 'L'.repeat(200),
    };
    const body = await createEquipment(full);
    expect(body).toMatchObject(full);
    const stored = await rows(
      'SELECT CHAR_LENGTH(serial_number) s, CHAR_LENGTH(name) n, CHAR_LENGTH(type) t, CHAR_LENGTH(location) l FROM equipment WHERE id = ?',
      [body.id],
    );
    expect(stored[0]).toEqual({ s: 64, n: 200, t: 50, l: 200 });
  });

  it('counts characters, not bytes: 200 two-byte characters fit a 200-character name', async () => {
    const name = 'é'.repeat(200);
    const body = await createEquipment({ name });
    expect(body.name).toBe(name);
    const stored = await rows('SELECT name FROM equipment WHERE id = ?', [body.id]);
    expect(stored[0]?.['name']).toBe(name);
  });

  it('accepts a leap day and null optional fields', async () => {
    const body = await createEquipment({
      commissionedOn: '2020-02-29',
      manufacturer: null,
      model: null,
      location: null,
    });
    expect(body).toMatchObject({
      commissionedOn: '2020-02-29',
      manufacturer: null,
      model: null,
      location: null,
    });
  });

  it.each(['', '   ', ' \t\n '])(
    'stores optional text sent as %j as null, on create and on replace',
    async (blank) => {
      const blanks = { manufacturer: blank, model: blank, location: blank };
      const nulls = { manufacturer: null, model: null, location: null };
      const created = await call('POST', '/api/equipment', {
        token: tokens.admin,
        json: { ...excavator, ...blanks },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ ...nulls, name: excavator.name, version: 1 });
      const read = await call('GET', `/api/equipment/${created.body.id}`, { token: tokens.admin });
      expect(read.body).toEqual(created.body);

      const filled = await createEquipment();
      expect(filled).toMatchObject({ manufacturer: 'Caterpillar', model: '336' });
      const replaced = await call('PUT', `/api/equipment/${filled.id}`, {
        token: tokens.admin,
        json: { ...excavator, serialNumber: filled.serialNumber, ...blanks },
        headers: { 'if-match': '"1"' },
      });
      expect(replaced.status).toBe(200);
      expect(replaced.body).toMatchObject({ ...nulls, version: 2 });
      const reread = await call('GET', `/api/equipment/${filled.id}`, { token: tokens.admin });
      expect(reread.body).toEqual(replaced.body);

      expect(await rows('SELECT manufacturer, model, location FROM equipment ORDER BY id')).toEqual(
        [nulls, nulls],
      );
    },
  );

  it("creates without a serial number, as the seed's schema has none, any number of times", async () => {
    const { serialNumber: _serial, ...withoutSerial } = excavator;
    const bodies = [
      withoutSerial,
      { ...excavator, serialNumber: null },
      { ...excavator, serialNumber: '' },
      { ...excavator, serialNumber: ' \t ' },
    ];
    for (const json of bodies) {
      const res = await call('POST', '/api/equipment', { token: tokens.admin, json });
      expect(res.status, res.text.slice(0, 300)).toBe(201);
      expect(res.body).toMatchObject({ serialNumber: null, status: 'Operational' });
    }
    expect(await rows('SELECT serial_number FROM equipment')).toEqual(
      bodies.map(() => ({ serial_number: null })),
    );
    // A serial number given later is still unique.
    const numbered = await createEquipment({ serialNumber: 'LATER-1' });
    const [first] = await rows('SELECT id FROM equipment ORDER BY id LIMIT 1');
    const clash = await call('PUT', `/api/equipment/${Number(first?.['id'])}`, {
      token: tokens.admin,
      json: { ...withoutSerial, serialNumber: numbered.serialNumber },
    });
    expect(clash.status).toBe(409);
    expect(
      await rows('SELECT serial_number FROM equipment WHERE serial_number IS NOT NULL'),
    ).toEqual([{ serial_number: 'LATER-1' }]);
  });
});

describeItemIds(resource);

describe('equipment: list filters', () => {
  async function seed() {
    const a = await createEquipment({ type: 'excavator', status: 'Operational', location: 'A' });
    const b = await createEquipment({ type: 'loader', status: 'Offline', location: 'A' });
    const c = await createEquipment({ type: 'excavator', status: 'Maintenance', location: 'B' });
    const d = await createEquipment({ type: 'excavator', status: 'Offline', location: null });
    const e = await createEquipment({ type: 'dozer', status: 'Retired', location: 'B' });
    return { a, b, c, d, e };
  }

  const ids = (query: string) => singlePageIds(`/api/equipment${query}`, tokens.admin);
  const refused = (query: string, parameter: string) =>
    expectQueryRefused('/api/equipment', query, parameter, tokens.admin);

  it('lists everything in id order without filters', async () => {
    const { a, b, c, d, e } = await seed();
    expect(await ids('')).toEqual([a.id, b.id, c.id, d.id, e.id]);
  });

  it('filters by status', async () => {
    const { a, b, c, d, e } = await seed();
    expect(await ids('?status=Offline')).toEqual([b.id, d.id]);
    expect(await ids('?status=Operational')).toEqual([a.id]);
    expect(await ids('?status=Maintenance')).toEqual([c.id]);
    expect(await ids('?status=Retired')).toEqual([e.id]);
  });

  it('filters by type', async () => {
    const { a, b, c, d, e } = await seed();
    expect(await ids('?type=excavator')).toEqual([a.id, c.id, d.id]);
    expect(await ids('?type=loader')).toEqual([b.id]);
    expect(await ids('?type=dozer')).toEqual([e.id]);
    expect(await ids('?type=crane')).toEqual([]);
    expect(await ids('?type=Excavator')).toEqual([]);
  });

  it('filters by location', async () => {
    const { a, b, c, e } = await seed();
    expect(await ids('?location=A')).toEqual([a.id, b.id]);
    expect(await ids('?location=B')).toEqual([c.id, e.id]);
    expect(await ids('?location=Nowhere')).toEqual([]);
  });

  it('combines filters with AND', async () => {
    const { a, b, c, d } = await seed();
    expect(await ids('?type=excavator&status=Offline')).toEqual([d.id]);
    expect(await ids('?type=excavator&location=A')).toEqual([a.id]);
    expect(await ids('?status=Offline&location=A')).toEqual([b.id]);
    expect(await ids('?type=excavator&status=Maintenance&location=B')).toEqual([c.id]);
    expect(await ids('?type=loader&status=Operational')).toEqual([]);
  });

  it('refuses a bad status filter and over-long type and location filters', async () => {
    await seed();
    await refused('?status=broken', 'status');
    await refused('?status=operational', 'status');
    await refused(`?type=${'t'.repeat(51)}`, 'type');
    await refused(`?location=${'l'.repeat(201)}`, 'location');
  });

  it('refuses an unknown query parameter', async () => {
    await seed();
    await refused('?colour=yellow', 'colour');
    await refused('?Status=down', 'Status');
    await refused('?constructor=x', 'constructor');
  });

  it('refuses the unknown query parameter __proto__ like any other', async () => {
    await seed();
    await refused('?__proto__=x', '__proto__');
  });

  it('refuses a parameter given twice', async () => {
    await seed();
    for (const query of [
      '?status=Offline&status=Operational',
      '?status=Offline&status=Offline',
      '?limit=2&limit=3',
      '?type=a&type=b',
    ]) {
      const res = await call('GET', `/api/equipment${query}`, { token: tokens.admin });
      expectProblem(res, 400, '/api/equipment');
      expect(res.body.errors).toHaveLength(1);
    }
  });
});

describePagination(resource);

describe('equipment: validation', () => {
  const path = '/api/equipment';
  const rejectBoth = rejectOnCreateAndReplace(resource);

  it.each(['name', 'type'])('requires %s', async (field) => {
    const body = Object.fromEntries(
      Object.entries({ ...excavator, serialNumber: 'REQ-1' }).filter(([key]) => key !== field),
    );
    await rejectBoth(body, [`#/${field}`]);
  });

  it.each<[Record<string, unknown>, string]>([
    [{ latitude: 90.5, longitude: 10 }, '#/latitude'],
    [{ latitude: -91, longitude: 10 }, '#/latitude'],
    [{ latitude: 59.9, longitude: 180.01 }, '#/longitude'],
    [{ latitude: 59.9 }, '#/longitude'],
    [{ longitude: 10.75, latitude: null }, '#/latitude'],
  ])('refuses the coordinates %j', async (coordinates, pointer) => {
    await rejectBoth({ ...excavator, serialNumber: 'GEO-1', ...coordinates }, [pointer]);
  });

  it('keeps coordinates to six decimals, and clears them', async () => {
    const created = await call('POST', path, {
      token: tokens.admin,
      json: { ...excavator, serialNumber: 'GEO-2', latitude: 59.913868, longitude: -10.752245 },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ latitude: 59.913868, longitude: -10.752245 });
    const read = await call('GET', `${path}/${created.body.id}`, { token: tokens.admin });
    expect(read.body).toMatchObject({ latitude: 59.913868, longitude: -10.752245 });
    const cleared = await call('PUT', `${path}/${created.body.id}`, {
      token: tokens.admin,
      json: { ...excavator, serialNumber: 'GEO-2' },
      headers: { 'if-match': '"1"' },
    });
    expect(cleared.body).toMatchObject({ latitude: null, longitude: null, version: 2 });
  });

  it('lists every missing field at once', async () => {
    await rejectBoth({}, ['#/name', '#/type']);
  });

  it.each<[string, unknown]>([
    ['serialNumber', 42],
    ['serialNumber', false],
    ['name', true],
    ['type', ['excavator']],
    ['manufacturer', 5],
    ['model', { name: '336' }],
    ['location', 1.5],
    ['status', 1],
    ['status', null],
    ['commissionedOn', 20210401],
    ['latitude', '59.9'],
    ['longitude', true],
  ])('refuses %s of the wrong type (%j)', async (field, value) => {
    await rejectBoth({ ...excavator, serialNumber: 'TYPE-1', [field]: value }, [`#/${field}`]);
  });

  it('refuses unknown fields, including id and version', async () => {
    await rejectBoth({ ...excavator, serialNumber: 'UNK-1', colour: 'yellow' }, ['#/colour']);
    const res = await call('POST', path, {
      token: tokens.admin,
      json: { ...excavator, id: 999, version: 7 },
    });
    expectPointers(res, path, ['#/id', '#/version']);
    expect(res.body.errors).toContainEqual({ pointer: '#/id', detail: 'Unknown field' });
    expect(await rows('SELECT id FROM equipment WHERE id = 999')).toEqual([]);
  });

  it('refuses the field name __proto__ as unknown', async () => {
    await expectNothingChanged(async () => {
      const res = await call('POST', path, {
        token: tokens.admin,
        raw: '{"serialNumber":"P-1","name":"n","type":"t","__proto__":{"status":"down"}}',
        headers: { 'content-type': 'application/json' },
      });
      expectPointers(res, path, ['#/__proto__']);
    });
  });

  it.each<[string, number]>([
    ['serialNumber', 65],
    ['name', 201],
    ['type', 51],
    ['manufacturer', 101],
    ['model', 101],
    ['location', 201],
  ])('refuses %s longer than its column (%i characters)', async (field, length) => {
    await rejectBoth({ ...excavator, serialNumber: 'LEN-1', [field]: 'x'.repeat(length) }, [
      `#/${field}`,
    ]);
  });

  it.each(['name', 'type'])('refuses %s that is empty or only whitespace', async (field) => {
    await rejectBoth({ ...excavator, serialNumber: 'EMPTY-1', [field]: '' }, [`#/${field}`]);
    await truncateAll(db.pool);
    await rejectBoth({ ...excavator, serialNumber: 'EMPTY-1', [field]: ' \t\n ' }, [`#/${field}`]);
  });

  // One spelling per value: the old lower-case ones and other cases are refused.
  it.each(['broken', '', 'Operational ', 'operational', 'down', 'retired', 'OFFLINE'])(
    'refuses the status %j',
    async (status) => {
      await rejectBoth({ ...excavator, serialNumber: 'ENUM-1', status }, ['#/status']);
    },
  );

  it.each([
    '2021-02-30',
    '2021-13-01',
    '2021-04-31',
    '2021-4-1',
    '01/04/2021',
    '2021-04-01T00:00:00Z',
    '1899-12-31',
    '2200-01-01',
    'yesterday',
    '',
  ])('refuses the commissioning date %j', async (commissionedOn) => {
    await rejectBoth({ ...excavator, serialNumber: 'DATE-1', commissionedOn }, [
      '#/commissionedOn',
    ]);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', [excavator]],
    ['a string', 'excavator'],
    ['a number', 42],
  ])('refuses a body that is %s', async (_label, body) => {
    await rejectBoth(body, ['#']);
  });
});

describeBodyParsing(resource);

describe('equipment: replace', () => {
  it('replaces every field, nulling omitted optional ones and bumping the version', async () => {
    const created = await createEquipment();
    const res = await call('PUT', `/api/equipment/${created.id}`, {
      token: tokens.admin,
      json: { serialNumber: 'NEW-SN', name: 'Renamed', type: 'loader' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"2"');
    expect(res.body).toEqual({
      ...created,
      serialNumber: 'NEW-SN',
      name: 'Renamed',
      type: 'loader',
      manufacturer: null,
      model: null,
      location: null,
      status: 'Operational',
      commissionedOn: null,
      version: 2,
      updatedAt: expect.any(String),
    });
    const stored = await rows('SELECT * FROM equipment WHERE id = ?', [created.id]);
    expect(stored[0]).toMatchObject({
      serial_number: 'NEW-SN',
      name: 'Renamed',
      type: 'loader',
      manufacturer: null,
      location: null,
      version: 2,
    });
    const read = await call('GET', `/api/equipment/${created.id}`, { token: tokens.admin });
    expect(read.body).toEqual(res.body);
    expect(read.headers.get('etag')).toBe('"2"');
  });

  it('replaces unconditionally without If-Match and keeps its own serial number', async () => {
    const created = await createEquipment({ status: 'Operational' });
    const res = await call('PUT', `/api/equipment/${created.id}`, {
      token: tokens.admin,
      json: { ...excavator, serialNumber: created.serialNumber, status: 'Offline' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ serialNumber: created.serialNumber, status: 'Offline' });
  });

  it('lets exactly one of two concurrent replaces with the same If-Match win', async () => {
    const created = await createEquipment();
    const path = `/api/equipment/${created.id}`;
    const results = await Promise.all(
      ['first', 'second', 'third'].map((name) =>
        call('PUT', path, {
          token: tokens.admin,
          json: { ...excavator, serialNumber: created.serialNumber, name },
          headers: { 'if-match': '"1"' },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412]);
    const winner = results.find((r) => r.status === 200)!;
    for (const loser of results.filter((r) => r.status === 412)) {
      expectProblem(loser, 412, path);
    }
    const stored = await rows('SELECT name, version FROM equipment WHERE id = ?', [created.id]);
    expect(stored).toEqual([{ name: winner.body.name, version: 2 }]);
  });

  it('answers 409 with a pointer when the new serial number belongs to other equipment', async () => {
    const first = await createEquipment();
    const second = await createEquipment();
    const path = `/api/equipment/${second.id}`;
    await expectNothingChanged(async () => {
      const res = await call('PUT', path, {
        token: tokens.admin,
        json: { ...excavator, serialNumber: first.serialNumber },
        headers: { 'if-match': '"1"' },
      });
      expectProblem(res, 409, path);
      expect(res.body.errors).toEqual([{ pointer: '#/serialNumber', detail: expect.any(String) }]);
    });
  });
});

describe('equipment: conflicts', () => {
  it('answers 409 with a pointer for a duplicate serial number and stores nothing', async () => {
    const first = await createEquipment({ serialNumber: 'DUP-1' });
    await expectNothingChanged(async () => {
      const res = await call('POST', '/api/equipment', {
        token: tokens.admin,
        json: { ...excavator, serialNumber: 'DUP-1', name: 'Imposter' },
      });
      expectProblem(res, 409, '/api/equipment');
      expect(res.body.errors).toEqual([{ pointer: '#/serialNumber', detail: expect.any(String) }]);
    });
    expect(await rows('SELECT id, name FROM equipment')).toEqual([
      { id: first.id, name: first.name },
    ]);
  });

  it('compares serial numbers after trimming, so a padded duplicate is still a conflict', async () => {
    await createEquipment({ serialNumber: 'DUP-2' });
    await expectNothingChanged(async () => {
      const res = await call('POST', '/api/equipment', {
        token: tokens.admin,
        json: { ...excavator, serialNumber: ' DUP-2 ' },
      });
      expectProblem(res, 409, '/api/equipment');
    });
  });

  it('answers one of two concurrent creates with the same serial number with 409, not 5xx', async () => {
    const results = await Promise.all(
      ['A', 'B', 'C'].map((name) =>
        call('POST', '/api/equipment', {
          token: tokens.admin,
          json: { ...excavator, serialNumber: 'RACE-1', name },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const loser of results.filter((r) => r.status === 409)) {
      expectProblem(loser, 409, '/api/equipment');
    }
    const winner = results.find((r) => r.status === 201)!;
    expect(await rows('SELECT id, name FROM equipment')).toEqual([
      { id: winner.body.id, name: winner.body.name },
    ]);
  });

  it('treats serial numbers differing only in case as distinct', async () => {
    await createEquipment({ serialNumber: 'case-1' });
    const upper = await createEquipment({ serialNumber: 'CASE-1' });
    expect(upper.serialNumber).toBe('CASE-1');
  });
});

describe('equipment: delete', () => {
  it('answers 409 when the equipment has service records, and keeps it and its assignments', async () => {
    const equipment = await createEquipment();
    const tech = await call('POST', '/api/technicians', {
      token: tokens.admin,
      json: { name: 'Ana', email: 'ana@example.com', specialization: 'hydraulics' },
    });
    expect(tech.status).toBe(201);
    const assigned = await call(
      'PUT',
      `/api/equipment/${equipment.id}/technicians/${tech.body.id}`,
      {
        token: tokens.admin,
      },
    );
    expect(assigned.status).toBe(201);
    await insertServiceRecord(db.pool, equipment.id, tech.body.id);
    const path = `/api/equipment/${equipment.id}`;
    await expectNothingChanged(async () => {
      const res = await call('DELETE', path, {
        token: tokens.admin,
        headers: { 'if-match': '"1"' },
      });
      expectProblem(res, 409, path);
      expect(res.body.detail).toMatch(/service records/);
    });
    expect(await rows('SELECT COUNT(*) n FROM equipment_technicians')).toEqual([{ n: 1 }]);
  });

  it('deletes the equipment assignments with it', async () => {
    const equipment = await createEquipment();
    const other = await createEquipment();
    const tech = await call('POST', '/api/technicians', {
      token: tokens.admin,
      json: { name: 'Bo', email: 'bo@example.com', specialization: 'engines' },
    });
    for (const id of [equipment.id, other.id]) {
      const res = await call('PUT', `/api/equipment/${id}/technicians/${tech.body.id}`, {
        token: tokens.admin,
      });
      expect(res.status).toBe(201);
    }
    expect(
      (await call('DELETE', `/api/equipment/${equipment.id}`, { token: tokens.admin })).status,
    ).toBe(204);
    expect(await rows('SELECT equipment_id, technician_id FROM equipment_technicians')).toEqual([
      { equipment_id: other.id, technician_id: tech.body.id },
    ]);
    expect(await rows('SELECT id FROM technicians')).toEqual([{ id: tech.body.id }]);
  });
});

describeConditionalWrites(resource);
describeConditionalReads(resource);

describeAuthentication(resource);

describeAdminOnlyWrites(resource);

describe('equipment: roles', () => {
  it('answers 403 to a technician on every write and changes nothing', async () => {
    const created = await createEquipment();
    const item = `/api/equipment/${created.id}`;
    await expectNothingChanged(async () => {
      expectProblem(
        await call('POST', '/api/equipment', {
          token: tokens.technician,
          json: { ...excavator, serialNumber: 'TECH-1' },
        }),
        403,
        '/api/equipment',
      );
      expectProblem(
        await call('PUT', item, {
          token: tokens.technician,
          json: { ...excavator, serialNumber: created.serialNumber, status: 'Offline' },
          headers: { 'if-match': '"1"' },
        }),
        403,
        item,
      );
      expectProblem(
        await call('DELETE', item, { token: tokens.technician, headers: { 'if-match': '"1"' } }),
        403,
        item,
      );
      expectProblem(
        await call('DELETE', `/api/equipment/${created.id + 1}`, { token: tokens.technician }),
        403,
        `/api/equipment/${created.id + 1}`,
      );
    });
  });
});

describe('equipment: hostile strings', () => {
  const hostile: string[] = [
    "'; DROP TABLE equipment; --",
    "Robert'); DELETE FROM equipment WHERE ('1'='1",
    '" OR "1"="1',
    'it\'s a "quoted" `name`',
    'back\\slash \\\' \\" \\0 \\n \\\\',
    'nul\u0000in the middle',
    'emoji 🚜🔧👷‍♀️ 🇳🇴',
    'RTL עברית العربية \u202Eoverride\u202C',
    '% and _ wildcards %_%',
    '<script>alert(1)</script>',
    'line\nbreak\r\ntab\there',
    'Zeichensätze: ä ö ü ß — “smart” ‘quotes’',
  ];

  it.each(hostile)('stores %j verbatim and finds it by filter', async (value) => {
    const res = await call('POST', '/api/equipment', {
      token: tokens.admin,
      json: {
        serialNumber: value.slice(0, 64).trim(),
        name: value,
        type: value,
        manufacturer: value,
        model: value,
        location: value,
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: value,
      type: value,
      manufacturer: value,
      model: value,
      location: value,
    });
    const stored = await rows(
      'SELECT name, type, manufacturer, model, location FROM equipment WHERE id = ?',
      [res.body.id],
    );
    expect(stored).toEqual([
      { name: value, type: value, manufacturer: value, model: value, location: value },
    ]);
    const read = await call('GET', `/api/equipment/${res.body.id}`, { token: tokens.technician });
    expect(read.body).toEqual(res.body);

    await createEquipment({ type: 'decoy', location: 'decoy' });
    const query = new URLSearchParams({ location: value, type: value }).toString();
    const found = await call('GET', `/api/equipment?${query}`, { token: tokens.admin });
    expect(found.status).toBe(200);
    expect((found.body.items as { id: number }[]).map((i) => i.id)).toEqual([res.body.id]);
    expect(await rows('SELECT COUNT(*) n FROM equipment')).toEqual([{ n: 2 }]);
  });

  it('keeps SQL metacharacters in a serial number inert and still enforces uniqueness', async () => {
    const value = "x' OR '1'='1";
    await createEquipment({ serialNumber: value });
    await createEquipment({ serialNumber: 'innocent' });
    await expectNothingChanged(async () => {
      const res = await call('POST', '/api/equipment', {
        token: tokens.admin,
        json: { ...excavator, serialNumber: value },
      });
      expectProblem(res, 409, '/api/equipment');
    });
    const filtered = await call('GET', `/api/equipment?type=${encodeURIComponent("' OR 1=1 --")}`, {
      token: tokens.admin,
    });
    expect(filtered.body).toEqual({ items: [], nextCursor: null });
    expect(await rows('SELECT COUNT(*) n FROM equipment')).toEqual([{ n: 2 }]);
  });

  it('refuses a 10,000-character string with 400 and stores nothing', async () => {
    const long = "'; DROP TABLE equipment; --".repeat(400).slice(0, 10_000);
    expect(long).toHaveLength(10_000);
    const existing = await createEquipment();
    await expectNothingChanged(async () => {
      for (const field of ['serialNumber', 'name', 'type', 'manufacturer', 'model', 'location']) {
        expectPointers(
          await call('POST', '/api/equipment', {
            token: tokens.admin,
            json: { ...excavator, serialNumber: 'LONG-1', [field]: long },
          }),
          '/api/equipment',
          [`#/${field}`],
        );
        expectPointers(
          await call('PUT', `/api/equipment/${existing.id}`, {
            token: tokens.admin,
            json: { ...excavator, serialNumber: 'LONG-1', [field]: long },
          }),
          `/api/equipment/${existing.id}`,
          [`#/${field}`],
        );
      }
      expectParameterProblem(
        await call('GET', `/api/equipment?location=${'x'.repeat(10_000)}`, { token: tokens.admin }),
        'location',
        '/api/equipment',
      );
    });
  });

  it('rejects a lone UTF-16 surrogate instead of silently storing U+FFFD', async () => {
    // "\ud800" is valid JSON text but not a Unicode scalar value; utf8mb4 cannot hold it.
    await expectNothingChanged(async () => {
      const res = await call('POST', '/api/equipment', {
        token: tokens.admin,
        raw: '{"serialNumber":"SUR-1","name":"a\\ud800b","type":"t"}',
        headers: { 'content-type': 'application/json' },
      });
      expectPointers(res, '/api/equipment', ['#/name']);
    });
  });
});
