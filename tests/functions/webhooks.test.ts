/**
 * /api/webhooks against a real MariaDB database, real signed tokens and a real key file: the
 * secret is shown once and is nowhere afterwards (answers, rows, change log, logs); URLs that
 * delivery would refuse are refused at registration with a 400 naming `#/url`; malformed,
 * oversized and unauthorised requests change nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ensureWebhookKeyFile } from '../../dev/webhookKey.js';
import { call, type ApiResult } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { expectPointers, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin'], 'admin-1'],
  technician: [['Technician'], 'tech-1'],
});
const { rows, expectNothingChanged } = rowHelpers(db);
const keyDir = mkdtempSync(join(tmpdir(), 'sis-test-webhooks-api-'));
// Loopback allowed, as in the local stack: the refusals below hold even then.
useAppSettings(() => ({
  WEBHOOK_SECRET_KEY_FILE: ensureWebhookKeyFile(join(keyDir, 'webhooks.key')),
  WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true',
}));
afterAll(() => {
  rmSync(keyDir, { recursive: true, force: true });
});

/** Everything the process printed while a test ran: no secret may be in it. */
const printed: string[] = [];
beforeAll(() => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method].bind(console);
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
      original(...args);
    });
  }
});
afterAll(() => {
  vi.restoreAllMocks();
});

const validBody = {
  url: 'https://hooks.example.com/sis?tenant=7',
  eventTypes: ['alert.raised', 'alert.escalated'],
  severities: ['critical'],
  equipmentTypes: ['Excavator'],
  locations: ['Quarry North'],
  description: 'Work orders',
};
/** Registrations resolve names: this one is loopback, allowed here (the local policy). */
const localBody = { url: 'http://127.0.0.1:9/hook', eventTypes: ['alert.raised'] };

const results: ApiResult[] = [];
async function api(...args: Parameters<typeof call>): Promise<ApiResult> {
  const res = await call(...args);
  results.push(res);
  return res;
}

beforeEach(async () => {
  await truncateAll(db.pool);
});
afterEach(() => {
  results.length = 0;
});

