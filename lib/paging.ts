/**
 * Paging shared by every list, whatever stores it (MySQL tables, Cosmos containers): what a
 * caller asks for, what a page holds, and the one cursor codec. Lists page by keyset: a page
 * continues strictly after the last item of the previous one, so a page costs the same at any
 * depth. The cursor is an opaque, base64url-encoded JSON array holding that item's sort key;
 * the list that decodes it checks the key against its own schema, so a tampered cursor or one
 * from another list is an `InvalidCursorError`, never a query.
 */
import type { z } from 'zod';
import { InvalidCursorError } from './errors.js';

/** Which page of a list to read. */
export interface PageRequest {
  limit: number;
  /** `nextCursor` of the previous page; absent for the first. */
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}

/** One component of a sort key, as it travels in a cursor. */
export type CursorValue = string | number;

/**
 * Longest cursor decoded. Issued cursors hold a few short values and stay far below it; the
 * bound keeps a hostile one from costing a large decode (the API refuses over 512 earlier).
 */
const maxCursorLength = 1024;

/** The cursor for a page that ends with the item whose sort key is `key`. */
export function encodeCursor(key: readonly CursorValue[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * The sort key a cursor carries, validated by `keySchema` (which should accept only keys its
 * list issues). Throws `InvalidCursorError` for anything else.
 */
export function decodeCursor<Schema extends z.ZodType>(
  cursor: string,
  keySchema: Schema,
): z.output<Schema> {
  if (cursor.length > maxCursorLength || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidCursorError();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidCursorError({ cause: error });
  }
  const key = keySchema.safeParse(parsed);
  if (!key.success) throw new InvalidCursorError({ cause: key.error });
  return key.data;
}
