/**
 * /api/alerts and /api/alerts/{id} over alerts the real pipeline raised: the Event Hub
 * handler is fed a known stream, then the HTTP functions are called in-process with real
 * signed tokens. Refused requests are checked to leave every Cosmos document as it was.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertDetailSchema, alertSchema } from '../../lib/api/telemetrySchemas.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { assignTechnician, lookalikeSubjects } from '../helpers/audience.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  allPages,
  expectCosmosUnchanged,
  jsonEvents,
  type Json,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';
import { expectParameterProblem, expectProblem, problemTargets } from '../helpers/problems.js';

const database = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const tokens = { admin: '', technician: '', otherTechnician: '', noRole: '', unassigned: '' };
beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  tokens.otherTechnician = await issuer.token(['Technician'], 'tech-eli');
  tokens.noRole = await issuer.token([], 'x');
  tokens.unassigned = await issuer.token(['Technician'], 'tech-fay');
  // Technicians see the alerts of their equipment: these two look after every machine here.
  for (const subject of ['tech-dana', 'tech-eli'])
    await assignTechnician(database.pool, subject, [1, 2, 3, 9, 30, 31]);
  await assignTechnician(database.pool, 'tech-fay', [2]);
});

const get = (path: string, token: string = tokens.admin) => call('GET', path, { token });
const alertPath = (id: string) => `/api/alerts/${encodeURIComponent(id)}`;

async function storedAlert(id: string, equipmentId: string) {
  const { resource } = await cosmos.containers.alerts.item(id, equipmentId).read<ItemDefinition>();
  return resource;
}

// ---------- the listing stream: five alerts over three windows ----------

const listDay = '2026-03-10';
const lt = (hhmmss: string) => `${listDay}T${hhmmss}Z`;
const listed = {
  e1Pressure: `1:pressure:${lt('08:10:00.000')}`,
  e3Temperature: `3:temperature:${lt('08:05:00.000')}`,
  e2Vibration: `2:vibration:${lt('08:00:00.000')}`,
  e2Pressure: `2:pressure:${lt('08:00:00.000')}`,
  e1Temperature: `1:temperature:${lt('08:00:00.000')}`,
};
/** Newest raisedAt first, ties by id descending. */
const listOrder = [
  listed.e1Pressure,
  listed.e3Temperature,
  listed.e2Vibration,
  listed.e2Pressure,
  listed.e1Temperature,
];

