import { describe, expect, it } from 'vitest';
import {
  HttpError,
  ensureError,
  problemKinds,
  problemTypeUri,
  type ProblemKind,
} from '../../lib/errors.js';

const expectedStatus: Record<ProblemKind, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  'precondition-failed': 412,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'too-many-requests': 429,
  internal: 500,
  'service-unavailable': 503,
};

describe('HttpError', () => {
  it('covers exactly the expected kinds', () => {
    expect(Object.keys(problemKinds).sort()).toEqual(Object.keys(expectedStatus).sort());
  });

  it.each(Object.entries(expectedStatus))('maps %s to %i', (kind, status) => {
    const error = new HttpError(kind as ProblemKind, 'detail text');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpError');
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.message).toBe('detail text');
    expect(error.headers).toEqual({});
    expect(error.errors).toBeUndefined();
  });

  it('keeps field problems, headers and cause', () => {
    const cause = new Error('driver said no');
    const error = new HttpError('conflict', 'Already exists', {
      errors: [{ pointer: '#/serialNumber', detail: 'Taken' }],
      headers: { etag: '"4"' },
      cause,
    });
    expect(error.errors).toEqual([{ pointer: '#/serialNumber', detail: 'Taken' }]);
    expect(error.headers).toEqual({ etag: '"4"' });
    expect(error.cause).toBe(cause);
  });

  it('has no cause unless one is given', () => {
    expect('cause' in new HttpError('not-found', 'x')).toBe(false);
  });

  it('gives every kind a distinct type URI', () => {
    const uris = Object.keys(problemKinds).map((kind) => problemTypeUri(kind as ProblemKind));
    expect(new Set(uris).size).toBe(uris.length);
    expect(problemTypeUri('not-found')).toBe('urn:sis:problem:not-found');
  });
});

describe('ensureError', () => {
  it('returns Errors unchanged', () => {
    const error = new TypeError('boom');
    expect(ensureError(error)).toBe(error);
    const http = new HttpError('forbidden', 'no');
    expect(ensureError(http)).toBe(http);
  });

  it('wraps a string', () => {
    const error = ensureError('went wrong');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('Non-error value thrown: went wrong');
    expect(error.cause).toBe('went wrong');
  });

  it('wraps an object as JSON', () => {
    const value = { code: 42, reason: 'nope' };
    const error = ensureError(value);
    expect(error.message).toBe('Non-error value thrown: {"code":42,"reason":"nope"}');
    expect(error.cause).toBe(value);
  });

  it('wraps a circular object without throwing', () => {
    const value: Record<string, unknown> = { name: 'loop' };
    value['self'] = value;
    const error = ensureError(value);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('Non-error value thrown: [object Object]');
    expect(error.cause).toBe(value);
  });

  it.each([
    [undefined, 'Non-error value thrown: undefined'],
    [null, 'Non-error value thrown: null'],
    [7, 'Non-error value thrown: 7'],
    [10n, 'Non-error value thrown: 10'],
  ])('wraps %s', (value, message) => {
    const error = ensureError(value);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(message);
  });
});
