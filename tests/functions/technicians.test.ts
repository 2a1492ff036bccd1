/**
 * /api/technicians against a real MariaDB database and real signed tokens. What every CRUD
 * resource shares (ids, paging, bodies, If-Match, authentication) runs from the suites in
 * tests/helpers/suites.ts; this file tests what is particular to technicians.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import {
  adminFixtures,
  ana,
  insertServiceRecord,
  insertTechnicianRows,
  unique,
} from '../helpers/fixtures.js';
import { expectQueryRefused, singlePageIds, walkPages } from '../helpers/lists.js';
import { expectPointers, expectProblem } from '../helpers/problems.js';
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
  // The subject matches `ana.externalId`: even their own row is admin-only to write.
  technician: [['Technician'], 'tech-1'],
});
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment, createTechnician } = adminFixtures(tokens);

/** What the shared suites (tests/helpers/suites.ts) need to know about technicians. */
const resource = {
  name: 'technicians',
  path: '/api/technicians',
  db,
  issuer,
  tokens,
  create: () => createTechnician(),
  validBody: () => {
    const n = unique();
    return { ...ana, externalId: `valid-${n}`, email: `valid${n}@example.com` };
  },
  table: 'technicians',
  insertRows: (count: number) => insertTechnicianRows(db.pool, count),
  filter: {
    query: 'active=false',
    insertMatching: (count: number) => insertTechnicianRows(db.pool, count, { active: false }),
    insertOther: (count: number) => insertTechnicianRows(db.pool, count, { active: true }),
  },
  textField: 'name',
} satisfies PagedResourceUnderTest & RoleCheckedResourceUnderTest;

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('technicians: create and read', () => {
  it('creates with every field, answering 201 with Location and ETag', async () => {
    const res = await call('POST', '/api/technicians', { token: tokens.admin, json: ana });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('location')).toBe(`/api/technicians/${res.body.id}`);
    expect(res.body).toEqual({
      id: expect.any(Number),
      ...ana,
      version: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const stored = await rows('SELECT * FROM technicians WHERE id = ?', [res.body.id]);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      external_id: 'tech-1',
      name: 'Ana Lima',
      email: 'ana.lima@example.com',
      phone: '+47 (22) 123-456',
      specialization: 'hydraulics',
      is_active: 1,
      version: 1,
    });
    const read = await call('GET', res.headers.get('location')!, { token: tokens.admin });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    expect(read.headers.get('etag')).toBe('"1"');
  });

  it('creates with only the required fields: active by default, no external id or phone', async () => {
    const res = await call('POST', '/api/technicians', {
      token: tokens.admin,
      json: { name: 'Bo', email: 'bo@example.com', specialization: 'electrics' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      externalId: null,
      name: 'Bo',
      email: 'bo@example.com',
      phone: null,
      specialization: 'electrics',
      isActive: true,
      version: 1,
    });
    const stored = await rows('SELECT external_id, phone, is_active FROM technicians');
    expect(stored).toEqual([{ external_id: null, phone: null, is_active: 1 }]);
  });

  it('stores email addresses in lower case', async () => {
    const body = await createTechnician({ email: 'Ana.Lima@Example.COM' });
    expect(body.email).toBe('ana.lima@example.com');
    expect(await rows('SELECT email FROM technicians')).toEqual([
      { email: 'ana.lima@example.com' },
    ]);
  });

  it('creates an inactive technician', async () => {
    const body = await createTechnician({ isActive: false });
    expect(body.isActive).toBe(false);
    expect(await rows('SELECT is_active FROM technicians')).toEqual([{ is_active: 0 }]);
  });

  it('allows many technicians without an external id', async () => {
    const a = await createTechnician({ externalId: null });
    const b = await createTechnician({ externalId: null });
    expect([a.externalId, b.externalId]).toEqual([null, null]);
    expect(await rows('SELECT COUNT(*) n FROM technicians WHERE external_id IS NULL')).toEqual([
      { n: 2 },
    ]);
  });

  it('accepts strings exactly at their column length', async () => {
    const full = {
      externalId: 'x'.repeat(128),
      name: 'N'.repeat(200),
      email: `${'a'.repeat(242)}@example.com`,
      phone: '1'.repeat(32),
      specialization: 'S'.repeat(100),
    };
    expect(full.email).toHaveLength(254);
    const body = await createTechnician(full);
    expect(body).toMatchObject(full);
    const stored = await rows(
      'SELECT CHAR_LENGTH(external_id) x, CHAR_LENGTH(name) n, CHAR_LENGTH(email) e, CHAR_LENGTH(phone) p, CHAR_LENGTH(specialization) s FROM technicians',
    );
    expect(stored).toEqual([{ x: 128, n: 200, e: 254, p: 32, s: 100 }]);
  });
});