describe('GET /api/alerts', () => {
  beforeAll(async () => {
    const feed = new PartitionFeed('0');
    await feed.send(
      jsonEvents([
        reading('1', lt('08:00:30'), { temperature: 92 }), // critical
        reading('2', lt('08:01:00'), { vibration: 5.5, pressure: 11 }), // high, medium
        reading('9', lt('08:02:00'), { temperature: 40 }), // normal
        reading('3', lt('08:05:30'), { temperature: 78 }), // medium
        reading('1', lt('08:06:10'), { temperature: 60 }), // closes 08:00
      ]),
    );
    await feed.send(
      jsonEvents([
        reading('1', lt('08:10:30'), { pressure: 4 }), // critical
        reading('9', lt('08:16:00'), { temperature: 40 }), // closes 08:05 and 08:10
      ]),
    );
  });

  it('lists every alert newest first (raisedAt, then id)', async () => {
    const result = await get('/api/alerts');
    expect(result.status, result.text).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.body.nextCursor).toBeNull();
    const items = result.body.items as Json[];
    expect(items.map((a) => a.id)).toEqual(listOrder);
    expect(items.map((a) => a.raisedAt)).toEqual([
      lt('08:15:00.000'),
      lt('08:10:00.000'),
      lt('08:05:00.000'),
      lt('08:05:00.000'),
      lt('08:05:00.000'),
    ]);
    for (const item of items) expect(() => alertSchema.parse(item)).not.toThrow();
    expect(items.map((a) => [a.id, a.severity, a.status, a.occurrences])).toEqual([
      [listed.e1Pressure, 'critical', 'open', 1],
      [listed.e3Temperature, 'medium', 'open', 1],
      [listed.e2Vibration, 'high', 'open', 1],
      [listed.e2Pressure, 'medium', 'open', 1],
      [listed.e1Temperature, 'critical', 'open', 1],
    ]);
    // Nothing of Cosmos' own or the store's bookkeeping leaks into the API.
    for (const item of items) {
      expect(Object.keys(item).filter((k) => k.startsWith('_') || k === 'ttl')).toEqual([]);
    }
  });

  it('shows what raised an alert: window, aggregates, threshold, guidance', async () => {
    const item = (await get('/api/alerts?equipmentId=2&severity=high')).body.items[0];
    expect(item).toMatchObject({
      id: listed.e2Vibration,
      equipmentId: '2',
      metric: 'vibration',
      firstWindowStart: lt('08:00:00.000'),
      lastWindowStart: lt('08:00:00.000'),
      breach: {
        metric: 'vibration',
        severity: 'high',
        mean: 5.5,
        threshold: 5,
        comparison: '>',
        unit: 'mm/s',
        description: expect.stringContaining('5.5'),
        recommendedAction: expect.any(String),
      },
      window: {
        start: lt('08:00:00.000'),
        end: lt('08:05:00.000'),
        summary: {
          readings: 1,
          metrics: {
            vibration: { count: 1, min: 5.5, max: 5.5, mean: 5.5 },
            pressure: { count: 1, min: 11, max: 11, mean: 11 },
          },
        },
      },
    });
  });

  it('filters by equipmentId, severity, status, metric and since', async () => {
    const ids = async (query: string) => {
      const result = await get(`/api/alerts?${query}`);
      expect(result.status, result.text).toBe(200);
      return (result.body.items as Json[]).map((a) => a.id as string);
    };
    expect(await ids('equipmentId=2')).toEqual([listed.e2Vibration, listed.e2Pressure]);
    expect(await ids('equipmentId=1')).toEqual([listed.e1Pressure, listed.e1Temperature]);
    expect(await ids('equipmentId=77')).toEqual([]);
    expect(await ids('severity=critical')).toEqual([listed.e1Pressure, listed.e1Temperature]);
    expect(await ids('severity=medium')).toEqual([listed.e3Temperature, listed.e2Pressure]);
    expect(await ids('status=open')).toEqual(listOrder);
    expect(await ids('status=resolved')).toEqual([]);
    expect(await ids('metric=pressure')).toEqual([listed.e1Pressure, listed.e2Pressure]);
    expect(await ids('metric=vibration&equipmentId=2')).toEqual([listed.e2Vibration]);
    expect(await ids('metric=offline')).toEqual([]);
    // since: raised at or after.
    expect(await ids(`since=${lt('08:10:00')}`)).toEqual([listed.e1Pressure, listed.e3Temperature]);
    expect(await ids(`since=${encodeURIComponent('2026-03-10T09:10:00.001+01:00')}`)).toEqual([
      listed.e1Pressure,
    ]);
    expect(await ids(`since=${lt('08:15:00.001')}`)).toEqual([]);
    expect(await ids(`equipmentId=1&severity=critical&since=${lt('08:06:00')}`)).toEqual([
      listed.e1Pressure,
    ]);
  });

  it('walks every page with limit=2, without duplicates or gaps', async () => {
    const pages = await allPages(get, '/api/alerts?limit=2');
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((a) => a.id)).toEqual(listOrder);
    // One per page, across ties in raisedAt.
    const single = await allPages(get, '/api/alerts?limit=1');
    expect(single.flat().map((a) => a.id)).toEqual(listOrder);
    // Filters hold on every page.
    const filtered = await allPages(get, '/api/alerts?limit=1&severity=critical');
    expect(filtered.flat().map((a) => a.id)).toEqual([listed.e1Pressure, listed.e1Temperature]);
    // A full last page has no next one.
    const exact = await get('/api/alerts?limit=5');
    expect(exact.body.items).toHaveLength(5);
    expect(exact.body.nextCursor).toBeNull();
  });

  it('lists only the alerts of equipment assigned to a technician', async () => {
    const pages = await allPages(
      (path: string) => get(path, tokens.unassigned),
      '/api/alerts?limit=1',
    );
    expect(pages.flat().map((a) => a.id)).toEqual([listed.e2Vibration, listed.e2Pressure]);
    expectProblem(await get(alertPath(listed.e1Pressure), tokens.unassigned), 404);
    const own = await get(alertPath(listed.e2Pressure), tokens.unassigned);
    expect(own.status, own.text).toBe(200);
  });

  it('lists alerts for a technician too', async () => {
    const result = await get('/api/alerts?limit=1', tokens.technician);
    expect(result.status, result.text).toBe(200);
    expect((result.body.items as Json[]).map((a) => a.id)).toEqual([listed.e1Pressure]);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['cursor=not%20a%20cursor', 'cursor'],
    ['cursor=bm9wZQ', 'cursor'], // base64url of "nope"
    [`cursor=${Buffer.from('[1,2]').toString('base64url')}`, 'cursor'],
    ['colour=red', 'colour'],
    ['severity=low', 'severity'],
    ['severity=CRITICAL', 'severity'],
    ['status=closed', 'status'],
    ['metric=humidity', 'metric'],
    ['metric=Pressure', 'metric'],
    ['since=yesterday', 'since'],
    ['since=2026-03-10T08:00:00', 'since'],
    ['equipmentId=a%2Fb', 'equipmentId'],
    ['equipmentId=', 'equipmentId'],
    ['severity=high&severity=critical', 'severity'],
  ])('refuses ?%s with a 400 naming %s', async (query, parameter) => {
    const result = await expectCosmosUnchanged(cosmos, () => get(`/api/alerts?${query}`));
    expectProblem(result, 400);
    // An unreadable time is also out of range: its parameter may be named twice, no other.
    expect(new Set(problemTargets(result))).toEqual(new Set([parameter]));
    expect(result.body.instance).toBe('/api/alerts');
  });

  it('needs a token (401) with a role (403)', async () => {
    await expectCosmosUnchanged(cosmos, async () => {
      const anonymous = await call('GET', '/api/alerts');
      expectProblem(anonymous, 401);
      expect(anonymous.text).not.toContain(listed.e1Pressure);
      const noRole = await get('/api/alerts', tokens.noRole);
      expectProblem(noRole, 403);
      expect(noRole.text).not.toContain(listed.e1Pressure);
      expectProblem(await call('GET', '/api/alerts/x'), 401);
      expectProblem(await get(alertPath(listed.e1Pressure), tokens.noRole), 403);
      expectProblem(
        await get(alertPath(listed.e1Pressure), await issuer.foreignToken(['Admin'])),
        401,
      );
    });
  });
});

