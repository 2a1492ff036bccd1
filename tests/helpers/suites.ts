/**
 * Suites that hold for every CRUD resource (equipment, technicians, service records): they
 * share one HTTP layer (`lib/http/crud.ts`), so the same requests must get the same answers.
 * Each `describe…` function registers a describe block for the resource it is given; the
 * resource's own test file keeps what is particular to it.
 */
import type { Pool } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { call, type ApiCallOptions } from './api.js';
import type { TestIssuer } from './auth.js';
import { itemIds, walkPages } from './lists.js';
import { expectParameterProblem, expectPointers, expectProblem } from './problems.js';
import { expectNothingChangedIn, queryRows } from './rows.js';

/** An item as the API answers it. */
export type Item = { id: number; version: number } & Record<string, unknown>;

export interface ResourceUnderTest {
  /** Names the describe blocks, e.g. `equipment`. */
  name: string;
  /** The collection path, e.g. `/api/equipment`; items are at `${path}/{id}`. */
  path: string;
  db: { readonly pool: Pool };
  /** Read when the tests run, so they may be signed in a `beforeAll` (see `useTokens`). */
  tokens: { readonly admin: string };
  /** Creates one item (version 1) as Admin through the API and returns it. */
  create(): Promise<Item>;
  /** A body that POST and PUT accept, unique on each call where the resource needs that. */
  validBody(): Record<string, unknown>;
}

export interface TableResourceUnderTest extends ResourceUnderTest {
  /** The table behind the collection. */
  table: string;
  /** A free-text field of the body, answered as sent, whose limit is far below 1 MiB. */
  textField: string;
}

/**
 * Path ids to refuse: anything but a positive whole number up to 2^53 - 1 written plainly
 * (no sign, leading zero, fraction, exponent or space).
 */
export const badIds = [
  'abc',
  '0',
  '-1',
  '1.5',
  '99999999999999999999',
  '1e3',
  '01',
  '9007199254740992',
  ' 1',
];

/**
 * Returns a check that `body` is refused with 400 at exactly `pointers` both as a POST and
 * as a PUT (with `If-Match: "1"`) over a new item, and that nothing is stored.
 */
export function rejectOnCreateAndReplace(
  resource: ResourceUnderTest,
): (body: unknown, pointers: string[]) => Promise<void> {
  const { path } = resource;
  return async (body, pointers) => {
    const existing = await resource.create();
    const token = resource.tokens.admin;
    await expectNothingChangedIn(resource.db.pool, async () => {
      expectPointers(await call('POST', path, { token, json: body }), path, pointers);
      const itemPath = `${path}/${existing.id}`;
      expectPointers(
        await call('PUT', itemPath, { token, json: body, headers: { 'if-match': '"1"' } }),
        itemPath,
        pointers,
      );
    });
  };
}

/** Unknown ids are 404; ids that are not ids at all are 400 naming the parameter. */
export function describeItemIds(resource: ResourceUnderTest): void {
  const { path } = resource;
  describe(`${resource.name}: item ids`, () => {
    it('answers 404 for unknown ids, up to the largest valid one', async () => {
      const created = await resource.create();
      for (const unknown of [created.id + 1, created.id + 1000, Number.MAX_SAFE_INTEGER]) {
        const itemPath = `${path}/${unknown}`;
        expectProblem(await call('GET', itemPath, { token: resource.tokens.admin }), 404, itemPath);
      }
    });

    it.each(badIds)('answers 400 for the bad id %j on GET, PUT and DELETE', async (id) => {
      await resource.create();
      const token = resource.tokens.admin;
      const itemPath = `${path}/${encodeURIComponent(id)}`;
      await expectNothingChangedIn(resource.db.pool, async () => {
        expectProblem(await call('GET', itemPath, { token }), 400, itemPath);
        expectProblem(
          await call('PUT', itemPath, { token, json: resource.validBody() }),
          400,
          itemPath,
        );
        expectProblem(await call('DELETE', itemPath, { token }), 400, itemPath);
      });
    });

    it('names the path parameter at fault in a bad-id problem', async () => {
      const token = resource.tokens.admin;
      const itemPath = `${path}/abc`;
      expectParameterProblem(await call('GET', itemPath, { token }), 'id', itemPath);
      expectParameterProblem(
        await call('PUT', itemPath, { token, json: resource.validBody() }),
        'id',
        itemPath,
      );
      expectParameterProblem(await call('DELETE', itemPath, { token }), 'id', itemPath);
    });
  });
}

