/**
 * AUTH_TRUST_PLATFORM_PRINCIPAL=true: the app trusts App Service authentication's
 * `x-ms-client-principal` header (base64 JSON claims) instead of verifying a bearer token.
 * Config is read once per process, so this file sets the flag before the first request.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
// Health checks Cosmos too.
useAppCosmos();
const { rows, insert } = rowHelpers(db);

const roleClaim = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const nameIdentifier = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';

let equipmentId = 0;
let ownTechnicianId = 0;
let otherTechnicianId = 0;

useAppSettings(() => ({ AUTH_TRUST_PLATFORM_PRINCIPAL: 'true' }));

beforeAll(async () => {
  equipmentId = await insert(
    "INSERT INTO equipment (serial_number, name, type, status) VALUES ('PP-1', 'Dozer', 'dozer', 'Operational')",
  );
  ownTechnicianId = await insert(
    "INSERT INTO technicians (external_id, name, email, specialization) VALUES ('aad-oid-1', 'Ann', 'ann@example.com', 'engines')",
  );
  otherTechnicianId = await insert(
    "INSERT INTO technicians (external_id, name, email, specialization) VALUES ('aad-oid-2', 'Bo', 'bo@example.com', 'engines')",
  );
  // Technicians record work on their assigned equipment.
  await db.pool.query(
    'INSERT INTO equipment_technicians (equipment_id, technician_id) VALUES (?, ?), (?, ?)',
    [equipmentId, ownTechnicianId, equipmentId, otherTechnicianId],
  );
});

/** The header App Service sets: base64 of `{ auth_typ, claims: [{ typ, val }], role_typ }`. */
function principalHeader(claims: { typ: string; val: string }[], roleTyp = roleClaim): string {
  return Buffer.from(
    JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: roleTyp }),
  ).toString('base64');
}

function asPrincipal(header: string): { headers: Record<string, string> } {
  return { headers: { 'x-ms-client-principal': header } };
}

const adminHeader = () =>
  principalHeader([
    { typ: nameIdentifier, val: 'aad-admin' },
    { typ: roleClaim, val: 'Admin' },
  ]);

const technicianHeader = (subject = 'aad-oid-1') =>
  principalHeader([
    { typ: nameIdentifier, val: subject },
    { typ: 'name', val: 'Ann' },
    { typ: roleClaim, val: 'Technician' },
  ]);

function record(technicianId: number): Record<string, unknown> {
  return {
    equipmentId,
    technicianId,
    serviceType: 'preventive',
    serviceDate: '2024-04-01T09:00:00Z',
    description: 'Oil change',
  };
}

async function count(table: string): Promise<number> {
  const [row] = await rows(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(row?.['n']);
}

function expectUnauthorized(result: ApiResult): void {
  expectProblem(result, 401, '/api/service-records');
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer/);
}

describe('platform principal (AUTH_TRUST_PLATFORM_PRINCIPAL=true)', () => {
  it('takes an Admin from the header: reads and writes', async () => {
    const list = await call('GET', '/api/service-records', asPrincipal(adminHeader()));
    expect(list.status, list.text).toBe(200);
    const created = await call('POST', '/api/equipment', {
      ...asPrincipal(adminHeader()),
      json: { serialNumber: 'PP-2', name: 'Grader', type: 'grader' },
    });
    expect(created.status, created.text).toBe(201);
    expect(await count('equipment')).toBe(2);
  });

  it('links a Technician to their row by the name identifier claim', async () => {
    const before = await count('service_records');
    const own = await call('POST', '/api/service-records', {
      ...asPrincipal(technicianHeader()),
      json: record(ownTechnicianId),
    });
    expect(own.status, own.text).toBe(201);
    expect(own.body.technicianId).toBe(ownTechnicianId);
    const others = await call('POST', '/api/service-records', {
      ...asPrincipal(technicianHeader()),
      json: record(otherTechnicianId),
    });
    expect(others.status).toBe(403);
    const stranger = await call('POST', '/api/service-records', {
      ...asPrincipal(technicianHeader('aad-unknown')),
      json: record(ownTechnicianId),
    });
    expect(stranger.status).toBe(403);
    expect(await count('service_records')).toBe(before + 1);
  });

  it('reads the subject from a sub claim and roles from a roles claim', async () => {
    const header = principalHeader(
      [
        { typ: 'sub', val: 'aad-oid-1' },
        { typ: 'roles', val: 'Technician' },
      ],
      'roles',
    );
    const created = await call('POST', '/api/service-records', {
      ...asPrincipal(header),
      json: record(ownTechnicianId),
    });
    expect(created.status, created.text).toBe(201);
  });

  it('answers 403 to a principal with no product role', async () => {
    const header = principalHeader([
      { typ: nameIdentifier, val: 'aad-oid-1' },
      { typ: roleClaim, val: 'Reader' },
    ]);
    const result = await call('GET', '/api/service-records', asPrincipal(header));
    expectProblem(result, 403, '/api/service-records');
  });

  it.each([
    ['not base64 JSON', '!!!not-base64!!!'],
    ['base64 of text', Buffer.from('hello').toString('base64')],
    ['JSON without claims', Buffer.from(JSON.stringify({ auth_typ: 'aad' })).toString('base64')],
    [
      'claims of the wrong shape',
      Buffer.from(JSON.stringify({ claims: [{ type: 'sub', value: 'x' }] })).toString('base64'),
    ],
    ['no subject claim', principalHeader([{ typ: roleClaim, val: 'Admin' }])],
    [
      'an empty subject',
      principalHeader([
        { typ: nameIdentifier, val: '' },
        { typ: roleClaim, val: 'Admin' },
      ]),
    ],
  ])('answers 401 to a principal header that is %s', async (_name, header) => {
    const before = await count('equipment');
    expectUnauthorized(await call('GET', '/api/service-records', asPrincipal(header)));
    const write = await call('POST', '/api/equipment', {
      ...asPrincipal(header),
      json: { serialNumber: 'PP-BAD', name: 'Bad', type: 'bad' },
    });
    expect(write.status).toBe(401);
    expect(await count('equipment')).toBe(before);
  });

  it('refuses a principal header over 16 KiB with a 4xx, never a 5xx', async () => {
    const header = principalHeader([
      { typ: nameIdentifier, val: 'aad-admin' },
      { typ: roleClaim, val: 'Admin' },
      { typ: 'padding', val: 'x'.repeat(20_000) },
    ]);
    const result = await call('GET', '/api/service-records', asPrincipal(header));
    expect([400, 401]).toContain(result.status);
    expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('still verifies bearer tokens when the header is absent', async () => {
    const token = await issuer.token(['Technician'], 'aad-oid-1');
    expect((await call('GET', '/api/service-records', { token })).status).toBe(200);
    expectUnauthorized(
      await call('GET', '/api/service-records', { token: await issuer.foreignToken(['Admin']) }),
    );
    expectUnauthorized(await call('GET', '/api/service-records'));
  });

  it('keeps health anonymous', async () => {
    const health = await call('GET', '/api/health');
    expect(health.status).toBe(200);
  });
});