describe('a token whose subject only resembles a technician’s', () => {
  // tech-fay is assigned to machine 2, which has two open alerts.
  it.each(lookalikeSubjects('tech-fay'))(
    'sees, changes and records nothing of theirs (sub %j)',
    async (subject) => {
      const token = await issuer.token(['Technician'], subject);
      const list = await get('/api/alerts', token);
      expect(list.status, list.text).toBe(200);
      expect(list.body.items).toEqual([]);
      expectProblem(await get(alertPath(listed.e2Pressure), token), 404);
      const [before] = await database.pool.query<import('mysql2/promise').RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM service_records',
      );
      await expectCosmosUnchanged(cosmos, async () => {
        expectProblem(
          await call('PATCH', alertPath(listed.e2Pressure), {
            token,
            json: { status: 'acknowledged' },
          }),
          404,
        );
        expectProblem(
          await call('PATCH', alertPath(listed.e2Pressure), {
            token,
            json: { status: 'resolved', serviceRecord: { description: 'Borrowed identity' } },
          }),
          404,
        );
      });
      const [after] = await database.pool.query<import('mysql2/promise').RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM service_records',
      );
      expect(after).toEqual(before);
    },
  );
});

describe('GET /api/alerts/{id}', () => {
  it('returns the alert with its ETag', async () => {
    const result = await get(alertPath(listed.e3Temperature), tokens.technician);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({
      id: listed.e3Temperature,
      equipmentId: '3',
      metric: 'temperature',
      status: 'open',
      severity: 'medium',
      raisedAt: lt('08:10:00.000'),
    });
    expect(() => alertDetailSchema.parse(result.body)).not.toThrow();
    const etag = result.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(result.body.etag).toBe(etag);
    // The ETag is the stored document's, quoted.
    const stored = await storedAlert(listed.e3Temperature, '3');
    expect(etag).toBe(`"${String(stored?._etag).replace(/^"|"$/g, '')}"`);
    // The same alert as in the list, ETag included; only the one alert carries its timeline.
    const { timeline, ...listedFields } = result.body;
    expect(timeline).toEqual([
      { version: 1, at: result.body.raisedAt, by: 'pipeline', action: 'raised', to: 'medium' },
    ]);
    const inList = (await get('/api/alerts?equipmentId=3')).body.items[0];
    expect(inList).toEqual(listedFields);
  });

  it('answers If-None-Match with 304 while the ETag matches, 200 otherwise', async () => {
    const path = alertPath(listed.e3Temperature);
    const etag = (await get(path, tokens.technician)).headers.get('etag') ?? '';
    const conditional = (tag: string) =>
      call('GET', path, { token: tokens.technician, headers: { 'if-none-match': tag } });
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const result = await conditional(tag);
      expect(result.status, tag).toBe(304);
      expect(result.text).toBe('');
      expect(result.headers.get('etag')).toBe(etag);
    }
    for (const tag of ['"stale"', 'garbage', etag.slice(1)]) {
      const result = await conditional(tag);
      expect(result.status, tag).toBe(200);
      expect(result.body.id).toBe(listed.e3Temperature);
    }
    // Visibility first: an alert the caller may not see stays a 404, whatever the tag.
    const hidden = await call('GET', alertPath(listed.e1Pressure), {
      token: tokens.unassigned,
      headers: { 'if-none-match': '*' },
    });
    expectProblem(hidden, 404);
  });

  it('tags the list weakly; the tag round-trips to 304', async () => {
    const first = await get('/api/alerts?equipmentId=3');
    const tag = first.headers.get('etag') ?? '';
    expect(tag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    const again = await call('GET', '/api/alerts?equipmentId=3', {
      token: tokens.admin,
      headers: { 'if-none-match': tag },
    });
    expect(again.status).toBe(304);
    // Another selection is another representation, with another tag.
    const other = await call('GET', '/api/alerts', {
      token: tokens.admin,
      headers: { 'if-none-match': tag },
    });
    expect(other.status).toBe(200);
  });

  it('reads an id given with its colons unescaped', async () => {
    const result = await get(`/api/alerts/${listed.e1Temperature}`);
    expect(result.status, result.text).toBe(200);
    expect(result.body.id).toBe(listed.e1Temperature);
  });

  it.each([
    ['an unknown id of the right shape', `1:temperature:${lt('08:05:00.000')}`],
    ['an unknown equipment', `404:pressure:${lt('08:10:00.000')}`],
    ['a known id with another metric', `1:vibration:${lt('08:00:00.000')}`],
    ['a malformed id', 'not-an-alert'],
    ['an id with an unknown metric', `1:humidity:${lt('08:00:00.000')}`],
    ['an id with a non-ISO window', '1:temperature:2026-03-10'],
    ['an id with a trailing character', `${listed.e1Temperature}x`],
  ])('answers 404 for %s', async (_name, id) => {
    const result = await expectCosmosUnchanged(cosmos, () => get(alertPath(id)));
    expectProblem(result, 404);
    expect(result.headers.get('etag')).toBeNull();
  });

  it('refuses an over-long id with 400', async () => {
    expectParameterProblem(await get(alertPath(`1:temperature:${'x'.repeat(300)}`)), 'id');
  });
});

// ---------- PATCH: one equipment's alert through its life ----------

const patchDay = '2026-03-11';
const pt = (hhmmss: string) => `${patchDay}T${hhmmss}Z`;
const firstId = `30:temperature:${pt('09:00:00.000')}`;
const secondId = `30:temperature:${pt('09:15:00.000')}`;

const patch = (id: string, json: unknown, token: string, headers: Record<string, string> = {}) =>
  call('PATCH', alertPath(id), { token, json, headers });