describe('webhooks: the secret is shown once', () => {
  it('answers 201 with the secret, and no later answer, row, event or log shows it', async () => {
    const created = await api('POST', '/api/webhooks', { token: tokens.admin, json: localBody });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('location')).toBe(`/api/webhooks/${created.body.id}`);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.body).toEqual({
      id: expect.any(Number),
      url: localBody.url,
      eventTypes: ['alert.raised'],
      severities: null,
      equipmentTypes: null,
      locations: null,
      description: null,
      isActive: true,
      disabledAt: null,
      disabledReason: null,
      version: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      secret,
    });
    const item = `/api/webhooks/${created.body.id}`;
    const later = [
      await api('GET', item, { token: tokens.admin }),
      await api('GET', '/api/webhooks', { token: tokens.admin }),
      await api('PUT', item, {
        token: tokens.admin,
        json: { ...localBody, description: 'renamed' },
        headers: { 'if-match': '"1"' },
      }),
    ];
    for (const res of later) {
      expect(res.status, res.text).toBe(200);
      expect(res.text).not.toContain('secret');
    }
    expect(later[0]?.body).toEqual({ ...created.body, secret: undefined });
    expect(later[2]?.body).toMatchObject({ description: 'renamed', version: 2 });
    const secretBytes = secret.slice('whsec_'.length);
    const [row] = await rows('SELECT * FROM webhooks');
    const stored = JSON.stringify(row, (_key, value: unknown) =>
      Buffer.isBuffer(value) ? value.toString('base64') : value,
    );
    expect(stored).not.toContain(secretBytes);
    expect(stored).not.toContain(secret);
    const events = await rows(
      "SELECT event_type, actor, before_state, after_state FROM change_events WHERE aggregate = 'webhook' ORDER BY id",
    );
    expect(events.map((e): unknown[] => [e['event_type'], e['actor']])).toEqual([
      ['WebhookCreated', 'admin-1'],
      ['WebhookUpdated', 'admin-1'],
    ]);
    expect(JSON.stringify(events)).not.toContain(secretBytes);
    const deleted = await api('DELETE', item, {
      token: tokens.admin,
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(204);
    expectProblem(await api('GET', item, { token: tokens.admin }), 404);
    // Its history outlives it, newest first, and shows the webhook, never the secret.
    const history = await api('GET', `${item}/history?limit=2`, { token: tokens.admin });
    expect(history.status).toBe(200);
    expect(
      (history.body.items as { type: string; actor: string; version: number | null }[]).map((e) => [
        e.type,
        e.actor,
        e.version,
      ]),
    ).toEqual([
      ['WebhookDeleted', 'admin-1', null],
      ['WebhookUpdated', 'admin-1', 2],
    ]);
    expect(history.body.items[1]).toMatchObject({
      before: { description: null, version: 1 },
      after: { description: 'renamed', version: 2 },
    });
    const oldest = await api(
      'GET',
      `${item}/history?cursor=${encodeURIComponent(history.body.nextCursor as string)}`,
      { token: tokens.admin },
    );
    expect(oldest.body).toMatchObject({
      items: [{ type: 'WebhookCreated', after: { url: localBody.url } }],
      nextCursor: null,
    });
    expectProblem(await api('GET', '/api/webhooks/999999/history', { token: tokens.admin }), 404);
    const all = [...results.flatMap((r) => [r.text, ...r.logs]), ...printed].join('\n');
    expect(all.split(secret).length - 1).toBe(1); // the creation answer only
    expect(all.split(secretBytes).length - 1).toBe(1);
  });

  it('stores and answers every filter, and lists with paging and an active filter', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await api('POST', '/api/webhooks', {
        token: tokens.admin,
        json: { ...localBody, isActive: i !== 1 },
      });
      expect(res.status).toBe(201);
    }
    const page = await api('GET', '/api/webhooks?limit=1', { token: tokens.admin });
    expect(page.body.items).toHaveLength(1);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const next = await api(
      'GET',
      `/api/webhooks?limit=5&cursor=${encodeURIComponent(page.body.nextCursor as string)}`,
      { token: tokens.admin },
    );
    expect(next.body.items).toHaveLength(2);
    const inactive = await api('GET', '/api/webhooks?active=false', { token: tokens.admin });
    const items = inactive.body.items as { isActive: boolean }[];
    expect(items.map((w) => w.isActive)).toEqual([false]);
    const etag = page.headers.get('etag') ?? '';
    const unchanged = await api('GET', '/api/webhooks?limit=1', {
      token: tokens.admin,
      headers: { 'if-none-match': etag },
    });
    expect(unchanged.status).toBe(304);
  });
});

