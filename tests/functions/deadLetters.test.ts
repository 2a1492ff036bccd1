/**
 * /api/dead-letters over what the real pipeline rejected: a stream with malformed, invalid,
 * future and late readings goes through the Event Hub handler, then admins read why each
 * reading is missing. Technicians may not see raw device payloads.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deadLetterSchema } from '../../lib/api/telemetrySchemas.js';
import { alertSlotType } from '../../lib/telemetry/cosmosStore.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  allPages,
  documents,
  expectCosmosUnchanged,
  insertEquipment,
  invokeIngest,
  type Json,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';
import { expectProblem, problemTargets } from '../helpers/problems.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const tokens = { admin: '', technician: '', noRole: '' };
const get = (path: string, token: string = tokens.admin) => call('GET', path, { token });

const t = (hhmmss: string) => `2026-06-02T${hhmmss}Z`;
const invalidD1 = JSON.stringify(reading('41', t('10:00:05'), { temperature: 300 }));
const elementD2 = { equipmentId: '42', timestamp: t('10:00:35'), vibration: 'high' };
const elementD3 = { equipmentId: '43', timestamp: t('10:00:36'), status: 'ok' };

/** Every dead letter of the stream (one per event), newest enqueued first. */
const newestFirst = [
  '0:7', // 10:07:20 invalid 42
  '0:6', // 10:07:10 late 41
  '0:4', // 10:00:40 invalid 42 and 43
  '0:3', // 10:00:30 future 42
  '0:2', // 10:00:20 malformed
  '0:1', // 10:00:10 invalid 41
];

/** The first rejected reading of each letter, by letter id. */
async function firstRejections(): Promise<Map<string, Json>> {
  const items = (await get('/api/dead-letters')).body.items as Json[];
  return new Map(items.map((d) => [d.id as string, (d.rejections as Json[])[0] ?? {}]));
}

beforeAll(async () => {
  // Registered machines; readings of any other id are dead-lettered as unregistered.
  for (const id of [41, 42, 43]) await insertEquipment(db.pool, id);
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  tokens.noRole = await issuer.token([], 'x');

  const feed = new PartitionFeed('0');
  await feed.send([
    [JSON.stringify(reading('41', t('10:00:00'), { temperature: 40 })), t('10:00:01')],
    [invalidD1, t('10:00:10')],
    ['not json at all', t('10:00:20')],
    [JSON.stringify(reading('42', t('10:30:00'), { temperature: 40 })), t('10:00:30')],
    [
      JSON.stringify([elementD2, reading('41', t('10:00:38'), { temperature: 42 }), elementD3]),
      t('10:00:40'),
    ],
  ]);
  await feed.send([
    [JSON.stringify(reading('41', t('10:07:00'), { temperature: 41 })), t('10:07:01')],
    [JSON.stringify(reading('41', t('10:03:00'), { temperature: 44 })), t('10:07:10')],
    [JSON.stringify({ equipmentId: '42', timestamp: 'yesterday', pressure: 30 }), t('10:07:20')],
  ]);
});