describe('PATCH /api/alerts/{id}', () => {
  const feed = new PartitionFeed('1');
  let acknowledgedEtag = '';

  beforeAll(async () => {
    await feed.send(
      jsonEvents([
        reading('30', pt('09:00:30'), { temperature: 85 }), // high
        reading('31', pt('09:01:00'), { temperature: 20 }),
        reading('31', pt('09:06:00'), { temperature: 20 }), // closes 09:00
      ]),
    );
  });

  it('starts with the pipeline’s open alert', async () => {
    const result = await get(alertPath(firstId));
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ status: 'open', severity: 'high', occurrences: 1 });
    expect(result.body.acknowledgedAt).toBeUndefined();
    expect(result.body.acknowledgedBy).toBeUndefined();
  });

  it('refuses requests without a token (401) or a role (403), changing nothing', async () => {
    await expectCosmosUnchanged(cosmos, async () => {
      expectProblem(
        await call('PATCH', alertPath(firstId), { json: { status: 'acknowledged' } }),
        401,
      );
      expectProblem(await patch(firstId, { status: 'acknowledged' }, tokens.noRole), 403);
    });
  });

  it.each([
    ['an unknown field', { status: 'acknowledged', comment: 'on my way' }, '#/comment'],
    ['a note with resolving', { status: 'resolved', note: 'fixed' }, '#/note'],
    ['an empty note', { status: 'acknowledged', note: '   ' }, '#/note'],
    ['a note over 2,000 characters', { status: 'acknowledged', note: 'x'.repeat(2001) }, '#/note'],
    ['a note with a lone surrogate', { status: 'acknowledged', note: 'a\uD800b' }, '#/note'],
    ['a note that is not text', { status: 'acknowledged', note: 7 }, '#/note'],
    ['status open', { status: 'open' }, '#/status'],
    ['an unknown status', { status: 'closed' }, '#/status'],
    ['no status', {}, '#/status'],
    ['status as a number', { status: 1 }, '#/status'],
  ])('refuses a body with %s (400), changing nothing', async (_name, json, pointer) => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      patch(firstId, json, tokens.technician),
    );
    const problem = expectProblem(result, 400);
    expect(problem['errors']).toEqual(
      expect.arrayContaining([expect.objectContaining({ pointer })]),
    );
  });

  it.each([
    ['not JSON', '{"status": ', 'application/json', 400],
    ['an array', '["acknowledged"]', 'application/json', 400],
    ['empty', '', 'application/json', 400],
    ['text/plain', '{"status":"acknowledged"}', 'text/plain', 415],
    ['form data', 'status=acknowledged', 'application/x-www-form-urlencoded', 415],
  ])('refuses a body that is %s, changing nothing', async (_name, raw, contentType, status) => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      call('PATCH', alertPath(firstId), {
        token: tokens.technician,
        raw,
        headers: { 'content-type': contentType },
      }),
    );
    expectProblem(result, status);
  });

  it('refuses a body without a content type (415), changing nothing', async () => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      call('PATCH', alertPath(firstId), { token: tokens.technician, raw: '{"status":"resolved"}' }),
    );
    expectProblem(result, 415);
  });

  it('answers 404 for unknown and malformed ids, changing nothing', async () => {
    await expectCosmosUnchanged(cosmos, async () => {
      expectProblem(
        await patch(`30:temperature:${pt('09:05:00.000')}`, { status: 'resolved' }, tokens.admin),
        404,
      );
      expectProblem(await patch('nonsense', { status: 'resolved' }, tokens.admin), 404);
    });
  });

  it('refuses a stale If-Match with 412 and the current ETag, changing nothing', async () => {
    const current = (await get(alertPath(firstId))).headers.get('etag');
    for (const ifMatch of ['"stale"', 'W/"stale"', `W/${String(current)}`, '"a", "b"']) {
      const result = await expectCosmosUnchanged(cosmos, () =>
        patch(firstId, { status: 'acknowledged' }, tokens.technician, { 'if-match': ifMatch }),
      );
      expectProblem(result, 412);
      expect(result.headers.get('etag'), ifMatch).toBe(current);
    }
  });

  it('refuses an If-Match that is not a list of entity tags (400), changing nothing', async () => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      patch(firstId, { status: 'acknowledged' }, tokens.technician, { 'if-match': 'abc' }),
    );
    expectProblem(result, 400);
  });

  it('lets a technician acknowledge it, conditionally on the ETag they read', async () => {
    const read = await get(alertPath(firstId), tokens.technician);
    const etag = read.headers.get('etag')!;
    const note = `  On my way — ${'n'.repeat(1980)}  `;
    const result = await patch(firstId, { status: 'acknowledged', note }, tokens.technician, {
      'if-match': `"other", ${etag}`,
    });
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({
      id: firstId,
      status: 'acknowledged',
      acknowledgedBy: 'tech-dana',
      acknowledgementNote: note.trim(),
      severity: 'high',
      occurrences: 1,
    });
    expect(result.body.acknowledgedAt).toEqual(expect.any(String));
    expect(new Date(result.body.acknowledgedAt as string).toISOString()).toBe(
      result.body.acknowledgedAt,
    );
    expect(result.body.resolvedAt).toBeUndefined();
    expect(result.headers.get('etag')).toBe(result.body.etag);
    expect(result.body.etag).not.toBe(etag);
    acknowledgedEtag = result.body.etag as string;
    // Stored, and read back the same.
    const again = await get(alertPath(firstId));
    expect(again.body).toEqual(result.body);
    expect((await storedAlert(firstId, '30'))?.['acknowledgedBy']).toBe('tech-dana');
    // The status filter sees it.
    const acknowledged = await get('/api/alerts?status=acknowledged');
    expect((acknowledged.body.items as Json[]).map((a) => a.id)).toEqual([firstId]);
  });

  it('answers an acknowledgement of an acknowledged alert with it unchanged', async () => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      patch(firstId, { status: 'acknowledged', note: 'me too' }, tokens.otherTechnician),
    );
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ acknowledgedBy: 'tech-dana', etag: acknowledgedEtag });
    expect(result.body.acknowledgementNote).toMatch(/^On my way/);
  });

  it('keeps folding anomalous windows into the acknowledged alert (storm control)', async () => {
    const { logs } = await feed.send(
      jsonEvents([
        reading('30', pt('09:05:30'), { temperature: 92 }), // critical
        reading('31', pt('09:11:00'), { temperature: 20 }), // closes 09:05
      ]),
    );
    expect(logs[0]).toContain('1 alerts');
    const result = await get(alertPath(firstId));
    expect(result.body).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'tech-dana',
      severity: 'critical',
      occurrences: 2,
      firstWindowStart: pt('09:00:00.000'),
      lastWindowStart: pt('09:05:00.000'),
      raisedAt: pt('09:05:00.000'),
    });
    expect(result.body.etag).not.toBe(acknowledgedEtag);
  });

  it('refuses to resolve with the ETag from before the pipeline’s update (412)', async () => {
    const current = (await get(alertPath(firstId))).headers.get('etag');
    const result = await expectCosmosUnchanged(cosmos, () =>
      patch(firstId, { status: 'resolved' }, tokens.technician, { 'if-match': acknowledgedEtag }),
    );
    expectProblem(result, 412);
    expect(result.headers.get('etag')).toBe(current);
  });

  it('resolves it with If-Match: *', async () => {
    const result = await patch(firstId, { status: 'resolved' }, tokens.otherTechnician, {
      'if-match': '*',
    });
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'tech-eli',
      acknowledgedBy: 'tech-dana',
      occurrences: 2,
    });
    expect(new Date(result.body.resolvedAt as string).toISOString()).toBe(result.body.resolvedAt);
    expect(result.headers.get('etag')).toBe(result.body.etag);
    expect((await get(alertPath(firstId))).body).toEqual(result.body);
    // Every change so far, with who made it: the pipeline's dated by the window's end.
    expect(result.body.timeline).toEqual([
      { version: 1, at: pt('09:05:00.000'), by: 'pipeline', action: 'raised', to: 'high' },
      {
        version: 2,
        at: result.body.acknowledgedAt,
        by: 'tech-dana',
        action: 'acknowledged',
        from: 'open',
      },
      {
        version: 3,
        at: pt('09:10:00.000'),
        by: 'pipeline',
        action: 'escalated',
        from: 'high',
        to: 'critical',
      },
      {
        version: 4,
        at: result.body.resolvedAt,
        by: 'tech-eli',
        action: 'resolved',
        from: 'acknowledged',
      },
    ]);
    // Lists leave the timeline out.
    const listed = await get('/api/alerts?equipmentId=30');
    expect((listed.body.items as Json[])[0]).not.toHaveProperty('timeline');
  });

  it('answers resolving a resolved alert with it unchanged (idempotent)', async () => {
    const before = (await get(alertPath(firstId))).body;
    for (const token of [tokens.technician, tokens.admin]) {
      const result = await expectCosmosUnchanged(cosmos, () =>
        patch(firstId, { status: 'resolved' }, token),
      );
      expect(result.status, result.text).toBe(200);
      expect(result.body).toEqual(before);
      expect(result.headers.get('etag')).toBe(before.etag);
    }
  });

  it('refuses to take a resolved alert back to acknowledged (409)', async () => {
    const result = await expectCosmosUnchanged(cosmos, () =>
      patch(firstId, { status: 'acknowledged' }, tokens.admin),
    );
    expectProblem(result, 409);
    expect((await get(alertPath(firstId))).body.status).toBe('resolved');
  });

  it('opens a new alert for the next anomalous window after a resolve', async () => {
    const resolved = (await get(alertPath(firstId))).body;
    const { logs } = await feed.send(
      jsonEvents([
        reading('30', pt('09:15:30'), { temperature: 78 }), // medium
        reading('31', pt('09:21:00'), { temperature: 20 }), // closes 09:10 and 09:15
      ]),
    );
    expect(logs[0]).toContain('1 alerts');
    const fresh = await get(alertPath(secondId));
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.body).toMatchObject({
      id: secondId,
      status: 'open',
      severity: 'medium',
      occurrences: 1,
      firstWindowStart: pt('09:15:00.000'),
      raisedAt: pt('09:20:00.000'),
    });
    expect(fresh.body.acknowledgedBy).toBeUndefined();
    expect(fresh.body.resolvedBy).toBeUndefined();
    // The resolved one is left as it was.
    expect((await get(alertPath(firstId))).body).toEqual(resolved);
    const forEquipment = await get('/api/alerts?equipmentId=30');
    expect((forEquipment.body.items as Json[]).map((a) => [a.id, a.status])).toEqual([
      [secondId, 'open'],
      [firstId, 'resolved'],
    ]);
  });

  it('lets an admin resolve an open alert directly', async () => {
    const result = await patch(secondId, { status: 'resolved' }, tokens.admin);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ status: 'resolved', resolvedBy: 'admin-ada' });
    expect(result.body.acknowledgedAt).toBeUndefined();
  });
});

