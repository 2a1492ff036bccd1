/**
 * /api/technicians/{id}/notification-preferences against a real MariaDB and real signed
 * tokens: defaults, replaced by the technician themselves or an admin, each change in the
 * technician's history; malformed, oversized, hostile and unauthorised input refused with
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
  technician: [['Technician'], 'prefs-tech'],
});
useAppSettings(() => ({ SMS_SEVERITIES: 'high,critical' }));
const { rows, expectNothingChanged } = rowHelpers(db);
const { createTechnician } = adminFixtures(tokens);

const path = (id: number | string) => `/api/technicians/${id}/notification-preferences`;
const put = (id: number | string, body: unknown, token = tokens.technician): Promise<ApiResult> =>
  call('PUT', path(id), { token, json: body });

const choice = {
  channels: { push: ['critical'], email: ['high', 'critical'], sms: [] },
  quietHours: { start: '22:00', end: '06:30', timeZone: 'Europe/Berlin' },
};

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('notification preferences', () => {
  it('start at the defaults and are replaced by the technician, with a history event', async () => {
    const me = await createTechnician({ externalId: 'prefs-tech' });
    const read = await call('GET', path(me.id), { token: tokens.technician });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      technicianId: me.id,
      channels: {
        push: ['medium', 'high', 'critical'],
        email: ['medium', 'high', 'critical'],
        sms: ['high', 'critical'],
      },
      quietHours: null,
      customized: false,
    });
    const replaced = await put(me.id, choice);
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ technicianId: me.id, ...choice, customized: true });
    expect((await put(me.id, choice)).status).toBe(200); // no change, no event
    const admin = await put(me.id, { ...choice, quietHours: null }, tokens.admin);
    expect(admin.body).toMatchObject({ quietHours: null, customized: true });
    expect(
      await rows(
        `SELECT before_state, after_state FROM change_events
          WHERE aggregate = 'technician' AND aggregate_id = ?
            AND event_type = 'NotificationPreferencesChanged' ORDER BY id`,
        [me.id],
      ),
    ).toEqual([
      { before_state: null, after_state: choice },
      { before_state: choice, after_state: { ...choice, quietHours: null } },
    ]);
  });

  it('refuses malformed, oversized, hostile and unauthorised input, changing nothing', async () => {
    const me = await createTechnician({ externalId: 'prefs-tech' });
    const other = await createTechnician();
    await put(me.id, choice);
    await expectNothingChanged(async () => {
      const bad: [unknown, string[]][] = [
        [{ ...choice, channels: { ...choice.channels, sms: ['urgent'] } }, ['#/channels/sms/0']],
        [
          { ...choice, channels: { ...choice.channels, email: ['high', 'high'] } },
          ['#/channels/email'],
        ],
        [{ ...choice, channels: { push: [], email: [] } }, ['#/channels/sms']],
        [
          { ...choice, quietHours: { ...choice.quietHours, start: '24:00' } },
          ['#/quietHours/start'],
        ],
        [{ ...choice, quietHours: { ...choice.quietHours, end: '22:00' } }, ['#/quietHours']],
        [
          { ...choice, quietHours: { ...choice.quietHours, timeZone: 'Mars/Olympus' } },
          ['#/quietHours/timeZone'],
        ],
        [
          { ...choice, quietHours: { ...choice.quietHours, timeZone: '../../etc/passwd' } },
          ['#/quietHours/timeZone'],
        ],
        [
          { ...choice, quietHours: { ...choice.quietHours, timeZone: 'A'.repeat(5000) } },
          ['#/quietHours/timeZone'],
        ],
        [{ ...choice, admin: true }, ['#/admin']],
        [
          { ...choice, channels: { ...choice.channels, constructor: ['high'] } },
          ['#/channels/constructor'],
        ],
      ];
      for (const [body, pointers] of bad) {
        const result = await put(me.id, body);
        if (pointers.length) expectPointers(result, path(me.id), pointers);
        else expectProblem(result, 400);
      }
      expectProblem(await put(me.id, 'x'.repeat(2 * 1024 * 1024)), 413);
      expectProblem(await put(other.id, choice), 404);
      expectProblem(await call('GET', path(other.id), { token: tokens.technician }), 404);
      expectProblem(await put(999_999, choice, tokens.admin), 404);
      expectProblem(await put('abc', choice, tokens.admin), 400);
      expectProblem(await put(me.id, choice, ''), 401);
    });
    expect((await call('GET', path(me.id), { token: tokens.admin })).body).toMatchObject(choice);
  });
});
