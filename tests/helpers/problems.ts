/**
 * Assertions on RFC 9457 `application/problem+json` answers. The `type` URIs are written out
 * here rather than imported from the product, so a renamed type is caught.
 */
import { expect } from 'vitest';
import type { ApiResult } from './api.js';

export const problemTypes: Readonly<Record<number, string>> = {
  400: 'urn:sis:problem:validation',
  401: 'urn:sis:problem:unauthorized',
  403: 'urn:sis:problem:forbidden',
  404: 'urn:sis:problem:not-found',
  405: 'urn:sis:problem:method-not-allowed',
  409: 'urn:sis:problem:conflict',
  412: 'urn:sis:problem:precondition-failed',
  413: 'urn:sis:problem:payload-too-large',
  415: 'urn:sis:problem:unsupported-media-type',
  503: 'urn:sis:problem:service-unavailable',
};

/**
 * Asserts a problem document with the given status, its `type`, a non-empty `title` and
 * `detail`, and an `instance` equal to `instance` (or matching it, given a pattern); by
 * default the path called. Returns the document.
 */
export function expectProblem(
  res: ApiResult,
  status: number,
  instance: string | RegExp = res.path,
): Record<string, unknown> {
  expect(res.status, res.text.slice(0, 500)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(problemTypes[status], `no problem type known for ${status}`).toBeDefined();
  expect(res.body).toMatchObject({
    type: problemTypes[status],
    status,
    instance: typeof instance === 'string' ? instance : expect.stringMatching(instance),
  });
  expect(typeof res.body.title).toBe('string');
  expect(res.body.title.length).toBeGreaterThan(0);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
  return res.body as Record<string, unknown>;
}

/** Asserts a 400 whose `errors` point at exactly `pointers` (each at least once, no others). */
export function expectPointers(res: ApiResult, instance: string, pointers: string[]): void {
  expectProblem(res, 400, instance);
  const found = (res.body.errors as { pointer?: string }[]).map((e) => e.pointer);
  expect([...new Set(found)].sort()).toEqual([...pointers].sort());
}

/**
 * Asserts a 400 with exactly one problem, naming the query or path `parameter`; `instance` is
 * by default the path called.
 */
export function expectParameterProblem(
  res: ApiResult,
  parameter: string,
  instance: string = res.path,
): void {
  expectProblem(res, 400, instance);
  expect(res.body.errors).toEqual([{ parameter, detail: expect.any(String) }]);
}

/** The pointers (body) or parameters (query, path) a problem's `errors` name, in order. */
export function problemTargets(res: ApiResult): string[] {
  const errors = (res.body?.errors ?? []) as { pointer?: string; parameter?: string }[];
  return errors.map((e) => e.pointer ?? e.parameter ?? '?');
}