describe('GET /api/dead-letters', () => {
  it('lists every rejected reading, newest enqueued first', async () => {
    const result = await get('/api/dead-letters');
    expect(result.status, result.text).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.body.nextCursor).toBeNull();
    const items = result.body.items as Json[];
    expect(items.map((d) => d.id)).toEqual(newestFirst);
    expect(items.map((d) => [d.reason, d.equipmentId, d.equipmentIds, d.sequenceNumber])).toEqual([
      ['invalid', '42', ['42'], 7],
      ['late', '41', ['41'], 6],
      ['invalid', '42', ['42', '43'], 4],
      ['future', '42', ['42'], 3],
      ['malformed', '(unknown)', [], 2],
      ['invalid', '41', ['41'], 1],
    ]);
    // The array event's two bad readings are one document.
    expect(items[2]).toMatchObject({ rejectedCount: 2, omittedCount: 0, reasons: ['invalid'] });
    expect((items[2]?.rejections as Json[]).map((r) => [r.index, r.equipmentId])).toEqual([
      [0, '42'],
      [2, '43'],
    ]);
    for (const item of items) {
      expect(() => deadLetterSchema.parse(item)).not.toThrow();
      expect(item.partitionId).toBe('0');
      expect(item.etag).toMatch(/^"[^"]+"$/);
      expect(Object.keys(item).filter((k) => k.startsWith('_') || k === 'ttl')).toEqual([]);
    }
    // Exactly what the pipeline stored: nothing more, nothing less.
    expect(items.map((d) => d.id).sort()).toEqual(
      (await documents(cosmos, 'deadLetters')).map((d) => d.id).sort(),
    );
  });

  it('shows the raw payload and each issue', async () => {
    const byId = await firstRejections();
    expect(byId.get('0:1')).toMatchObject({
      raw: invalidD1,
      rawTruncated: false,
      issues: [{ path: '/temperature', message: expect.stringContaining('got 300') }],
    });
    expect(byId.get('0:2')).toMatchObject({
      raw: 'not json at all',
      issues: [{ path: '', message: expect.stringContaining('not valid JSON') }],
    });
    expect(byId.get('0:3')).toMatchObject({
      issues: [{ path: '/timestamp', message: expect.stringContaining('1770000 ms after') }],
    });
    expect(byId.get('0:4')).toMatchObject({
      raw: JSON.stringify(elementD2),
      issues: [{ path: '/vibration', message: expect.any(String) }],
    });
    const items = (await get('/api/dead-letters')).body.items as Json[];
    expect(items.find((d) => d.id === '0:4')).toMatchObject({
      enqueuedTime: '2026-06-02T10:00:40.000Z',
    });
    expect((items.find((d) => d.id === '0:4')?.rejections as Json[])[1]).toMatchObject({
      raw: JSON.stringify(elementD3),
      issues: [{ path: '', message: expect.stringContaining('at least one of') }],
    });
    expect(byId.get('0:6')).toMatchObject({
      raw: JSON.stringify({
        equipmentId: '41',
        timestamp: Date.parse(t('10:03:00')),
        temperature: 44,
      }),
      issues: [{ path: '/timestamp', message: expect.stringContaining('closed') }],
    });
    expect(byId.get('0:7')?.issues).toEqual([
      { path: '/timestamp', message: expect.stringContaining('ISO 8601') },
    ]);
  });

  it('filters by reason, equipmentId and since', async () => {
    const ids = async (query: string) => {
      const result = await get(`/api/dead-letters?${query}`);
      expect(result.status, result.text).toBe(200);
      return (result.body.items as Json[]).map((d) => d.id as string);
    };
    expect(await ids('reason=invalid')).toEqual(['0:7', '0:4', '0:1']);
    expect(await ids('reason=late')).toEqual(['0:6']);
    expect(await ids('reason=future')).toEqual(['0:3']);
    expect(await ids('reason=malformed')).toEqual(['0:2']);
    expect(await ids('reason=too-many')).toEqual([]);
    expect(await ids('reason=unregistered')).toEqual([]);
    expect(await ids('reason=unreadable-batch')).toEqual([]);
    expect(await ids('equipmentId=42')).toEqual(['0:7', '0:4', '0:3']);
    // Found by any of its readings' ids, not only the one it is filed under.
    expect(await ids('equipmentId=43')).toEqual(['0:4']);
    expect(await ids('equipmentId=41')).toEqual(['0:6', '0:1']);
    expect(await ids(`equipmentId=${encodeURIComponent('(unknown)')}`)).toEqual(['0:2']);
    expect(await ids('equipmentId=49')).toEqual([]);
    // since: enqueued at or after.
    expect(await ids(`since=${t('10:00:30')}`)).toEqual(newestFirst.slice(0, 4));
    expect(await ids(`since=${encodeURIComponent('2026-06-02T12:07:10+02:00')}`)).toEqual([
      '0:7',
      '0:6',
    ]);
    expect(await ids(`since=${t('10:07:20.001')}`)).toEqual([]);
    expect(await ids(`reason=invalid&equipmentId=42&since=${t('10:05:00')}`)).toEqual(['0:7']);
  });

  it('walks every page without duplicates or gaps', async () => {
    const pages = await allPages(get, '/api/dead-letters?limit=2');
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2]);
    expect(pages.flat().map((d) => d.id)).toEqual(newestFirst);
    const single = await allPages(get, '/api/dead-letters?limit=1&reason=invalid');
    expect(single.flat().map((d) => d.id)).toEqual(['0:7', '0:4', '0:1']);
    const exact = await get('/api/dead-letters?limit=6');
    expect(exact.body.items).toHaveLength(6);
    expect(exact.body.nextCursor).toBeNull();
  });

  it('is for admins only: a technician gets 403, no token 401, no role 403', async () => {
    await expectCosmosUnchanged(cosmos, async () => {
      for (const [token, status] of [
        [tokens.technician, 403],
        [tokens.noRole, 403],
        [undefined, 401],
      ] as const) {
        const result = await call('GET', '/api/dead-letters', token ? { token } : {});
        expectProblem(result, status);
        // Raw payloads stay hidden.
        expect(result.text).not.toContain('not json at all');
        expect(result.text).not.toContain(invalidD1);
      }
    });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=300', 'limit'],
    ['limit=two', 'limit'],
    ['cursor=%21%21', 'cursor'],
    [`cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'cursor'],
    ['reason=bogus', 'reason'],
    ['reason=LATE', 'reason'],
    ['since=last-week', 'since'],
    ['since=2026-06-02', 'since'],
    ['equipmentId=', 'equipmentId'],
    [`equipmentId=${'x'.repeat(65)}`, 'equipmentId'],
    ['partitionId=0', 'partitionId'],
    ['reason=late&reason=invalid', 'reason'],
  ])('refuses ?%s with a 400 naming %s', async (query, parameter) => {
    const result = await expectCosmosUnchanged(cosmos, () => get(`/api/dead-letters?${query}`));
    expectProblem(result, 400);
    // An unreadable time is also out of range: its parameter may be named twice, no other.
    expect(new Set(problemTargets(result))).toEqual(new Set([parameter]));
    expect(result.body.instance).toBe('/api/dead-letters');
  });

  it('checks the role before the query', async () => {
    // A technician learns nothing about the query either.
    const result = await expectCosmosUnchanged(cosmos, () =>
      get('/api/dead-letters?reason=bogus', tokens.technician),
    );
    expectProblem(result, 403);
  });
});

describe('GET /api/dead-letters: finding a device’s rejected readings', () => {
  it('files a reading with a numeric equipmentId under that equipment', async () => {
    // The HTTP API shows equipment ids as numbers, so the likeliest device mistake is to
    // send `"equipmentId": 7`. The reading is rightly invalid (ids are text), but an admin
    // looking for why equipment 7's data is missing must find it under equipmentId=7.
    const feed = new PartitionFeed('1');
    await feed.send([
      [
        JSON.stringify({ equipmentId: 7, timestamp: t('11:00:00'), temperature: 40 }),
        t('11:00:01'),
      ],
    ]);
    const all = (await get(`/api/dead-letters?since=${t('11:00:00')}`)).body.items as Json[];
    expect(all.map((d) => [d.id, d.reason])).toEqual([['1:0', 'invalid']]);
    const result = await get('/api/dead-letters?equipmentId=7');
    expect(result.status, result.text).toBe(200);
    expect((result.body.items as Json[]).map((d) => d.id)).toEqual(['1:0']);
  });
});

describe('GET /api/dead-letters: parked batches', () => {
  it('lists a parked batch beside the readings’ dead letters, filtered by its reason', async () => {
    // The handler parks a batch whose metadata does not line up with its bodies.
    const { logs } = await invokeIngest(['{}', '[]'], {
      partitionContext: { partitionId: '5' },
      sequenceNumberArray: [100],
      enqueuedTimeUtcArray: [t('12:00:00')],
    });
    expect(logs.join('\n')).toMatch(/parked 2 events as an unreadable batch/);
    const parked = { id: 'parked:5:100-100' };
    const result = await get(`/api/dead-letters?since=${t('12:00:00')}`);
    expect(result.status, result.text).toBe(200);
    const items = result.body.items as Json[];
    expect(items.map((d) => d.id)).toEqual([parked.id]);
    expect(() => deadLetterSchema.parse(items[0])).not.toThrow();
    expect(items[0]).toMatchObject({
      reason: 'unreadable-batch',
      eventCount: 2,
      enqueuedTime: new Date(t('12:00:00')).toISOString(),
      events: [
        { sequenceNumber: null, raw: '{}', rawTruncated: false },
        { sequenceNumber: null, raw: '[]', rawTruncated: false },
      ],
    });
    const byReason = await get('/api/dead-letters?reason=unreadable-batch');
    expect((byReason.body.items as Json[]).map((d) => d.id)).toEqual([parked.id]);
    const invalid = await get(`/api/dead-letters?reason=invalid&since=${t('12:00:00')}`);
    expect(invalid.body.items).toEqual([]);
  });
});

describe('GET /api/dead-letters: readings of machines nobody registered', () => {
  it('dead-letters them as unregistered, keeps the registered ones, and lists who sends', async () => {
    const feed = new PartitionFeed('6');
    await feed.send([
      [JSON.stringify(reading('41', t('13:00:00'), { temperature: 95 })), t('13:00:01')],
      [
        JSON.stringify([
          reading('41', t('13:00:05'), { temperature: 96 }),
          reading('777', t('13:00:05'), { temperature: 99 }),
          reading('gateway-x', t('13:00:06'), { temperature: 99 }),
        ]),
        t('13:00:07'),
      ],
      [JSON.stringify(reading('777', t('13:06:30'), { temperature: 99 })), t('13:06:31')],
      // A registered machine's reading moves the watermark: window 13:00 closes.
      [JSON.stringify(reading('42', t('13:06:40'), { temperature: 20 })), t('13:06:41')],
    ]);
    const unregistered = await get(`/api/dead-letters?reason=unregistered&since=${t('13:00:00')}`);
    expect(unregistered.status, unregistered.text).toBe(200);
    const items = unregistered.body.items as Json[];
    expect(items.map((d) => [d.id, d.equipmentId, d.equipmentIds, d.rejectedCount])).toEqual([
      ['6:2', '777', ['777'], 1],
      ['6:1', '777', ['777', 'gateway-x'], 2],
    ]);
    for (const item of items) expect(() => deadLetterSchema.parse(item)).not.toThrow();
    expect(
      ((await get('/api/dead-letters?equipmentId=gateway-x')).body.items as Json[]).map(
        (d) => d.id,
      ),
    ).toEqual(['6:1']);
    // Only the registered machine's readings made an aggregate, and only its alert exists.
    const aggregates = await documents(cosmos, 'aggregates');
    expect(
      aggregates.filter((a) => String(a['windowStart']) === t('13:00:00.000')).map((a) => a.id),
    ).toEqual([`41:${t('13:00:00.000')}`]);
    const alerts = (await documents(cosmos, 'alerts')).filter((a) => a['type'] !== alertSlotType);
    expect(alerts.map((a) => String(a['equipmentId']))).toEqual(['41']);
  });
});