export interface PagedResourceUnderTest extends TableResourceUnderTest {
  /** Inserts `count` rows directly; returns their ids in ascending order. */
  insertRows(count: number): Promise<number[]>;
  /** A filter (`query`, without `?`) and how to insert rows it matches and rows it does not. */
  filter: {
    query: string;
    insertMatching(count: number): Promise<number[]>;
    insertOther(count: number): Promise<number[]>;
  };
}

/** Keyset pagination by id: page sizes, walking, cursors that were not issued. */
export function describePagination(resource: PagedResourceUnderTest): void {
  const { path } = resource;
  const get = (query: string) => call('GET', `${path}${query}`, { token: resource.tokens.admin });

  describe(`${resource.name}: keyset pagination`, () => {
    it('returns 50 items by default and at most 200 when asked', async () => {
      const all = await resource.insertRows(201);
      const first = await get('');
      expect(first.status).toBe(200);
      expect(itemIds(first.body)).toEqual(all.slice(0, 50));
      expect(typeof first.body.nextCursor).toBe('string');

      const max = await get('?limit=200');
      expect(max.status).toBe(200);
      expect(itemIds(max.body)).toEqual(all.slice(0, 200));
      const rest = await get(`?limit=200&cursor=${encodeURIComponent(max.body.nextCursor)}`);
      expect(rest.status).toBe(200);
      expect(rest.body).toEqual({
        items: [expect.objectContaining({ id: all[200] })],
        nextCursor: null,
      });
    });

    it.each(['0', '201', 'abc', '-1', '-5', '1.5', '2.5', '', '1000000'])(
      'refuses limit=%j with 400 naming the parameter',
      async (limit) => {
        await resource.insertRows(2);
        expectParameterProblem(await get(`?limit=${limit}`), 'limit', path);
      },
    );

    it('walks every page exactly once with no duplicates or gaps', async () => {
      const all = await resource.insertRows(10);
      const { ids, pages } = await walkPages(`${path}?limit=3`, resource.tokens.admin);
      expect(ids).toEqual(all);
      expect(pages).toBe(4);
    });

    it('ends with nextCursor null when the last page is exactly full', async () => {
      const all = await resource.insertRows(4);
      const first = await get('?limit=2');
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await get(`?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(itemIds(second.body)).toEqual(all.slice(2));
      expect(second.body.nextCursor).toBeNull();
    });

    it('pages within a filter', async () => {
      const matching = await resource.filter.insertMatching(5);
      const other = await resource.filter.insertOther(5);
      expect(other).toHaveLength(5);
      const { ids, pages } = await walkPages(
        `${path}?${resource.filter.query}&limit=2`,
        resource.tokens.admin,
      );
      expect(ids).toEqual(matching);
      expect(pages).toBe(3);
    });

    it('continues after the last row seen even when that row is deleted or new rows arrive', async () => {
      const all = await resource.insertRows(6);
      const first = await get('?limit=3');
      expect(itemIds(first.body)).toEqual(all.slice(0, 3));
      await resource.db.pool.query('DELETE FROM ?? WHERE id = ?', [resource.table, all[2]]);
      const added = await resource.insertRows(1);
      const { ids } = await walkPages(`${path}?limit=3`, resource.tokens.admin, {
        start: first.body.nextCursor,
      });
      expect(ids).toEqual([...all.slice(3), ...added]);
    });

    const cursor = (json: string) => Buffer.from(json).toString('base64url');
    const tampered: [string, string][] = [
      ['garbage', '%%%'],
      ['not base64url', 'abc!def'],
      ['base64 with + and /', 'a+b/c='],
      ['base64url of non-JSON', cursor('hello')],
      ['base64url of other non-JSON', cursor('not json')],
      ['a JSON object', cursor('{"id":1}')],
      ['id zero', cursor('[0]')],
      ['negative id', cursor('[-5]')],
      ['fractional id', cursor('[1.5]')],
      ['string id', cursor('["1"]')],
      ['string id with SQL', cursor(`["7; DROP TABLE ${resource.table}"]`)],
      ['a date', cursor('["2024-01-01T00:00:00.000Z"]')],
      ['two keys', cursor('[1,2]')],
      ['empty array', cursor('[]')],
      ['SQL in cursor', cursor('["1 OR 1=1"]')],
      ['huge id', cursor('[1e300]')],
      ['over 512 characters', 'A'.repeat(513)],
    ];

    it.each(tampered)('refuses a tampered cursor (%s) with 400', async (_label, value) => {
      await resource.insertRows(3);
      await expectNothingChangedIn(resource.db.pool, async () => {
        const res = await get(`?cursor=${encodeURIComponent(value)}`);
        expectParameterProblem(res, 'cursor', path);
      });
    });

    it('refuses an empty cursor rather than restarting at the first page', async () => {
      await resource.insertRows(3);
      expectParameterProblem(await get('?limit=2&cursor='), 'cursor', path);
    });
  });
}

/** How POST and PUT read the body: JSON only, UTF-8 only, at most 1 MiB. */
export function describeBodyParsing(resource: TableResourceUnderTest): void {
  const { path } = resource;
  const json = { 'content-type': 'application/json' };

  describe(`${resource.name}: request bodies`, () => {
    /** Sends `raw` as POST and as PUT over a new item; both must be `status`. */
    async function refuseBoth(
      raw: string | Uint8Array,
      headers: Record<string, string>,
      status: number,
    ): Promise<void> {
      const existing = await resource.create();
      const itemPath = `${path}/${existing.id}`;
      const token = resource.tokens.admin;
      await expectNothingChangedIn(resource.db.pool, async () => {
        expectProblem(await call('POST', path, { token, raw, headers }), status, path);
        expectProblem(await call('PUT', itemPath, { token, raw, headers }), status, itemPath);
      });
    }

    it.each<[string, string | Uint8Array]>([
      ['unterminated', '{"serialNumber": "X-1", "name": "n", "type": "t"'],
      ['cut short after a comma', '{"name": "Ana",'],
      ['single-quoted', "{'serialNumber': 'X-1'}"],
      ['with a trailing comma', '{"serialNumber": "X-1",}'],
      ['with bare keys', '{name: "Ana"}'],
      ['undefined', 'undefined'],
      ['empty', ''],
      ['only whitespace', '   '],
      ['an array', '[]'],
      ['null', 'null'],
      ['a string', '"Ana"'],
      ['not UTF-8', new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ])('refuses a body that is %s with 400', async (_label, raw) => {
      await refuseBoth(raw, json, 400);
    });

    it.each([
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/jsonx',
      'json',
    ])('refuses the content type %s with 415', async (contentType) => {
      await refuseBoth(JSON.stringify(resource.validBody()), { 'content-type': contentType }, 415);
    });

    it('refuses a body without a content type with 415', async () => {
      await refuseBoth(JSON.stringify(resource.validBody()), {}, 415);
    });

    it('accepts application/json with a charset', async () => {
      const existing = await resource.create();
      const headers = { 'content-type': 'application/json; charset=utf-8' };
      const token = resource.tokens.admin;
      const created = await call('POST', path, {
        token,
        raw: JSON.stringify(resource.validBody()),
        headers,
      });
      expect(created.status, created.text).toBe(201);
      const replaced = await call('PUT', `${path}/${existing.id}`, {
        token,
        raw: JSON.stringify(resource.validBody()),
        headers,
      });
      expect(replaced.status, replaced.text).toBe(200);
    });

    it('refuses a body over 1 MiB with 413 and reads one of exactly 1 MiB', async () => {
      const existing = await resource.create();
      const itemPath = `${path}/${existing.id}`;
      const token = resource.tokens.admin;
      const body = resource.validBody();
      const padding =
        1024 * 1024 - Buffer.byteLength(JSON.stringify({ ...body, [resource.textField]: '' }));
      const sized = (length: number) =>
        JSON.stringify({ ...body, [resource.textField]: 'x'.repeat(length) });
      const exact = sized(padding);
      expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
      const over = sized(padding + 1);
      await expectNothingChangedIn(resource.db.pool, async () => {
        expectProblem(await call('POST', path, { token, raw: over, headers: json }), 413, path);
        expectProblem(
          await call('PUT', itemPath, { token, raw: over, headers: json }),
          413,
          itemPath,
        );
        // Exactly at the limit the body is read, then refused for its over-long field.
        expectPointers(await call('POST', path, { token, raw: exact, headers: json }), path, [
          `#/${resource.textField}`,
        ]);
      });
    });
  });
}