describe('resolving with a service record', () => {
  const countFor = async (alertId: string) => {
    const [rows] = await database.pool.query<import('mysql2/promise').RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM service_records WHERE alert_id = ?',
      [alertId],
    );
    return Number(rows[0]?.['n']);
  };

  it('records the work once, linked to the alert, however often the resolve is retried', async () => {
    const id = listed.e2Vibration;
    const work = { description: 'Replaced the slewing bearing', laborHours: 3.5 };
    const first = await patch(id, { status: 'resolved', serviceRecord: work }, tokens.technician);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ status: 'resolved', serviceRecordId: expect.any(Number) });
    const recordId = first.body.serviceRecordId as number;
    const record = await get(`/api/service-records/${String(recordId)}`);
    expect(record.status, record.text).toBe(200);
    expect(record.body).toMatchObject({
      equipmentId: 2,
      status: 'completed',
      serviceType: 'repair',
      description: work.description,
      laborHours: 3.5,
      alertId: id,
      technicianId: expect.any(Number),
    });
    const again = await patch(id, { status: 'resolved', serviceRecord: work }, tokens.technician);
    expect(again.status, again.text).toBe(200);
    expect(again.body.serviceRecordId).toBe(recordId);
    expect(await countFor(id)).toBe(1);
  });

  it('completes the link when the record was stored but the alert was not', async () => {
    const id = listed.e1Temperature;
    // The state a crash between the two stores leaves: the record exists, the alert is open.
    const { serviceRecordForAlert } = await import('../../lib/api/serviceRecords.js');
    const orphan = await serviceRecordForAlert(
      database.pool,
      { subject: 'admin-ada', roles: new Set(['Admin'] as const) },
      { id, equipmentId: '1' },
      { description: 'Cleaned the radiator' },
    );
    expect((await get(alertPath(id))).body.status).toBe('open');
    const retry = await patch(
      id,
      { status: 'resolved', serviceRecord: { description: 'Cleaned the radiator' } },
      tokens.admin,
    );
    expect(retry.status, retry.text).toBe(200);
    expect(retry.body).toMatchObject({ status: 'resolved', serviceRecordId: orphan.id });
    expect(await countFor(id)).toBe(1);
  });

  it('refuses a service record with anything but resolving, or a bad one, changing nothing', async () => {
    const id = listed.e3Temperature;
    for (const json of [
      { status: 'acknowledged', serviceRecord: { description: 'x' } },
      { status: 'resolved', serviceRecord: { description: '' } },
      { status: 'resolved', serviceRecord: { description: 'x', laborHours: -1 } },
      { status: 'resolved', serviceRecord: { description: 'x', serviceType: 'm'.repeat(51) } },
      { status: 'resolved', serviceRecord: { description: 'x', alertId: 'other' } },
      { status: 'resolved', serviceRecord: 'fixed it' },
      // The rules of POST /api/service-records, to the letter.
      { status: 'resolved', serviceRecord: { description: 'Fixed \uD800 it' } },
      { status: 'resolved', serviceRecord: { description: '   ' } },
      { status: 'resolved', serviceRecord: { description: 'x'.repeat(4001) } },
      { status: 'resolved', serviceRecord: { description: 'x', laborHours: 2.005 } },
      { status: 'resolved', serviceRecord: { description: 'x', laborHours: 10_000 } },
      { status: 'resolved', serviceRecord: { description: 'x', laborHours: '2' } },
    ]) {
      const result = await expectCosmosUnchanged(cosmos, () => patch(id, json, tokens.admin));
      expectProblem(result, 400);
    }
    expect(await countFor(id)).toBe(0);
  });

  it('refuses a record for equipment the registry does not know (409)', async () => {
    const { serviceRecordForAlert } = await import('../../lib/api/serviceRecords.js');
    await expect(
      serviceRecordForAlert(
        database.pool,
        { subject: 'admin-ada', roles: new Set(['Admin'] as const) },
        { id: 'pump-7:temperature:2026-03-10T08:00:00.000Z', equipmentId: 'pump-7' },
        { description: 'x' },
      ),
    ).rejects.toMatchObject({ kind: 'conflict' });
    await expect(
      serviceRecordForAlert(
        database.pool,
        { subject: 'admin-ada', roles: new Set(['Admin'] as const) },
        { id: '777:temperature:2026-03-10T08:00:00.000Z', equipmentId: '777' },
        { description: 'x' },
      ),
    ).rejects.toMatchObject({ kind: 'conflict' });
  });
});