describeItemIds(resource);

describe('technicians: list filters', () => {
  async function seed() {
    const a = await createTechnician({ specialization: 'hydraulics', isActive: true });
    const b = await createTechnician({ specialization: 'engines', isActive: false });
    const c = await createTechnician({ specialization: 'hydraulics', isActive: false });
    const d = await createTechnician({ specialization: 'electrics', isActive: true });
    return { a, b, c, d };
  }

  const ids = (query: string) => singlePageIds(`/api/technicians${query}`, tokens.admin);
  const refused = (query: string, parameter: string) =>
    expectQueryRefused('/api/technicians', query, parameter, tokens.admin);

  it('lists all in id order, then filters by active', async () => {
    const { a, b, c, d } = await seed();
    expect(await ids('')).toEqual([a.id, b.id, c.id, d.id]);
    expect(await ids('?active=true')).toEqual([a.id, d.id]);
    expect(await ids('?active=false')).toEqual([b.id, c.id]);
  });

  it('filters by specialization, exactly and case-sensitively', async () => {
    const { a, b, c, d } = await seed();
    expect(await ids('?specialization=hydraulics')).toEqual([a.id, c.id]);
    expect(await ids('?specialization=engines')).toEqual([b.id]);
    expect(await ids('?specialization=electrics')).toEqual([d.id]);
    expect(await ids('?specialization=Hydraulics')).toEqual([]);
    expect(await ids('?specialization=hydraul')).toEqual([]);
  });

  it('combines active and specialization', async () => {
    const { a, c } = await seed();
    expect(await ids('?active=true&specialization=hydraulics')).toEqual([a.id]);
    expect(await ids('?active=false&specialization=hydraulics')).toEqual([c.id]);
    expect(await ids('?active=false&specialization=electrics')).toEqual([]);
  });

  it.each(['yes', '1', 'TRUE', 'False', ''])('refuses active=%j', async (active) => {
    await seed();
    await refused(`?active=${active}`, 'active');
  });

  it('refuses an over-long specialization filter, unknown parameters and repeated ones', async () => {
    await seed();
    await refused(`?specialization=${'s'.repeat(101)}`, 'specialization');
    await refused('?isActive=true', 'isActive');
    await refused('?status=operational', 'status');
    for (const query of ['?active=true&active=false', '?specialization=a&specialization=a']) {
      const res = await call('GET', `/api/technicians${query}`, { token: tokens.admin });
      expectProblem(res, 400, '/api/technicians');
      expect(res.body.errors).toHaveLength(1);
    }
  });
});

describePagination(resource);

describe('technicians: paging with filters', () => {
  it('walks all pages with no duplicates or gaps, with and without filters', async () => {
    const active = await insertTechnicianRows(db.pool, 7, { active: true });
    const inactive = await insertTechnicianRows(db.pool, 4, { active: false });
    const everything = await walkPages('/api/technicians?limit=3', tokens.admin);
    expect(everything.ids).toEqual([...active, ...inactive]);
    expect(everything.pages).toBe(4);
    const onlyActive = await walkPages('/api/technicians?active=true&limit=2', tokens.admin);
    expect(onlyActive.ids).toEqual(active);
    expect(onlyActive.pages).toBe(4);
    const onlyInactive = await walkPages('/api/technicians?active=false&limit=2', tokens.admin);
    expect(onlyInactive.ids).toEqual(inactive);
    expect(onlyInactive.pages).toBe(2);
  });
});