describe('webhooks: refused registrations change nothing', () => {
  it.each([
    ['http to a public address', 'http://203.0.113.7/hook'],
    ['a private address', 'https://10.0.0.8/hook'],
    ['carrier-grade NAT', 'https://100.64.1.1/hook'],
    ['the identity endpoint', 'http://169.254.169.254/metadata/identity/oauth2/token'],
    ['the identity endpoint, IPv4-mapped', 'https://[::ffff:169.254.169.254]/metadata'],
    ['the identity endpoint, as a number', 'https://2852039166/metadata'],
    ['the second platform address', 'https://169.254.169.253/'],
    ['a link-local IPv6 address', 'https://[fe80::1]/hook'],
    ['a unique-local IPv6 address', 'https://[fd00:ec2::254]/latest'],
    ['credentials in the URL', 'https://user:secret@hooks.example.com/'],
    ['a fragment', 'https://hooks.example.com/#x'],
    ['another scheme', 'ftp://hooks.example.com/'],
    ['not a URL', 'hooks.example.com/hook'],
    ['an oversized URL', `https://hooks.example.com/${'a'.repeat(2000)}`],
  ])('refuses %s with a 400 naming #/url', async (_why, url) => {
    await expectNothingChanged(async () => {
      const res = await api('POST', '/api/webhooks', {
        token: tokens.admin,
        json: { ...validBody, url },
      });
      expectPointers(res, '/api/webhooks', ['#/url']);
    });
  });

  it('refuses the same URLs when replacing, keeping the webhook as it was', async () => {
    const created = await api('POST', '/api/webhooks', { token: tokens.admin, json: localBody });
    const item = `/api/webhooks/${created.body.id}`;
    await expectNothingChanged(async () => {
      const res = await api('PUT', item, {
        token: tokens.admin,
        json: { ...localBody, url: 'http://[::ffff:10.0.0.1]/x' },
        headers: { 'if-match': '"1"' },
      });
      expectPointers(res, item, ['#/url']);
    });
  });

  it('refuses malformed and hostile bodies, naming each field', async () => {
    const cases: [unknown, string[]][] = [
      [{ ...localBody, eventTypes: [] }, ['#/eventTypes']],
      [{ ...localBody, eventTypes: ['alert.raised', 'alert.raised'] }, ['#/eventTypes']],
      [{ ...localBody, eventTypes: ['alert.deleted'] }, ['#/eventTypes/0']],
      [{ ...localBody, severities: ['urgent'] }, ['#/severities/0']],
      [
        { ...localBody, equipmentTypes: Array.from({ length: 51 }, (_, i) => `t${i}`) },
        ['#/equipmentTypes'],
      ],
      [{ ...localBody, locations: ['x'.repeat(201)] }, ['#/locations/0']],
      [{ ...localBody, isActive: 'yes' }, ['#/isActive']],
      [{ ...localBody, secret: 'whsec_mine' }, ['#/secret']],
      [{ ...localBody, url: 42 }, ['#/url']],
      [{ eventTypes: ['alert.raised'] }, ['#/url']],
      [{ ...localBody, description: '\uD800' }, ['#/description']],
    ];
    await expectNothingChanged(async () => {
      for (const [json, pointers] of cases)
        expectPointers(
          await api('POST', '/api/webhooks', { token: tokens.admin, json }),
          '/api/webhooks',
          pointers,
        );
      expectProblem(
        await api('POST', '/api/webhooks', {
          token: tokens.admin,
          raw: '{"url":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
      );
      expectProblem(
        await api('POST', '/api/webhooks', {
          token: tokens.admin,
          raw: JSON.stringify({ ...localBody, description: 'x'.repeat(2 * 1024 * 1024) }),
          headers: { 'content-type': 'application/json' },
        }),
        413,
      );
    });
  });

  it('answers 401 without a valid token and 403 to anyone but an admin, reads included', async () => {
    const created = await api('POST', '/api/webhooks', { token: tokens.admin, json: localBody });
    const item = `/api/webhooks/${created.body.id}`;
    const foreign = await issuer.foreignToken(['Admin']);
    await expectNothingChanged(async () => {
      for (const token of [undefined, foreign]) {
        for (const [method, path] of [
          ['GET', '/api/webhooks'],
          ['POST', '/api/webhooks'],
          ['GET', item],
          ['PUT', item],
          ['DELETE', item],
          ['GET', `${item}/history`],
        ] as const) {
          const json = method === 'POST' || method === 'PUT' ? localBody : undefined;
          expectProblem(await api(method, path, { json, ...(token ? { token } : {}) }), 401);
        }
      }
      for (const [method, path] of [
        ['GET', '/api/webhooks'],
        ['POST', '/api/webhooks'],
        ['GET', item],
        ['PUT', item],
        ['DELETE', item],
        ['GET', `${item}/history`],
      ] as const) {
        // A malformed body too: a caller who may not write learns that first.
        const json = method === 'POST' || method === 'PUT' ? { url: 1 } : undefined;
        const res = await api(method, path, { token: tokens.technician, json });
        expectProblem(res, 403);
        expect(res.text).not.toContain('127.0.0.1');
      }
    });
  });

  it('answers 412 to a stale If-Match and 404 to a missing webhook', async () => {
    const created = await api('POST', '/api/webhooks', { token: tokens.admin, json: localBody });
    const item = `/api/webhooks/${created.body.id}`;
    await expectNothingChanged(async () => {
      expectProblem(
        await api('PUT', item, {
          token: tokens.admin,
          json: localBody,
          headers: { 'if-match': '"7"' },
        }),
        412,
      );
      expectProblem(
        await api('DELETE', item, { token: tokens.admin, headers: { 'if-match': '"7"' } }),
        412,
      );
      expectProblem(await api('GET', '/api/webhooks/999999', { token: tokens.admin }), 404);
    });
  });
});
