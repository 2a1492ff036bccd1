import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidCursorError } from '../../lib/errors.js';
import { decodeCursor, encodeCursor } from '../../lib/paging.js';

const sortThenId = z.tuple([z.string().max(64), z.string().max(512)]);

describe('cursor codec', () => {
  it('round-trips any key its schema accepts, as URL-safe text', () => {
    fc.assert(
      // Any code points; an astral one takes 2 UTF-16 units, so these stay within the bounds.
      fc.property(
        fc.string({ unit: 'binary', maxLength: 32 }),
        fc.string({ unit: 'binary', maxLength: 256 }),
        (sort, id) => {
          const cursor = encodeCursor([sort, id]);
          expect(cursor).toMatch(/^[A-Za-z0-9_-]*$/);
          expect(decodeCursor(cursor, sortThenId)).toEqual([sort, id]);
        },
      ),
    );
  });

  it('returns what the schema makes of the key', () => {
    const withDate = z.tuple([z.iso.datetime().transform((value) => new Date(value))]);
    const cursor = encodeCursor(['2026-01-15T08:00:00.000Z']);
    expect(decodeCursor(cursor, withDate)).toEqual([new Date(Date.UTC(2026, 0, 15, 8))]);
  });

  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  it.each([
    ['empty', ''],
    ['garbage', '%%%'],
    ['standard base64 characters', 'W1+/'],
    ['padded', `${encodeCursor(['a', 'b'])}==`],
    ['not JSON', b64('hello')],
    ['truncated JSON', encodeCursor(['a', 'b']).slice(0, -3)],
    ['a JSON object', b64('{"sort":"a","id":"b"}')],
    ['a key of the wrong shape', encodeCursor(['a'])],
    ['a key of the wrong types', encodeCursor([1, 2])],
    ['a value over its bound', encodeCursor(['x'.repeat(65), 'b'])],
    ['over 1024 characters', 'A'.repeat(1025)],
  ])('refuses a cursor that is %s', (_what, cursor) => {
    expect(() => decodeCursor(cursor, sortThenId)).toThrow(InvalidCursorError);
    expect(() => decodeCursor(cursor, sortThenId)).toThrow(
      'The cursor is not one this list returned.',
    );
  });

  it('refuses a tampered cursor or decodes it to a key its schema accepts, nothing else', () => {
    const cursor = encodeCursor(['2026-01-15T08:00:00.000Z', 'pump-7:temperature']);
    fc.assert(
      fc.property(
        fc.nat({ max: cursor.length - 1 }),
        fc.constantFrom(
          ...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_!'),
        ),
        (position, replacement) => {
          const tampered = cursor.slice(0, position) + replacement + cursor.slice(position + 1);
          let key: unknown;
          try {
            key = decodeCursor(tampered, sortThenId);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidCursorError);
            return;
          }
          expect(sortThenId.safeParse(key).success).toBe(true);
        },
      ),
    );
  });
});
