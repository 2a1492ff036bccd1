/**
 * Keyset pagination: a page continues strictly after the last row of the previous one, in a
 * total order ending in the primary key, so the database seeks through an index and the
 * cost of a page does not grow with its depth (unlike OFFSET). The cursor is an opaque,
 * base64url-encoded copy of the last row's sort key.
 */
import { z } from 'zod';
import { HttpError } from '../errors.js';

/** One column of a keyset order. */
export interface KeyColumn {
  column: string;
  direction: 'ASC' | 'DESC';
  kind: 'id' | 'datetime';
}

export type KeysetOrder = readonly KeyColumn[];

type KeyValue = number | Date;

const cursorValue = {
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  datetime: z.iso.datetime().transform((value) => new Date(value)),
};

export function encodeCursor(order: KeysetOrder, row: Readonly<Record<string, unknown>>): string {
  const values = order.map(({ column, kind }) => {
    // Rows carry unqualified names: `a.technician_id` comes back as `technician_id`.
    const value = row[column.slice(column.lastIndexOf('.') + 1)];
    if (kind === 'datetime') return value instanceof Date ? value.toISOString() : String(value);
    return Number(value);
  });
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function invalidCursor(): HttpError {
  return new HttpError('validation', 'The cursor is not one this list returned.', {
    errors: [{ parameter: 'cursor', detail: 'Use nextCursor from the previous page unchanged' }],
  });
}

export function decodeCursor(order: KeysetOrder, cursor: string): KeyValue[] {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== order.length) throw invalidCursor();
  return order.map(({ kind }, index) => {
    const result = cursorValue[kind].safeParse(parsed[index]);
    if (!result.success) throw invalidCursor();
    return result.data;
  });
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