describe('technicians: validation', () => {
  const rejectBoth = rejectOnCreateAndReplace(resource);

  it.each(['name', 'email', 'specialization'])('requires %s', async (field) => {
    const body = Object.fromEntries(
      Object.entries({ ...ana, externalId: 'req' }).filter(([key]) => key !== field),
    );
    await rejectBoth(body, [`#/${field}`]);
  });

  it('lists every missing field at once', async () => {
    await rejectBoth({ phone: '123' }, ['#/name', '#/email', '#/specialization']);
  });

  it.each<[string, unknown]>([
    ['name', 1],
    ['name', null],
    ['email', 42],
    ['email', null],
    ['specialization', ['hydraulics']],
    ['isActive', 'true'],
    ['isActive', 1],
    ['isActive', null],
    ['phone', 5551234],
    ['externalId', 7],
    ['externalId', { sub: 'x' }],
  ])('refuses %s of the wrong type (%j)', async (field, value) => {
    await rejectBoth({ ...ana, externalId: 'type', [field]: value }, [`#/${field}`]);
  });

  it('refuses unknown fields, including id, version and role', async () => {
    await rejectBoth({ ...ana, externalId: 'unk', role: 'Admin' }, ['#/role']);
    await truncateAll(db.pool);
    await rejectBoth({ ...ana, externalId: 'unk', id: 1, version: 9 }, ['#/id', '#/version']);
  });

  it.each<[string, string]>([
    ['externalId', 'x'.repeat(129)],
    ['name', 'n'.repeat(201)],
    ['email', `${'a'.repeat(243)}@example.com`],
    ['phone', `+${'1'.repeat(32)}`],
    ['specialization', 's'.repeat(101)],
  ])('refuses %s longer than its column', async (field, value) => {
    await rejectBoth({ ...ana, externalId: 'long', [field]: value }, [`#/${field}`]);
  });

  it.each(['name', 'email', 'specialization', 'externalId'])(
    'refuses %s that is empty or only whitespace',
    async (field) => {
      await rejectBoth({ ...ana, [field]: '' }, [`#/${field}`]);
      await truncateAll(db.pool);
      await rejectBoth({ ...ana, [field]: '   ' }, [`#/${field}`]);
    },
  );

  it.each([
    'plain',
    'a@b',
    'a b@example.com',
    '@example.com',
    'ana@',
    'ana@@example.com',
    'ana@example..com',
    ' ana@example.com',
    'ana@example.com; DROP TABLE technicians',
    'ana@exa_mple.com',
  ])('refuses the email %j', async (email) => {
    await rejectBoth({ ...ana, email }, ['#/email']);
  });

  it.each(['abc', '12', '555-CALL-NOW', '+1 555 123 4567 ext. 8', '++4712345678'])(
    'refuses the phone number %j',
    async (phone) => {
      await rejectBoth({ ...ana, phone }, ['#/phone']);
    },
  );
});

describeBodyParsing(resource);

