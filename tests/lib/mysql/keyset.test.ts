import { describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../../lib/errors.js';
import {
  afterClause,
  decodeCursor,
  encodeCursor,
  orderByClause,
  type KeysetOrder,
} from '../../../lib/mysql/keyset.js';

const byId: KeysetOrder = [{ column: 'id', direction: 'ASC', kind: 'id' }];
const byDateDesc: KeysetOrder = [
  { column: 'service_date', direction: 'DESC', kind: 'datetime' },
  { column: 'id', direction: 'DESC', kind: 'id' },
];
const qualified: KeysetOrder = [{ column: 'a.technician_id', direction: 'ASC', kind: 'id' }];

function rejected(order: KeysetOrder, cursor: string): InvalidCursorError {
  try {
    decodeCursor(order, cursor);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCursorError);
    return error as InvalidCursorError;
  }
  throw new Error(`cursor ${JSON.stringify(cursor)} was accepted`);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('cursors', () => {
  it('round-trips an id order', () => {
    const cursor = encodeCursor(byId, { id: 42, name: 'ignored' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(byId, cursor)).toEqual([42]);
  });

  it('round-trips a datetime + id order', () => {
    const when = new Date(Date.UTC(2026, 0, 15, 8, 30, 12, 345));
    const values = decodeCursor(
      byDateDesc,
      encodeCursor(byDateDesc, { service_date: when, id: 7 }),
    );
    expect(values).toHaveLength(2);
    expect(values[0]).toBeInstanceOf(Date);
    expect((values[0] as Date).getTime()).toBe(when.getTime());
    expect(values[1]).toBe(7);
  });

  it('round-trips a date + id order, and refuses a date-time where the date goes', () => {
    const byDayDesc: KeysetOrder = [
      { column: 'service_date', direction: 'DESC', kind: 'date' },
      { column: 'id', direction: 'DESC', kind: 'id' },
    ];
    // A DATE column comes back as text (the pool's dateStrings).
    const cursor = encodeCursor(byDayDesc, { service_date: '2024-02-29', id: 7 });
    expect(decodeCursor(byDayDesc, cursor)).toEqual(['2024-02-29', 7]);
    rejected(byDayDesc, b64(['2024-02-29T00:00:00.000Z', 7]));
    rejected(byDayDesc, b64(['2023-02-29', 7]));
  });

  it('reads unqualified names for qualified columns', () => {
    const cursor = encodeCursor(qualified, { technician_id: 3 });
    expect(decodeCursor(qualified, cursor)).toEqual([3]);
  });

  it('round-trips many generated keys (property style)', () => {
    // A small deterministic generator (no dependencies): same cases on every run.
    let seed = 0x2f6b3a1d;
    const next = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    const minTime = Date.UTC(1970, 0, 1);
    const maxTime = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    const edgeIds = [1, 2, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
    const edgeTimes = [minTime, maxTime, Date.UTC(2024, 1, 29)];
    for (let i = 0; i < 500; i++) {
      const id = edgeIds[i] ?? 1 + ((next() * 2 ** 21 + (next() >>> 11)) % Number.MAX_SAFE_INTEGER);
      const time =
        edgeTimes[i] ?? minTime + ((next() * 4096 + (next() % 4096)) % (maxTime - minTime));
      const cursor = encodeCursor(byDateDesc, { service_date: new Date(time), id });
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      const [date, decodedId] = decodeCursor(byDateDesc, cursor);
      expect((date as Date).getTime(), `case ${i}: ${new Date(time).toISOString()}`).toBe(time);
      expect(decodedId, `case ${i}`).toBe(id);
      expect(decodeCursor(byId, encodeCursor(byId, { id }))).toEqual([id]);
    }
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'abc$def'],
    ['padding', `${b64([1])}==`],
    ['standard base64 characters', 'W1+/'],
    ['not JSON', Buffer.from('hello').toString('base64url')],
    ['not an array', b64({ id: 1 })],
    ['too short', b64([])],
    ['too long', b64([1, 2])],
    ['a string id', b64(['1'])],
    ['a zero id', b64([0])],
    ['a negative id', b64([-5])],
    ['a fractional id', b64([1.5])],
    ['an unsafe id', b64([2 ** 53])],
    ['a null', b64([null])],
  ])('rejects a cursor that is %s', (_what, cursor) => {
    expect(rejected(byId, cursor).message).toBe('The cursor is not one this list returned.');
  });

  it.each([
    ['a date without time', ['2026-01-15', 3]],
    ['an impossible date', ['2026-02-30T00:00:00.000Z', 3]],
    ['a number for the date', [1768435200000, 3]],
    ['swapped values', [3, '2026-01-15T00:00:00.000Z']],
    ['a missing id', ['2026-01-15T00:00:00.000Z']],
  ])('rejects a datetime cursor with %s', (_what, values) => {
    expect(rejected(byDateDesc, b64(values))).toBeInstanceOf(InvalidCursorError);
  });

  it('rejects a cursor tampered with after encoding', () => {
    const cursor = encodeCursor(byDateDesc, {
      service_date: new Date(Date.UTC(2026, 0, 1)),
      id: 12,
    });
    // Flip one character at every position; each result is either refused or
    // decodes to a well-formed key, never anything else.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let refused = 0;
    for (let i = 0; i < cursor.length; i++) {
      const original = cursor[i] ?? 'A';
      const replacement = alphabet[(alphabet.indexOf(original) + 17) % alphabet.length] ?? 'A';
      const tampered = cursor.slice(0, i) + replacement + cursor.slice(i + 1);
      try {
        const [date, id] = decodeCursor(byDateDesc, tampered);
        expect(date).toBeInstanceOf(Date);
        expect(Number.isNaN((date as Date).getTime())).toBe(false);
        expect(Number.isSafeInteger(id)).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidCursorError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('rejects a cursor from a different order', () => {
    const fromIdList = encodeCursor(byId, { id: 5 });
    expect(rejected(byDateDesc, fromIdList)).toBeInstanceOf(InvalidCursorError);
  });
});

describe('afterClause', () => {
  it('builds a single-column comparison', () => {
    expect(afterClause(byId, [10])).toEqual({ sql: '((id > ?))', params: [10] });
    expect(afterClause([{ column: 'id', direction: 'DESC', kind: 'id' }], [10])).toEqual({
      sql: '((id < ?))',
      params: [10],
    });
  });

  it('builds the OR/AND expansion for two columns', () => {
    const when = new Date(Date.UTC(2026, 0, 2));
    expect(afterClause(byDateDesc, [when, 9])).toEqual({
      sql: '((service_date < ?) OR (service_date = ? AND id < ?))',
      params: [when, when, 9],
    });
  });

  it('handles mixed directions', () => {
    const order: KeysetOrder = [
      { column: 'a.technician_id', direction: 'ASC', kind: 'id' },
      { column: 'a.equipment_id', direction: 'DESC', kind: 'id' },
    ];
    expect(afterClause(order, [1, 2])).toEqual({
      sql: '((a.technician_id > ?) OR (a.technician_id = ? AND a.equipment_id < ?))',
      params: [1, 1, 2],
    });
  });

  it('refuses values that do not match the order', () => {
    expect(() => afterClause(byDateDesc, [new Date()])).toThrow(/does not match/);
  });

  it('selects exactly the rows after the key (checked against a sort)', () => {
    // Evaluate the generated predicate in JS over a small grid and compare with the order.
    const rows: { d: number; id: number }[] = [];
    for (let d = 0; d < 4; d++) for (let id = 1; id <= 4; id++) rows.push({ d, id });
    const { sql, params } = afterClause(
      [
        { column: 'd', direction: 'DESC', kind: 'id' },
        { column: 'id', direction: 'DESC', kind: 'id' },
      ],
      [2, 3],
    );
    // A tiny evaluator for exactly the grammar afterClause emits: (alt) OR (alt), where each
    // alt is `col op ?` joined by AND.
    const predicate = (row: Record<string, number>) => {
      const values = [...params] as number[];
      return sql
        .slice(1, -1)
        .split(' OR ')
        .map((alternative) =>
          alternative
            .slice(1, -1)
            .split(' AND ')
            .map((comparison) => {
              const [column = '', op, placeholder] = comparison.split(' ');
              expect(placeholder).toBe('?');
              const left = row[column];
              const right = values.shift();
              if (left === undefined || right === undefined) throw new Error(comparison);
              return op === '=' ? left === right : op === '>' ? left > right : left < right;
            })
            .every(Boolean),
        )
        .some(Boolean);
    };
    const sorted = [...rows].sort((a, b) => b.d - a.d || b.id - a.id);
    const position = sorted.findIndex((row) => row.d === 2 && row.id === 3);
    expect(sorted.filter(predicate)).toEqual(sorted.slice(position + 1));
  });
});

describe('orderByClause', () => {
  it('lists each column with its direction', () => {
    expect(orderByClause(byDateDesc)).toBe('service_date DESC, id DESC');
  });
});