/**
 * Deleting, and `If-Match` on PUT and DELETE: absent is unconditional; `*`, the current tag or
 * a list naming it proceeds; a stale or weak tag is 412 with the current ETag; a malformed
 * header is 400. Tags compare strongly and as strings, so `"01"` does not name version 1.
 */
export function describeConditionalWrites(resource: TableResourceUnderTest): void {
  const { path } = resource;
  /** Replaces with a valid body whose text field is `text`. */
  const put = (itemPath: string, ifMatch?: string, text = 'replaced') =>
    call('PUT', itemPath, {
      token: resource.tokens.admin,
      json: { ...resource.validBody(), [resource.textField]: text },
      ...(ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }),
    });
  const remove = (itemPath: string, ifMatch?: string) =>
    call('DELETE', itemPath, {
      token: resource.tokens.admin,
      ...(ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }),
    });
  const ids = async () =>
    (await queryRows(resource.db.pool, 'SELECT id FROM ?? ORDER BY id', [resource.table])).map(
      (row) => Number(row['id']),
    );

  describe(`${resource.name}: conditional replace and delete`, () => {
    it('replaces with If-Match: the current tag, *, and a list containing the current tag', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id}`;
      for (const [ifMatch, version] of [
        ['"1"', 2],
        ['*', 3],
        ['"1", "2", "3"', 4],
        ['"9", "4"', 5],
        ['"5","9"', 6],
      ] as const) {
        const res = await put(itemPath, ifMatch, `version ${version}`);
        expect(res.status, `If-Match: ${ifMatch}`).toBe(200);
        expect(res.body).toMatchObject({ [resource.textField]: `version ${version}`, version });
        expect(res.headers.get('etag')).toBe(`"${version}"`);
      }
      const read = await call('GET', itemPath, { token: resource.tokens.admin });
      expect(read.body).toMatchObject({ [resource.textField]: 'version 6', version: 6 });
      expect(read.headers.get('etag')).toBe('"6"');
    });

    it('answers 412 on a stale or weak If-Match, reports the current ETag and changes nothing', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id}`;
      const refuseAll = async (tags: string[], current: number) => {
        await expectNothingChangedIn(resource.db.pool, async () => {
          for (const ifMatch of tags) {
            const replaced = await put(itemPath, ifMatch, 'lost update');
            expectProblem(replaced, 412, itemPath);
            expect(replaced.headers.get('etag')).toBe(`"${current}"`);
            const removed = await remove(itemPath, ifMatch);
            expectProblem(removed, 412, itemPath);
            expect(removed.headers.get('etag')).toBe(`"${current}"`);
          }
        });
      };
      await refuseAll(['"0"', '"2"', 'W/"1"'], 1);
      expect((await put(itemPath, undefined, 'v2')).body.version).toBe(2);
      expect((await put(itemPath, undefined, 'v3')).body.version).toBe(3);
      await refuseAll(['"1"', '"2"', '"1", "2"', '"1", "4"', 'W/"3"', '"abc"'], 3);
      const read = await call('GET', itemPath, { token: resource.tokens.admin });
      expect(read.body).toMatchObject({ [resource.textField]: 'v3', version: 3 });
    });

    it.each(['"01"', '"001"', '"+1"', '"1.0"', '"1e0"'])(
      'answers 412 to If-Match: %s on PUT and DELETE of a version-1 item (strong, exact comparison)',
      async (ifMatch) => {
        const created = await resource.create();
        expect(created.version).toBe(1);
        const itemPath = `${path}/${created.id}`;
        await expectNothingChangedIn(resource.db.pool, async () => {
          const replaced = await put(itemPath, ifMatch);
          expectProblem(replaced, 412, itemPath);
          expect(replaced.headers.get('etag')).toBe('"1"');
          const removed = await remove(itemPath, ifMatch);
          expectProblem(removed, 412, itemPath);
          expect(removed.headers.get('etag')).toBe('"1"');
        });
        // The exact tag still matches.
        expect((await remove(itemPath, '"1"')).status).toBe(204);
      },
    );

    it('refuses a malformed If-Match with 400 naming the header', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id}`;
      await expectNothingChangedIn(resource.db.pool, async () => {
        for (const ifMatch of ['version-1', '1', '3', '"1', '', ' ', '"1" "2"']) {
          for (const res of [await put(itemPath, ifMatch), await remove(itemPath, ifMatch)]) {
            expectProblem(res, 400, itemPath);
            expect(res.body.errors).toEqual([{ header: 'if-match', detail: expect.any(String) }]);
          }
        }
      });
    });

    it('answers 404 to PUT and DELETE of an unknown id, with or without If-Match', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id + 1}`;
      await expectNothingChangedIn(resource.db.pool, async () => {
        for (const ifMatch of [undefined, '*', '"1"']) {
          expectProblem(await put(itemPath, ifMatch), 404, itemPath);
          expectProblem(await remove(itemPath, ifMatch), 404, itemPath);
        }
      });
    });

    it('deletes, then answers 404 for the item and for a second delete', async () => {
      const keep = await resource.create();
      const unconditional = await resource.create();
      const conditional = await resource.create();
      for (const [gone, ifMatch] of [
        [unconditional, undefined],
        [conditional, '"1"'],
      ] as const) {
        const itemPath = `${path}/${gone.id}`;
        const res = await remove(itemPath, ifMatch);
        expect(res.status).toBe(204);
        expect(res.text).toBe('');
        expectProblem(await call('GET', itemPath, { token: resource.tokens.admin }), 404, itemPath);
        expectProblem(await remove(itemPath), 404, itemPath);
      }
      expect(await ids()).toEqual([keep.id]);
    });

    it('deletes with If-Match: the current tag, * and lists containing it', async () => {
      const items = [
        await resource.create(),
        await resource.create(),
        await resource.create(),
        await resource.create(),
      ];
      const tags = ['"1"', '*', '"5", "1"', '"4","1"'];
      for (const [i, item] of items.entries()) {
        const res = await remove(`${path}/${item.id}`, tags[i]);
        expect(res.status, `If-Match: ${tags[i] ?? ''}`).toBe(204);
      }
      expect(await ids()).toEqual([]);
    });
  });
}

