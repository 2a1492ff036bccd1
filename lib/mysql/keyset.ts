/**
 * Keyset pagination over MySQL: a page continues strictly after the last row of the previous
 * one, in a total order ending in the primary key, so the database seeks through an index and
 * the cost of a page does not grow with its depth (unlike OFFSET). The cursor (codec in
 * `lib/paging.ts`) carries the last row's sort key.
 */
import { z } from 'zod';
import * as cursors from '../paging.js';

/** One column of a keyset order. */
export interface KeyColumn {
  column: string;
  direction: 'ASC' | 'DESC';
  /** `date`: a DATE column, read as `YYYY-MM-DD` text (the pool's `dateStrings`). */
  kind: 'id' | 'datetime' | 'date';
}

export type KeysetOrder = readonly KeyColumn[];

type KeyValue = number | Date | string;

const cursorValue = {
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  datetime: z.iso.datetime().transform((value) => new Date(value)),
  date: z.iso.date(),
};

/** The cursor for a page ending with `row`. */
export function encodeCursor(order: KeysetOrder, row: Readonly<Record<string, unknown>>): string {
  return cursors.encodeCursor(
    order.map(({ column, kind }): cursors.CursorValue => {
      // Rows carry unqualified names: `a.technician_id` comes back as `technician_id`.
      const value = row[column.slice(column.lastIndexOf('.') + 1)];
      if (kind === 'datetime') return value instanceof Date ? value.toISOString() : String(value);
      if (kind === 'date') return String(value);
      return Number(value);
    }),
  );
}

/** Sort keys of `order`: one value of each column's kind, in order. */
function keySchema(order: KeysetOrder): z.ZodType<KeyValue[]> {
  return z
    .array(z.unknown())
    .length(order.length)
    .transform((values, context) => {
      const key: KeyValue[] = [];
      for (const [index, { kind }] of order.entries()) {
        const value = cursorValue[kind].safeParse(values[index]);
        if (!value.success) {
          context.issues.push({ code: 'custom', message: `expected ${kind}`, input: values });
          return z.NEVER;
        }
        key.push(value.data);
      }
      return key;
    });
}

/** The sort key in a cursor `encodeCursor` issued for `order`; `InvalidCursorError` otherwise. */
export function decodeCursor(order: KeysetOrder, cursor: string): KeyValue[] {
  return cursors.decodeCursor(cursor, keySchema(order));
}

/**
 * The WHERE fragment selecting rows after `values` in `order`, as nested OR/AND so MySQL can
 * use a range scan on the matching index: (a > ?) OR (a = ? AND b > ?) ...
 */
export function afterClause(
  order: KeysetOrder,
  values: readonly KeyValue[],
): { sql: string; params: KeyValue[] } {
  const alternatives: string[] = [];
  const params: KeyValue[] = [];
  order.forEach((key, index) => {
    const parts: string[] = [];
    for (let i = 0; i < index; i++) {
      const earlier = order[i];
      const value = values[i];
      if (!earlier || value === undefined) throw new Error('cursor does not match its order');
      parts.push(`${earlier.column} = ?`);
      params.push(value);
    }
    const value = values[index];
    if (value === undefined) throw new Error('cursor does not match its order');
    parts.push(`${key.column} ${key.direction === 'ASC' ? '>' : '<'} ?`);
    params.push(value);
    alternatives.push(`(${parts.join(' AND ')})`);
  });
  return { sql: `(${alternatives.join(' OR ')})`, params };
}

export function orderByClause(order: KeysetOrder): string {
  return order.map(({ column, direction }) => `${column} ${direction}`).join(', ');
}
