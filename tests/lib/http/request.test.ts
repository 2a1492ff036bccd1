import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../lib/errors.js';
import { HttpRequest } from '../../../lib/host/azureFunctions.js';
import {
  boundedHeader,
  maxBodyBytes,
  maxHeaderLength,
  queryObject,
  readJsonBody,
} from '../../../lib/http/request.js';

function post(body: string | Uint8Array | undefined, headers: Record<string, string> = {}) {
  return new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1:7071/api/things',
    headers,
    body: body === undefined ? {} : typeof body === 'string' ? { string: body } : { bytes: body },
  });
}

const json = { 'content-type': 'application/json' };

/** The HttpError `promise` rejects with, failing the test on anything else. */
async function httpError(promise: Promise<unknown>): Promise<HttpError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

function syncHttpError(work: () => unknown): HttpError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('expected an HttpError');
}

describe('readJsonBody', () => {
  it('parses a JSON body', async () => {
    await expect(readJsonBody(post('{"a":[1,"two",null]}', json))).resolves.toEqual({
      a: [1, 'two', null],
    });
  });

  it('refuses a body without content-type with 415', async () => {
    const error = await httpError(readJsonBody(post('{"a":1}')));
    expect(error.kind).toBe('unsupported-media-type');
    expect(error.status).toBe(415);
    expect(error.headers).toMatchObject({ 'accept-post': 'application/json' });
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'json'])(
    'refuses content-type %s with 415',
    async (contentType) => {
      const error = await httpError(readJsonBody(post('{"a":1}', { 'content-type': contentType })));
      expect(error.status).toBe(415);
    },
  );

  it.each([
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/merge-patch+json',
    'application/problem+json; charset=utf-8',
  ])('accepts content-type %s', async (contentType) => {
    await expect(
      readJsonBody(post('{"ok":true}', { 'content-type': contentType })),
    ).resolves.toEqual({ ok: true });
  });

  it('refuses a declared content-length over 1 MiB with 413 before reading', async () => {
    const error = await httpError(
      readJsonBody(post('{}', { ...json, 'content-length': String(maxBodyBytes + 1) })),
    );
    expect(error.kind).toBe('payload-too-large');
    expect(error.status).toBe(413);
  });

  it('refuses a body over 1 MiB without content-length with 413', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(maxBodyBytes) });
    const request = post(big, json);
    expect(request.headers.get('content-length')).toBeNull();
    const error = await httpError(readJsonBody(request));
    expect(error.status).toBe(413);
  });

  it('accepts a body of exactly the limit', async () => {
    const padding = maxBodyBytes - JSON.stringify({ text: '' }).length;
    const body = JSON.stringify({ text: 'y'.repeat(padding) });
    expect(Buffer.byteLength(body)).toBe(maxBodyBytes);
    const parsed = (await readJsonBody(post(body, json))) as { text: string };
    expect(parsed.text).toHaveLength(padding);
  });

  it('honours a smaller limit', async () => {
    const error = await httpError(readJsonBody(post('{"a":"0123456789"}', json), 10));
    expect(error.status).toBe(413);
  });

  it('refuses invalid UTF-8 with 400', async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    const error = await httpError(readJsonBody(post(bytes, json)));
    expect(error.kind).toBe('validation');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/UTF-8/);
  });

  it('keeps multi-byte characters intact', async () => {
    await expect(readJsonBody(post('{"name":"Pelle 🚜 Größe"}', json))).resolves.toEqual({
      name: 'Pelle 🚜 Größe',
    });
  });

  it.each([undefined, '', '   \n'])('refuses an empty body (%j) with 400', async (body) => {
    const error = await httpError(readJsonBody(post(body, json)));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/empty/);
  });

  it.each(['{"a":', "{'a':1}", '{"a":1}}', 'undefined'])(
    'refuses malformed JSON %j with 400',
    async (body) => {
      const error = await httpError(readJsonBody(post(body, json)));
      expect(error.kind).toBe('validation');
      expect(error.message).toMatch(/not valid JSON/);
    },
  );
});

describe('boundedHeader', () => {
  it('returns the value or undefined', () => {
    const request = post(undefined, { 'x-thing': 'value' });
    expect(boundedHeader(request, 'x-thing')).toBe('value');
    expect(boundedHeader(request, 'x-missing')).toBeUndefined();
  });

  it('accepts a value of exactly the maximum', () => {
    const request = post(undefined, { 'x-thing': 'a'.repeat(maxHeaderLength) });
    expect(boundedHeader(request, 'x-thing')).toHaveLength(maxHeaderLength);
  });

  it('refuses over-long values with 400 naming the header', () => {
    const request = post(undefined, { 'x-thing': 'a'.repeat(maxHeaderLength + 1) });
    const error = syncHttpError(() => boundedHeader(request, 'x-thing'));
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([{ header: 'x-thing', detail: expect.any(String) }]);
    const short = post(undefined, { 'x-thing': 'abcdef' });
    expect(syncHttpError(() => boundedHeader(short, 'x-thing', 5)).kind).toBe('validation');
  });

  it('refuses an over-long content-type on a body with 400, not 415', async () => {
    const error = await httpError(
      readJsonBody(post('{}', { 'content-type': `application/json; x=${'a'.repeat(300)}` })),
    );
    expect(error.status).toBe(400);
  });
});

describe('queryObject', () => {
  const get = (query: string) =>
    new HttpRequest({ method: 'GET', url: `http://127.0.0.1:7071/api/things${query}` });

  it('returns the parameters', () => {
    expect(queryObject(get('?status=down&limit=5&q=a%20b'))).toEqual({
      status: 'down',
      limit: '5',
      q: 'a b',
    });
    expect(queryObject(get(''))).toEqual({});
  });

  it('refuses a parameter given twice', () => {
    const error = syncHttpError(() => queryObject(get('?status=down&limit=5&status=up')));
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([{ parameter: 'status', detail: 'Given more than once' }]);
  });

  it('treats names of Object.prototype members as ordinary parameters', () => {
    expect(queryObject(get('?constructor=y&hasOwnProperty=z'))).toEqual({
      constructor: 'y',
      hasOwnProperty: 'z',
    });
    expect(syncHttpError(() => queryObject(get('?toString=1&toString=2'))).status).toBe(400);
  });
});