/**
 * Conditional GET (RFC 9110 §13.1.2): `If-None-Match` is answered 304 with no body while the
 * tag still matches (weak comparison, `*`), 200 with the new tag once the resource changed;
 * a malformed header is ignored; lists carry a weak tag that round-trips the same way.
 */
export function describeConditionalReads(resource: TableResourceUnderTest): void {
  const { path } = resource;
  const get = (itemPath: string, ifNoneMatch?: string) =>
    call('GET', itemPath, {
      token: resource.tokens.admin,
      ...(ifNoneMatch === undefined ? {} : { headers: { 'if-none-match': ifNoneMatch } }),
    });

  describe(`${resource.name}: conditional reads`, () => {
    it('answers 304 with the tag and no body while If-None-Match matches, 200 once it is stale', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id}`;
      for (const tag of ['"1"', 'W/"1"', '"7", "1"', '"7",,W/"1"', '*']) {
        const res = await get(itemPath, tag);
        expect(res.status, `If-None-Match: ${tag}`).toBe(304);
        expect(res.text).toBe('');
        expect(res.headers.get('etag')).toBe('"1"');
      }
      const replaced = await call('PUT', itemPath, {
        token: resource.tokens.admin,
        json: { ...resource.validBody(), [resource.textField]: 'changed' },
      });
      expect(replaced.status).toBe(200);
      const stale = await get(itemPath, '"1"');
      expect(stale.status).toBe(200);
      expect(stale.body).toMatchObject({ [resource.textField]: 'changed', version: 2 });
      expect(stale.headers.get('etag')).toBe('"2"');
      expect((await get(itemPath, stale.headers.get('etag') ?? '')).status).toBe(304);
    });

    it('ignores a malformed If-None-Match (200), and 404s a missing item even with *', async () => {
      const created = await resource.create();
      const itemPath = `${path}/${created.id}`;
      for (const tag of ['1', '"1', 'W/1', '"1" junk', ',', 'w/"1"']) {
        const res = await get(itemPath, tag);
        expect(res.status, `If-None-Match: ${tag}`).toBe(200);
        expect(res.body).toMatchObject({ id: created.id, version: 1 });
      }
      expectProblem(await get(`${path}/${created.id + 1000}`, '*'), 404);
      expectProblem(await get(`${path}/${created.id + 1000}`, '"1"'), 404);
    });

    it('refuses bad input before any condition: a bad id, an over-long header, no token', async () => {
      expectProblem(await get(`${path}/abc`, '"1"'), 400);
      const created = await resource.create();
      const longTag = `"${'a'.repeat(1100)}"`;
      expectProblem(await get(`${path}/${created.id}`, longTag), 400);
      expectProblem(await get(path, longTag), 400);
      const anonymous = await call('GET', `${path}/${created.id}`, {
        headers: { 'if-none-match': '"1"' },
      });
      expectProblem(anonymous, 401);
    });

    it('tags lists weakly: the tag round-trips to 304 until the list changes', async () => {
      await resource.create();
      const first = await get(path);
      expect(first.status).toBe(200);
      const tag = first.headers.get('etag') ?? '';
      expect(tag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
      const again = await get(path, tag);
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
      expect(again.headers.get('etag')).toBe(tag);
      // Weak comparison: the strong form of the same opaque tag matches too.
      expect((await get(path, tag.slice(2))).status).toBe(304);
      await resource.create();
      const changed = await get(path, tag);
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(tag);
      expect(changed.body.items).toHaveLength(2);
    });
  });
}

export interface RoleCheckedResourceUnderTest extends ResourceUnderTest {
  /** Signs the extra tokens these suites need (foreign, expired, without roles). */
  issuer: TestIssuer;
  /** `technician`: a token with only the Technician role. */
  tokens: { readonly admin: string; readonly technician: string };
}

/** 401 without a valid token, 403 without a product role, and reads for technicians. */
export function describeAuthentication(resource: RoleCheckedResourceUnderTest): void {
  const { path, issuer } = resource;

  describe(`${resource.name}: authentication`, () => {
    it('answers 401 with a Bearer challenge on every route without a valid token', async () => {
      const created = await resource.create();
      const item = `${path}/${created.id}`;
      const foreign = await issuer.foreignToken(['Admin']);
      await expectNothingChangedIn(resource.db.pool, async () => {
        for (const token of [undefined, 'not.a.jwt', foreign]) {
          const attempts: [string, string, unknown][] = [
            ['GET', path, undefined],
            ['POST', path, resource.validBody()],
            ['GET', item, undefined],
            ['PUT', item, resource.validBody()],
            ['DELETE', item, undefined],
          ];
          for (const [method, attemptPath, json] of attempts) {
            const res = await call(method, attemptPath, { json, ...(token ? { token } : {}) });
            expectProblem(res, 401, attemptPath);
            expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
          }
        }
      });
    });

    it('answers 401 for a garbage, foreign, expired or non-bearer credential', async () => {
      const created = await resource.create();
      const item = `${path}/${created.id}`;
      const foreign = await issuer.foreignToken(['Admin']);
      const expired = await issuer.token(['Admin'], 'test-admin', '1 hour ago');
      await expectNothingChangedIn(resource.db.pool, async () => {
        for (const headers of [
          { authorization: 'Bearer garbage' },
          { authorization: 'Bearer a.b.c' },
          { authorization: `Bearer ${foreign}` },
          { authorization: `Bearer ${expired}` },
          { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
          { authorization: resource.tokens.admin },
        ]) {
          expectProblem(await call('GET', item, { headers }), 401, item);
          expectProblem(await call('DELETE', item, { headers }), 401, item);
        }
      });
    });

    it('answers 403 to a caller without a product role, even for reads', async () => {
      const created = await resource.create();
      const item = `${path}/${created.id}`;
      const nobody = await issuer.token([], 'x');
      const outsider = await issuer.token(['Auditor'], 'y');
      for (const token of [nobody, outsider]) {
        expectProblem(await call('GET', path, { token }), 403, path);
        expectProblem(await call('GET', item, { token }), 403, item);
      }
    });

    it('lets a technician read one item and the list', async () => {
      const created = await resource.create();
      const token = resource.tokens.technician;
      const one = await call('GET', `${path}/${created.id}`, { token });
      expect(one.status).toBe(200);
      expect(one.body).toEqual(created);
      expect(one.headers.get('etag')).toBe('"1"');
      const list = await call('GET', path, { token });
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ items: [created], nextCursor: null });
    });
  });
}

/**
 * Writes only Admin may make: a caller without that role is told so (403) before the body
 * is read, so a bad body cannot turn the answer into a 400, 413 or 415.
 */
export function describeAdminOnlyWrites(resource: RoleCheckedResourceUnderTest): void {
  const { path } = resource;
  const json = { 'content-type': 'application/json' };
  const bodies: [string, () => ApiCallOptions][] = [
    ['an empty object', () => ({ json: {} })],
    ['an object with unknown fields', () => ({ json: { bogus: true } })],
    ['a body of the wrong type', () => ({ json: ['not', 'an', 'object'] })],
    ['malformed JSON', () => ({ raw: '{"name": ', headers: json })],
    ['an empty body', () => ({ raw: '', headers: json })],
    ['not UTF-8', () => ({ raw: new Uint8Array([0x7b, 0xff, 0x7d]), headers: json })],
    [
      'form data',
      () => ({ raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    ],
    [
      'JSON sent as text/plain',
      () => ({
        raw: JSON.stringify(resource.validBody()),
        headers: { 'content-type': 'text/plain' },
      }),
    ],
    ['JSON without a content type', () => ({ raw: JSON.stringify(resource.validBody()) })],
    ['over 1 MiB', () => ({ raw: `"${'x'.repeat(1024 * 1024)}"`, headers: json })],
  ];

  describe(`${resource.name}: writes are checked for the Admin role before the body`, () => {
    it.each(bodies)(
      'answers 403 to a technician POSTing or PUTting %s',
      async (_label, options) => {
        const created = await resource.create();
        const item = `${path}/${created.id}`;
        const token = resource.tokens.technician;
        await expectNothingChangedIn(resource.db.pool, async () => {
          expectProblem(await call('POST', path, { ...options(), token }), 403, path);
          expectProblem(
            await call('PUT', item, {
              ...options(),
              token,
              headers: { ...options().headers, 'if-match': '"1"' },
            }),
            403,
            item,
          );
          expectProblem(await call('PUT', item, { ...options(), token }), 403, item);
        });
      },
    );

    it('answers 403 to a caller without any product role sending a bad body', async () => {
      const created = await resource.create();
      const item = `${path}/${created.id}`;
      const token = await resource.issuer.token([], 'nobody');
      await expectNothingChangedIn(resource.db.pool, async () => {
        for (const [, options] of bodies) {
          expectProblem(await call('POST', path, { ...options(), token }), 403, path);
          expectProblem(await call('PUT', item, { ...options(), token }), 403, item);
        }
      });
    });
  });
}