describe('technicians: conflicts', () => {
  it('answers 409 with a pointer for a duplicate email, whatever its case', async () => {
    const first = await createTechnician({ email: 'dup@example.com' });
    await expectNothingChanged(async () => {
      for (const email of ['dup@example.com', 'DUP@Example.com']) {
        const res = await call('POST', '/api/technicians', {
          token: tokens.admin,
          json: { ...ana, externalId: 'other', email },
        });
        expectProblem(res, 409, '/api/technicians');
        expect(res.body.errors).toEqual([{ pointer: '#/email', detail: expect.any(String) }]);
      }
    });
    expect(await rows('SELECT id FROM technicians')).toEqual([{ id: first.id }]);
  });

  it('answers all but one of concurrent creates with the same email with 409, not 5xx', async () => {
    const results = await Promise.all(
      ['race-a', 'race-b', 'race-c'].map((externalId) =>
        call('POST', '/api/technicians', {
          token: tokens.admin,
          json: { ...ana, externalId, email: 'race@example.com' },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const loser of results.filter((r) => r.status === 409)) {
      expectProblem(loser, 409, '/api/technicians');
      expect(loser.body.errors).toEqual([{ pointer: '#/email', detail: expect.any(String) }]);
    }
    expect(await rows('SELECT COUNT(*) n FROM technicians')).toEqual([{ n: 1 }]);
  });

  it('answers 409 with a pointer for a duplicate external id', async () => {
    await createTechnician({ externalId: 'same-sub' });
    await expectNothingChanged(async () => {
      const res = await call('POST', '/api/technicians', {
        token: tokens.admin,
        json: { ...ana, email: 'another@example.com', externalId: 'same-sub' },
      });
      expectProblem(res, 409, '/api/technicians');
      expect(res.body.errors).toEqual([{ pointer: '#/externalId', detail: expect.any(String) }]);
    });
  });

  it('answers 409 when a replace takes another technician email or external id', async () => {
    const first = await createTechnician({ externalId: 'first', email: 'first@example.com' });
    const second = await createTechnician({ externalId: 'second', email: 'second@example.com' });
    const path = `/api/technicians/${second.id}`;
    await expectNothingChanged(async () => {
      const email = await call('PUT', path, {
        token: tokens.admin,
        json: { ...ana, externalId: 'second', email: first.email },
        headers: { 'if-match': '"1"' },
      });
      expectProblem(email, 409, path);
      expect(email.body.errors).toEqual([{ pointer: '#/email', detail: expect.any(String) }]);
      const external = await call('PUT', path, {
        token: tokens.admin,
        json: { ...ana, externalId: 'first', email: 'second@example.com' },
        headers: { 'if-match': '"1"' },
      });
      expectProblem(external, 409, path);
      expect(external.body.errors).toEqual([
        { pointer: '#/externalId', detail: expect.any(String) },
      ]);
    });
  });
});

describe('technicians: replace', () => {
  it('replaces every field, clears omitted optional ones and bumps the version', async () => {
    const created = await createTechnician();
    const path = `/api/technicians/${created.id}`;
    const res = await call('PUT', path, {
      token: tokens.admin,
      json: { name: 'Ana L.', email: 'ana.l@example.com', specialization: 'engines' },
      headers: { 'if-match': '"1"' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"2"');
    expect(res.body).toEqual({
      ...created,
      externalId: null,
      name: 'Ana L.',
      email: 'ana.l@example.com',
      phone: null,
      specialization: 'engines',
      isActive: true,
      version: 2,
      updatedAt: expect.any(String),
    });
    const stored = await rows('SELECT * FROM technicians WHERE id = ?', [created.id]);
    expect(stored[0]).toMatchObject({
      external_id: null,
      name: 'Ana L.',
      email: 'ana.l@example.com',
      phone: null,
      specialization: 'engines',
      version: 2,
    });
    const read = await call('GET', path, { token: tokens.admin });
    expect(read.body).toEqual(res.body);
    expect(read.headers.get('etag')).toBe('"2"');
  });

  it('deactivates with isActive false, which moves the technician between active filters', async () => {
    const created = await createTechnician();
    const res = await call('PUT', `/api/technicians/${created.id}`, {
      token: tokens.admin,
      json: { ...ana, externalId: created.externalId, email: created.email, isActive: false },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ isActive: false, version: 2 });
    const active = await call('GET', '/api/technicians?active=true', { token: tokens.admin });
    expect(active.body.items).toEqual([]);
    const inactive = await call('GET', '/api/technicians?active=false', { token: tokens.admin });
    expect(inactive.body.items).toEqual([res.body]);
  });
});

describe('technicians: delete', () => {
  it('answers 409 while the technician is assigned, and deletes after unassigning', async () => {
    const tech = await createTechnician();
    const equipmentId = (await createEquipment()).id;
    const assign = await call('PUT', `/api/equipment/${equipmentId}/technicians/${tech.id}`, {
      token: tokens.admin,
    });
    expect(assign.status).toBe(201);
    const path = `/api/technicians/${tech.id}`;
    await expectNothingChanged(async () => {
      const res = await call('DELETE', path, {
        token: tokens.admin,
        headers: { 'if-match': '"1"' },
      });
      expectProblem(res, 409, path);
      expect(res.body.detail).toMatch(/assigned/);
    });
    const unassign = await call('DELETE', `/api/equipment/${equipmentId}/technicians/${tech.id}`, {
      token: tokens.admin,
    });
    expect(unassign.status).toBe(204);
    expect((await call('DELETE', path, { token: tokens.admin })).status).toBe(204);
    expect(await rows('SELECT COUNT(*) n FROM technicians')).toEqual([{ n: 0 }]);
  });

  it('answers 409 while the technician has service records, and can be deactivated instead', async () => {
    const tech = await createTechnician();
    const equipmentId = (await createEquipment()).id;
    await insertServiceRecord(db.pool, equipmentId, tech.id);
    const path = `/api/technicians/${tech.id}`;
    await expectNothingChanged(async () => {
      const res = await call('DELETE', path, { token: tokens.admin });
      expectProblem(res, 409, path);
      expect(res.body.detail).toMatch(/service records/);
    });
    const deactivated = await call('PUT', path, {
      token: tokens.admin,
      json: { ...ana, externalId: tech.externalId, email: tech.email, isActive: false },
      headers: { 'if-match': '"1"' },
    });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body).toMatchObject({ isActive: false, version: 2 });
    expect(await rows('SELECT technician_id FROM service_records')).toEqual([
      { technician_id: tech.id },
    ]);
  });
});

describeConditionalWrites(resource);
describeConditionalReads(resource);

describeAuthentication(resource);

describeAdminOnlyWrites(resource);

describe('technicians: roles', () => {
  it('answers 403 to a technician on every write, even to their own row', async () => {
    const own = await createTechnician({ externalId: 'tech-1' });
    const item = `/api/technicians/${own.id}`;
    await expectNothingChanged(async () => {
      expectProblem(
        await call('POST', '/api/technicians', {
          token: tokens.technician,
          json: { ...ana, externalId: 'new', email: 'new@example.com' },
        }),
        403,
        '/api/technicians',
      );
      expectProblem(
        await call('PUT', item, {
          token: tokens.technician,
          json: { ...ana, email: own.email, specialization: 'promoted' },
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
    });
  });
});

describe('technicians: hostile strings', () => {
  const hostile: string[] = [
    "'; DROP TABLE technicians; --",
    "x' OR '1'='1",
    '"quoted" and \'single\' and `back`',
    'C:\\path\\to\\file \\\' \\" \\\\',
    'nul\u0000byte',
    'emoji 👩‍🔧🛠️💥',
    'RTL עברית العربية \u202Eoverride\u202C',
    '%_% LIKE wildcards',
  ];

  it.each(hostile)('stores %j verbatim and filters on it exactly', async (value) => {
    const created = await createTechnician({
      name: value,
      specialization: value,
      externalId: value,
    });
    expect(created).toMatchObject({ name: value, specialization: value, externalId: value });
    const stored = await rows('SELECT name, specialization, external_id FROM technicians');
    expect(stored).toEqual([{ name: value, specialization: value, external_id: value }]);
    const read = await call('GET', `/api/technicians/${created.id}`, { token: tokens.admin });
    expect(read.body).toEqual(created);
    await createTechnician({ specialization: 'decoy' });
    const query = new URLSearchParams({ specialization: value }).toString();
    const found = await call('GET', `/api/technicians?${query}`, { token: tokens.admin });
    expect(found.status).toBe(200);
    expect((found.body.items as { id: number }[]).map((i) => i.id)).toEqual([created.id]);
    expect(await rows('SELECT COUNT(*) n FROM technicians')).toEqual([{ n: 2 }]);
  });

  it('stores an email with a quote and a plus sign verbatim (lower-cased)', async () => {
    const created = await createTechnician({ email: "O'Brien+test@Example.com" });
    expect(created.email).toBe("o'brien+test@example.com");
    expect(await rows('SELECT email FROM technicians')).toEqual([
      { email: "o'brien+test@example.com" },
    ]);
  });

  it.each(['name', 'specialization', 'externalId'])(
    'refuses a lone UTF-16 surrogate in %s rather than storing U+FFFD',
    async (field) => {
      const existing = await createTechnician();
      const raw = JSON.stringify({ ...ana, externalId: 'sur' }).replace(
        `"${field}":"`,
        `"${field}":"a\\udc00`,
      );
      expect(raw).toContain('\\udc00');
      await expectNothingChanged(async () => {
        const headers = { 'content-type': 'application/json' };
        expectPointers(
          await call('POST', '/api/technicians', { token: tokens.admin, raw, headers }),
          '/api/technicians',
          [`#/${field}`],
        );
        expectPointers(
          await call('PUT', `/api/technicians/${existing.id}`, {
            token: tokens.admin,
            raw,
            headers,
          }),
          `/api/technicians/${existing.id}`,
          [`#/${field}`],
        );
      });
    },
  );

  it('refuses 10,000-character strings with 400 and stores nothing', async () => {
    const long = "'; DROP TABLE technicians; --".repeat(400).slice(0, 10_000);
    expect(long).toHaveLength(10_000);
    const existing = await createTechnician();
    await expectNothingChanged(async () => {
      for (const field of ['externalId', 'name', 'specialization', 'phone', 'email']) {
        expectPointers(
          await call('POST', '/api/technicians', {
            token: tokens.admin,
            json: { ...ana, externalId: 'long', [field]: long },
          }),
          '/api/technicians',
          [`#/${field}`],
        );
        expectPointers(
          await call('PUT', `/api/technicians/${existing.id}`, {
            token: tokens.admin,
            json: { ...ana, externalId: 'long', [field]: long },
          }),
          `/api/technicians/${existing.id}`,
          [`#/${field}`],
        );
      }
    });
  });
});
