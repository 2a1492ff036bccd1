/**
 * /api/equipment/{id}/offline-timeout: a machine's own offline timeout, against a real
 * MariaDB and real signed tokens: set, read (with the type's and the default in effect) and
 * cleared, each change in the history; bad input and callers who may not refused with
 * problem documents that change nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { adminFixtures } from '../helpers/fixtures.js';
import { expectPointers, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin']],
  technician: [['Technician'], 'offline-tech'],
});
useAppSettings(() => ({ OFFLINE_TIMEOUT_MINUTES: '{"default": 20, "types": {"Crane": 45}}' }));
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment, createTechnician } = adminFixtures(tokens);

const path = (id: number | string) => `/api/equipment/${id}/offline-timeout`;
const put = (id: number | string, body: unknown, token = tokens.admin): Promise<ApiResult> =>
  call('PUT', path(id), { token, json: body });

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('equipment offline timeout', () => {
  it('is set, read and cleared by admins, with a history event per change', async () => {
    const { id } = await createEquipment({ type: 'Crane' });
    const read = await call('GET', path(id), { token: tokens.admin });
    expect(read.body).toEqual({
      equipmentId: id,
      offlineTimeoutMinutes: null,
      effectiveMinutes: 45,
    });

    const set = await put(id, { offlineTimeoutMinutes: 5 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ equipmentId: id, offlineTimeoutMinutes: 5, effectiveMinutes: 5 });
    expect((await put(id, { offlineTimeoutMinutes: 5 })).status).toBe(200); // no change, no event
    const cleared = await put(id, { offlineTimeoutMinutes: null });
    expect(cleared.body).toMatchObject({ offlineTimeoutMinutes: null, effectiveMinutes: 45 });

    const other = await createEquipment({ type: 'Pump' });
    expect((await call('GET', path(other.id), { token: tokens.admin })).body).toMatchObject({
      effectiveMinutes: 20,
    });
    expect(
      await rows(
        `SELECT actor, before_state, after_state FROM change_events
          WHERE aggregate_id = ? AND event_type = 'OfflineTimeoutChanged' ORDER BY id`,
        [id],
      ),
    ).toEqual([
      {
        actor: expect.any(String),
        before_state: { offlineTimeoutMinutes: null },
        after_state: { offlineTimeoutMinutes: 5 },
      },
      {
        actor: expect.any(String),
        before_state: { offlineTimeoutMinutes: 5 },
        after_state: { offlineTimeoutMinutes: null },
      },
    ]);
  });

  it('refuses bad timeouts, unknown equipment and callers who may not, changing nothing', async () => {
    const mine = await createEquipment();
    const other = await createEquipment();
    const tech = await createTechnician({ externalId: 'offline-tech' });
    const assigned = await call('PUT', `/api/equipment/${mine.id}/technicians/${tech.id}`, {
      token: tokens.admin,
    });
    expect(assigned.status).toBe(201);

    await expectNothingChanged(async () => {
      for (const bad of [0, 10_081, 2.5, '15']) {
        expectPointers(await put(mine.id, { offlineTimeoutMinutes: bad }), path(mine.id), [
          '#/offlineTimeoutMinutes',
        ]);
      }
      expectPointers(await put(mine.id, {}), path(mine.id), ['#/offlineTimeoutMinutes']);
      expectPointers(await put(mine.id, { offlineTimeoutMinutes: 5, timeout: 5 }), path(mine.id), [
        '#/timeout',
      ]);
      expectProblem(await put(999_999, { offlineTimeoutMinutes: 5 }), 404);
      expectProblem(await put('abc', { offlineTimeoutMinutes: 5 }), 400);
      expectProblem(await put(mine.id, { offlineTimeoutMinutes: 5 }, tokens.technician), 403);
      expectProblem(await call('GET', path(other.id), { token: tokens.technician }), 404);
    });
    const read = await call('GET', path(mine.id), { token: tokens.technician });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ offlineTimeoutMinutes: null, effectiveMinutes: 20 });
  });
});
