/** Reading lists: one page's ids, every page through `nextCursor`, refused queries. */
import { expect } from 'vitest';
import { call } from './api.js';
import { expectParameterProblem } from './problems.js';

export interface WalkOptions {
  /** Start from this cursor instead of the first page. */
  start?: string | null;
  /** The id an item is counted under (default: its `id`). */
  idOf?: (item: any) => number;
  /** When given, asserts that no page has more items than this. */
  maxItems?: number;
  /** Fails the walk when it takes more pages than this (default 100). */
  maxPages?: number;
}

/**
 * GETs `path` (which may have a query), then each `nextCursor` until it is null. Every page
 * must be a 200. Returns the ids in the order served and how many pages it took.
 */
export async function walkPages(
  path: string,
  token: string,
  options: WalkOptions = {},
): Promise<{ ids: number[]; pages: number }> {
  const idOf = options.idOf ?? ((item: { id: number }) => item.id);
  const maxPages = options.maxPages ?? 100;
  const ids: number[] = [];
  let pages = 0;
  let cursor: string | null = options.start ?? null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
    const res = await call('GET', url, { token });
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    if (options.maxItems !== undefined)
      expect(res.body.items.length).toBeLessThanOrEqual(options.maxItems);
    pages += 1;
    for (const item of res.body.items as { id: number }[]) ids.push(idOf(item));
    cursor = res.body.nextCursor as string | null;
    if (pages > maxPages) throw new Error(`pagination of ${path} does not end`);
  } while (cursor);
  return { ids, pages };
}

/** The `id`s of a list answer's items, in order. */
export function itemIds(body: { items: { id: number }[] }): number[] {
  return body.items.map((i) => i.id);
}

/** GETs `url` as `token`: a 200 whose only page holds the items; returns their ids. */
export async function singlePageIds(url: string, token: string): Promise<number[]> {
  const res = await call('GET', url, { token });
  expect(res.status, res.text.slice(0, 500)).toBe(200);
  expect(res.body.nextCursor).toBeNull();
  return itemIds(res.body);
}

/** GETs `${path}${query}` as `token` and asserts a 400 naming exactly `parameter`. */
export async function expectQueryRefused(
  path: string,
  query: string,
  parameter: string,
  token: string,
): Promise<void> {
  expectParameterProblem(await call('GET', `${path}${query}`, { token }), parameter, path);
}