describe('assigning an alert to a technician', () => {
  // Equipment 9 is tech-dana's and tech-eli's, not tech-fay's: an admin assigns its alert to
  // tech-fay, who then sees and handles it, while someone assigned to neither still cannot.
  const assignDay = '2026-03-12';
  const at = (hhmmss: string) => `${assignDay}T${hhmmss}Z`;
  const assignedId = `9:temperature:${at('10:00:00.000')}`;
  const technicianIds = { fay: 0, inactive: 0 };
  const tokensHere = { fay: '', stranger: '' };
  const clients: WebPubSubClient[] = [];

  beforeAll(async () => {
    technicianIds.fay = await assignTechnician(database.pool, 'tech-fay', [2]);
    technicianIds.inactive = await assignTechnician(database.pool, 'tech-gus', [], {
      active: false,
    });
    await assignTechnician(database.pool, 'tech-hal', [3]);
    tokensHere.fay = tokens.unassigned;
    tokensHere.stranger = await issuer.token(['Technician'], 'tech-hal');
    await new PartitionFeed('2').send(
      jsonEvents([
        reading('9', at('10:00:30'), { temperature: 92 }), // critical
        reading('9', at('10:06:00'), { temperature: 40 }), // closes 10:00
      ]),
    );
  });
  afterAll(() => {
    for (const client of clients.splice(0)) client.stop();
  });

  /** tech-fay connected to Web PubSub with what /api/negotiate gives her. */
  async function fayListening() {
    const negotiated = await call('POST', '/api/negotiate', { token: tokensHere.fay });
    expect(negotiated.status, negotiated.text).toBe(200);
    const client = new WebPubSubClient(negotiated.body.url as string, {
      autoReconnect: false,
      messageRetryOptions: { maxRetries: 0 },
    });
    clients.push(client);
    const received: Json[] = [];
    client.on('server-message', (event) => received.push(event.message.data as Json));
    await client.start();
    return received;
  }

  const listIds = async (token: string) =>
    ((await get('/api/alerts', token)).body.items as Json[]).map((a) => a.id);

  it('is hidden from a technician not assigned to the equipment', async () => {
    expectProblem(await get(alertPath(assignedId), tokensHere.fay), 404);
    expect(await listIds(tokensHere.fay)).not.toContain(assignedId);
  });

  it('refuses assigning to a technician (403), an unknown or inactive one (409) or with a stale If-Match (412), changing nothing', async () => {
    const current = await get(alertPath(assignedId));
    const etag = current.headers.get('etag')!;
    await expectCosmosUnchanged(cosmos, async () => {
      expectProblem(
        await patch(assignedId, { assignee: technicianIds.fay }, tokens.technician),
        403,
      );
      expectProblem(
        await patch(
          assignedId,
          { status: 'acknowledged', assignee: technicianIds.fay },
          tokens.technician,
        ),
        403,
      );
      for (const assignee of [technicianIds.inactive, 999_999]) {
        const refused = await patch(assignedId, { assignee }, tokens.admin);
        expectProblem(refused, 409);
        expect(problemTargets(refused)).toEqual(['#/assignee']);
      }
      expectProblem(
        await patch(assignedId, { assignee: technicianIds.fay }, tokens.admin, {
          'if-match': '"stale"',
        }),
        412,
      );
      for (const assignee of [0, 'tech-fay', 1.5]) {
        const refused = await patch(assignedId, { assignee }, tokens.admin);
        expectProblem(refused, 400);
        expect(problemTargets(refused)).toEqual(['#/assignee']);
      }
    });
    expect((await get(alertPath(assignedId))).headers.get('etag')).toBe(etag);
    expectProblem(await get(alertPath(assignedId), tokensHere.fay), 404);
  });

  it('lets an admin assign it; the assignee receives it by user, sees it, lists it and acknowledges it', async () => {
    const received = await fayListening();
    const before = await get(alertPath(assignedId));
    const result = await patch(assignedId, { assignee: technicianIds.fay }, tokens.admin, {
      'if-match': before.headers.get('etag')!,
    });
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({
      status: 'open',
      version: (before.body.version as number) + 1,
      assigneeTechnicianId: technicianIds.fay,
      assigneeUserId: 'tech-fay',
      assignedBy: 'admin-ada',
    });
    expect(new Date(result.body.assignedAt as string).toISOString()).toBe(result.body.assignedAt);
    expect(() => alertSchema.parse(result.body)).not.toThrow();
    // Delivered to her by user, although she is not assigned to equipment 9.
    await expect
      .poll(() => received.map((message) => [message['type'], (message['alert'] as Json).id]))
      .toContainEqual(['alert.updated', assignedId]);
    const delivered = (await storedAlert(assignedId, '9'))?.['delivery'] as Json;
    expect(delivered['pending']).toEqual([]);

    // Assigning again to the same technician changes nothing.
    const again = await expectCosmosUnchanged(cosmos, () =>
      patch(assignedId, { assignee: technicianIds.fay }, tokens.admin),
    );
    expect(again.status, again.text).toBe(200);
    expect(again.body.version).toBe(result.body.version);

    const seen = await get(alertPath(assignedId), tokensHere.fay);
    expect(seen.status, seen.text).toBe(200);
    expect(await listIds(tokensHere.fay)).toContain(assignedId);
    const filtered = await get('/api/alerts?equipmentId=9', tokensHere.fay);
    expect((filtered.body.items as Json[]).map((a) => a.id)).toEqual([assignedId]);
    // Nobody else gains access.
    expectProblem(await get(alertPath(assignedId), tokensHere.stranger), 404);
    expect(await listIds(tokensHere.stranger)).not.toContain(assignedId);
    expectProblem(await patch(assignedId, { status: 'acknowledged' }, tokensHere.stranger), 404);

    const acknowledged = await patch(assignedId, { status: 'acknowledged' }, tokensHere.fay, {
      'if-match': seen.headers.get('etag')!,
    });
    expect(acknowledged.status, acknowledged.text).toBe(200);
    expect(acknowledged.body).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'tech-fay',
      assigneeUserId: 'tech-fay',
    });
    // The next version reaches her too.
    await expect
      .poll(() => received.map((message) => [message['type'], (message['alert'] as Json).status]))
      .toContainEqual(['alert.updated', 'acknowledged']);
  });

  it('lets an admin unassign it together with a status change; the former assignee loses access', async () => {
    const result = await patch(assignedId, { status: 'resolved', assignee: null }, tokens.admin);
    expect(result.status, result.text).toBe(200);
    expect(result.body).toMatchObject({ status: 'resolved', resolvedBy: 'admin-ada' });
    for (const field of ['assigneeTechnicianId', 'assigneeUserId', 'assignedBy', 'assignedAt']) {
      expect(result.body[field], field).toBeUndefined();
    }
    expectProblem(await get(alertPath(assignedId), tokensHere.fay), 404);
    expect(await listIds(tokensHere.fay)).not.toContain(assignedId);
    // Unassigning an unassigned alert changes nothing.
    const again = await expectCosmosUnchanged(cosmos, () =>
      patch(assignedId, { assignee: null }, tokens.admin),
    );
    expect(again.status, again.text).toBe(200);
    expect(again.body.version).toBe(result.body.version);
  });
});

