import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../lib/errors.js';
import { issuesToProblems, jsonPointer, parseOrThrow } from '../../../lib/http/validation.js';

function issues(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected the value to be invalid');
  return result.error.issues;
}

describe('jsonPointer', () => {
  it('points at the root and at nested members', () => {
    expect(jsonPointer([])).toBe('#');
    expect(jsonPointer(['name'])).toBe('#/name');
    expect(jsonPointer(['items', 0, 'labor'])).toBe('#/items/0/labor');
  });

  it('escapes ~ and / (RFC 6901)', () => {
    expect(jsonPointer(['a/b'])).toBe('#/a~1b');
    expect(jsonPointer(['m~n'])).toBe('#/m~0n');
    // ~ is escaped first, so "~1" in a key is not confused with an escaped "/".
    expect(jsonPointer(['~1'])).toBe('#/~01');
    expect(jsonPointer(['a/~/b', 'x'])).toBe('#/a~1~0~1b/x');
  });

  // Bug: the pointer is documented as a URI fragment, but characters the fragment grammar does
  // not allow (space, %, ", non-ASCII) are not percent-encoded as RFC 6901 section 6 requires,
  // so a client decoding the fragment gets a different key (or a URIError for "%").
  it('percent-encodes characters a URI fragment cannot carry (RFC 6901 section 6)', () => {
    expect(jsonPointer(['bad key'])).toBe('#/bad%20key');
    expect(jsonPointer(['100%'])).toBe('#/100%25');
    const pointer = jsonPointer(['Größe "x"']);
    expect(decodeURIComponent(pointer.slice(2))).toBe('Größe "x"');
    expect(pointer).toMatch(/^#[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/);
  });
});

describe('issuesToProblems', () => {
  const schema = z.strictObject({
    name: z.string().max(5),
    parts: z.array(z.strictObject({ count: z.number().int() })),
    meta: z.strictObject({ 'a/b': z.string() }),
  });

  it('points at nested body paths', () => {
    const problems = issuesToProblems(
      issues(schema, { name: 'too long', parts: [{ count: 1 }, { count: 1.5 }], meta: {} }),
      'body',
    );
    expect(problems.map((p) => p.pointer).sort()).toEqual([
      '#/meta/a~1b',
      '#/name',
      '#/parts/1/count',
    ]);
    for (const problem of problems) {
      expect(problem.detail).toEqual(expect.any(String));
      expect(problem.parameter).toBeUndefined();
    }
  });

  it('reports one problem per unrecognized key', () => {
    const problems = issuesToProblems(
      issues(schema, {
        name: 'ok',
        parts: [{ count: 1, extra: true }],
        meta: { 'a/b': 'x' },
        color: 'red',
        size: 3,
      }),
      'body',
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        { pointer: '#/color', detail: 'Unknown field' },
        { pointer: '#/size', detail: 'Unknown field' },
        { pointer: '#/parts/0/extra', detail: 'Unknown field' },
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('names query parameters instead of pointing', () => {
    const query = z.strictObject({ limit: z.coerce.number().int().max(200) });
    const problems = issuesToProblems(issues(query, { limit: '500', sort: 'name' }), 'query');
    expect(problems).toEqual(
      expect.arrayContaining([
        { parameter: 'limit', detail: expect.any(String) },
        { parameter: 'sort', detail: 'Unknown field' },
      ]),
    );
    expect(problems).toHaveLength(2);
    for (const problem of problems) expect(problem.pointer).toBeUndefined();
  });

  it('names path parameters', () => {
    const path = z.object({ id: z.coerce.number().int().positive() });
    expect(issuesToProblems(issues(path, { id: 'abc' }), 'path')).toEqual([
      { parameter: 'id', detail: expect.any(String) },
    ]);
  });
});

describe('parseOrThrow', () => {
  it('returns the parsed value', () => {
    expect(parseOrThrow(z.object({ n: z.coerce.number() }), { n: '4' }, 'query')).toEqual({ n: 4 });
  });

  it('throws a 400 listing every problem', () => {
    let caught: unknown;
    try {
      parseOrThrow(z.strictObject({ a: z.string(), b: z.number() }), { a: 1, b: 'x' }, 'body');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HttpError);
    const error = caught as HttpError;
    expect(error.status).toBe(400);
    expect(error.message).toBe('The request body has problems.');
    expect(error.errors?.map((e) => e.pointer).sort()).toEqual(['#/a', '#/b']);
  });
});
