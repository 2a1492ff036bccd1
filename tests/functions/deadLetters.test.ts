/**
 * /api/dead-letters over what the real pipeline rejected: a stream with malformed, invalid,
 * future and late readings goes through the Event Hub handler, then admins read why each
 * reading is missing. Technicians may not see raw device payloads.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deadLetterSchema } from '../../lib/api/telemetrySchemas.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  allPages,
  documents,
  expectCosmosUnchanged,
  expectParameterProblem,
  expectProblem,
  type Json,
  PartitionFeed,
  reading,
} from '../helpers/telemetry.js';

useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const tokens = { admin: '', technician: '', noRole: '' };
const get = (path: string, token: string = tokens.admin) => call('GET', path, { token });

const t = (hhmmss: string) => `2026-06-02T${hhmmss}Z`;
const invalidD1 = JSON.stringify(reading('D1', t('10:00:05'), { temperature: 300 }));
const elementD2 = { equipmentId: 'D2', timestamp: t('10:00:35'), vibration: 'high' };
const elementD3 = { equipmentId: 'D3', timestamp: t('10:00:36'), status: 'ok' };

/** Every dead letter of the stream, newest enqueued first, ties by id descending. */
const newestFirst = [
  '0:7:event', // 10:07:20 invalid D2
  '0:6:late-0', // 10:07:10 late D1
  '0:4:2', // 10:00:40 invalid D3
  '0:4:0', // 10:00:40 invalid D2
  '0:3:event', // 10:00:30 future D2
  '0:2:event', // 10:00:20 malformed
  '0:1:event', // 10:00:10 invalid D1
];

beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  tokens.noRole = await issuer.token([], 'x');

  const feed = new PartitionFeed('0');
  await feed.send([
    [JSON.stringify(reading('D1', t('10:00:00'), { temperature: 40 })), t('10:00:01')],
    [invalidD1, t('10:00:10')],
    ['not json at all', t('10:00:20')],
    [JSON.stringify(reading('D2', t('10:30:00'), { temperature: 40 })), t('10:00:30')],
    [
      JSON.stringify([elementD2, reading('D1', t('10:00:38'), { temperature: 42 }), elementD3]),
      t('10:00:40'),
    ],
  ]);
  await feed.send([
    [JSON.stringify(reading('D1', t('10:07:00'), { temperature: 41 })), t('10:07:01')],
    [JSON.stringify(reading('D1', t('10:03:00'), { temperature: 44 })), t('10:07:10')],
    [JSON.stringify({ equipmentId: 'D2', timestamp: 'yesterday', pressure: 30 }), t('10:07:20')],
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
    expect(items.map((d) => [d.reason, d.equipmentId, d.sequenceNumber, d.index])).toEqual([
      ['invalid', 'D2', 7, null],
      ['late', 'D1', 6, null],
      ['invalid', 'D3', 4, 2],
      ['invalid', 'D2', 4, 0],
      ['future', 'D2', 3, null],
      ['malformed', '(unknown)', 2, null],
      ['invalid', 'D1', 1, null],
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
    const byId = new Map(
      ((await get('/api/dead-letters')).body.items as Json[]).map((d) => [d.id as string, d]),
    );
    expect(byId.get('0:1:event')).toMatchObject({
      raw: invalidD1,
      rawTruncated: false,
      enqueuedTime: '2026-06-02T10:00:10.000Z',
      issues: [{ path: '/temperature', message: expect.stringContaining('got 300') }],
    });
    expect(byId.get('0:2:event')).toMatchObject({
      raw: 'not json at all',
      issues: [{ path: '', message: expect.stringContaining('not valid JSON') }],
    });
    expect(byId.get('0:3:event')).toMatchObject({
      issues: [{ path: '/timestamp', message: expect.stringContaining('1770000 ms after') }],
    });
    expect(byId.get('0:4:0')).toMatchObject({
      raw: JSON.stringify(elementD2),
      enqueuedTime: '2026-06-02T10:00:40.000Z',
      issues: [{ path: '/vibration', message: expect.any(String) }],
    });
    expect(byId.get('0:4:2')).toMatchObject({
      raw: JSON.stringify(elementD3),
      issues: [{ path: '', message: expect.stringContaining('at least one of') }],
    });
    expect(byId.get('0:6:late-0')).toMatchObject({
      raw: JSON.stringify({
        equipmentId: 'D1',
        timestamp: Date.parse(t('10:03:00')),
        temperature: 44,
      }),
      issues: [{ path: '/timestamp', message: expect.stringContaining('closed') }],
    });
    expect(byId.get('0:7:event')?.issues).toEqual([
      { path: '/timestamp', message: expect.stringContaining('ISO 8601') },
    ]);
  });

  it('filters by reason, equipmentId and since', async () => {
    const ids = async (query: string) => {
      const result = await get(`/api/dead-letters?${query}`);
      expect(result.status, result.text).toBe(200);
      return (result.body.items as Json[]).map((d) => d.id as string);
    };
    expect(await ids('reason=invalid')).toEqual(['0:7:event', '0:4:2', '0:4:0', '0:1:event']);
    expect(await ids('reason=late')).toEqual(['0:6:late-0']);
    expect(await ids('reason=future')).toEqual(['0:3:event']);
    expect(await ids('reason=malformed')).toEqual(['0:2:event']);
    expect(await ids('reason=too-many')).toEqual([]);
    expect(await ids('equipmentId=D2')).toEqual(['0:7:event', '0:4:0', '0:3:event']);
    expect(await ids('equipmentId=D1')).toEqual(['0:6:late-0', '0:1:event']);
    expect(await ids(`equipmentId=${encodeURIComponent('(unknown)')}`)).toEqual(['0:2:event']);
    expect(await ids('equipmentId=D9')).toEqual([]);
    // since: enqueued at or after.
    expect(await ids(`since=${t('10:00:30')}`)).toEqual(newestFirst.slice(0, 5));
    expect(await ids(`since=${encodeURIComponent('2026-06-02T12:07:10+02:00')}`)).toEqual([
      '0:7:event',
      '0:6:late-0',
    ]);
    expect(await ids(`since=${t('10:07:20.001')}`)).toEqual([]);
    expect(await ids(`reason=invalid&equipmentId=D2&since=${t('10:05:00')}`)).toEqual([
      '0:7:event',
    ]);
  });

  it('walks every page without duplicates or gaps', async () => {
    const pages = await allPages(get, '/api/dead-letters?limit=2');
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat().map((d) => d.id)).toEqual(newestFirst);
    const single = await allPages(get, '/api/dead-letters?limit=1&reason=invalid');
    expect(single.flat().map((d) => d.id)).toEqual(['0:7:event', '0:4:2', '0:4:0', '0:1:event']);
    const exact = await get('/api/dead-letters?limit=7');
    expect(exact.body.items).toHaveLength(7);
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
        expect(result.text).not.toContain('0:1:event');
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
    expectParameterProblem(result, parameter);
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
    expect(all.map((d) => [d.id, d.reason])).toEqual([['1:0:event', 'invalid']]);
    const result = await get('/api/dead-letters?equipmentId=7');
    expect(result.status, result.text).toBe(200);
    expect((result.body.items as Json[]).map((d) => d.id)).toEqual(['1:0:event']);
  });
});