describe('/api/alerts/{id}/comments', () => {
  const commentsPath = (id: string) => `${alertPath(id)}/comments`;
  const post = (id: string, json: unknown, token: string, headers: Record<string, string> = {}) =>
    call('POST', commentsPath(id), { token, json, headers });

  it('adds comments by their authors, lists them oldest first, and leaves the alert’s version alone', async () => {
    const id = listed.e3Temperature;
    const before = await get(alertPath(id));
    expect((await get(commentsPath(id), tokens.technician)).body).toEqual({ items: [] });

    const first = await post(id, { text: '  Checking the coolant  ' }, tokens.technician, {
      'if-match': before.headers.get('etag')!,
    });
    expect(first.status, first.text).toBe(201);
    expect(first.body).toEqual({
      id: 1,
      author: 'tech-dana',
      at: expect.any(String),
      text: 'Checking the coolant',
    });
    expect(new Date(first.body.at as string).toISOString()).toBe(first.body.at);
    const second = await post(id, { text: 'Spare pump ordered' }, tokens.admin);
    expect(second.status, second.text).toBe(201);
    expect(second.body).toMatchObject({ id: 2, author: 'admin-ada' });

    const listedComments = await get(commentsPath(id), tokens.otherTechnician);
    expect(listedComments.status, listedComments.text).toBe(200);
    expect(listedComments.body).toEqual({ items: [first.body, second.body] });
    const after = await get(alertPath(id));
    // The ETag moves with the document; the delivery version and the public alert do not.
    expect(listedComments.headers.get('etag')).toBe(after.headers.get('etag'));
    expect(second.headers.get('etag')).toBe(after.headers.get('etag'));
    expect(after.body.etag).not.toBe(before.body.etag);
    const { etag: _a, ...publicAfter } = after.body;
    const { etag: _b, ...publicBefore } = before.body;
    expect(publicAfter).toEqual(publicBefore);
    expect((await storedAlert(id, '3'))?.['deliveryPending']).toBeUndefined();
  });

  it('refuses a stale If-Match (412), a bad body (400) or none (415), changing nothing', async () => {
    const id = listed.e3Temperature;
    await expectCosmosUnchanged(cosmos, async () => {
      expectProblem(await post(id, { text: 'x' }, tokens.admin, { 'if-match': '"stale"' }), 412);
      for (const json of [
        {},
        { text: '   ' },
        { text: 'x'.repeat(2001) },
        { text: 7 },
        { text: 'a\uD800b' },
        { text: 'x', author: 'someone-else' },
      ]) {
        expectProblem(await post(id, json, tokens.admin), 400);
      }
      expectProblem(
        await call('POST', commentsPath(id), { token: tokens.admin, raw: '{"text":"x"}' }),
        415,
      );
    });
    expect(((await get(commentsPath(id))).body.items as Json[]).length).toBe(2);
  });

  it('answers 404 to whoever may not see the alert, 401 without a token, 403 without a role', async () => {
    const id = listed.e3Temperature;
    await expectCosmosUnchanged(cosmos, async () => {
      expectProblem(await get(commentsPath(id), tokens.unassigned), 404);
      expectProblem(await post(id, { text: 'x' }, tokens.unassigned), 404);
      expectProblem(await get(commentsPath(`3:temperature:${lt('07:00:00.000')}`)), 404);
      expectProblem(await post('nonsense', { text: 'x' }, tokens.admin), 404);
      expectProblem(await call('GET', commentsPath(id)), 401);
      expectProblem(await call('POST', commentsPath(id), { json: { text: 'x' } }), 401);
      expectProblem(await post(id, { text: 'x' }, tokens.noRole), 403);
    });
  });

  it('keeps at most 200 comments per alert, refusing the next with 409', async () => {
    const id = listed.e1Pressure;
    const stored = (await storedAlert(id, '1'))!;
    const comments = Array.from({ length: 199 }, (_, index) => ({
      id: index + 1,
      author: 'admin-ada',
      at: '2026-03-10T09:00:00.000Z',
      text: `comment ${index + 1}`,
    }));
    await cosmos.containers.alerts.item(id, '1').replace({ ...stored, comments });
    const last = await post(id, { text: 'the two hundredth' }, tokens.technician);
    expect(last.status, last.text).toBe(201);
    expect(last.body).toMatchObject({ id: 200, text: 'the two hundredth' });
    const refused = await expectCosmosUnchanged(cosmos, () =>
      post(id, { text: 'one more' }, tokens.admin),
    );
    expectProblem(refused, 409);
    expect(((await get(commentsPath(id))).body.items as Json[]).length).toBe(200);
  });

  it('is in the OpenAPI document with its operations', async () => {
    const document = await get('/api/openapi.json');
    const paths = document.body.paths as Record<string, Record<string, Json>>;
    expect(paths['/alerts/{id}/comments']?.['get']?.['operationId']).toBe('listAlertComments');
    expect(paths['/alerts/{id}/comments']?.['post']?.['operationId']).toBe('addAlertComment');
  });
});
