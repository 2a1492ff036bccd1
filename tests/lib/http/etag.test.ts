import { describe, expect, it } from 'vitest';
import { HttpError, StaleVersionError } from '../../../lib/errors.js';
import { HttpRequest } from '../../../lib/host/azureFunctions.js';
import { etagFor, noneMatchHolds, parseIfMatch, parseIfNoneMatch } from '../../../lib/http/etag.js';
import { requireVersion } from '../../../lib/preconditions.js';

function withIfMatch(value?: string) {
  return new HttpRequest({
    method: 'PUT',
    url: 'http://127.0.0.1:7071/api/equipment/1',
    headers: value === undefined ? {} : { 'if-match': value },
  });
}

function thrown(work: () => unknown): HttpError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('expected an HttpError');
}

describe('etagFor', () => {
  it('quotes the version as a strong tag', () => {
    expect(etagFor(3)).toBe('"3"');
  });
});

describe('parseIfMatch', () => {
  it('is undefined without the header', () => {
    expect(parseIfMatch(withIfMatch())).toBeUndefined();
  });

  it('understands *', () => {
    expect(parseIfMatch(withIfMatch('*'))).toBe('*');
    expect(parseIfMatch(withIfMatch(' * '))).toBe('*');
  });

  it('reads one strong tag', () => {
    expect(parseIfMatch(withIfMatch('"3"'))).toEqual([3]);
  });

  it('reads a list of tags', () => {
    expect(parseIfMatch(withIfMatch('"1", "2"'))).toEqual([1, 2]);
    expect(parseIfMatch(withIfMatch('"1","2" ,  "17"'))).toEqual([1, 2, 17]);
  });

  it('never matches a weak tag', () => {
    const condition = parseIfMatch(withIfMatch('W/"3"'));
    expect(condition).toEqual([]);
    expect(() => {
      requireVersion(condition, 3);
    }).toThrow(StaleVersionError);
  });

  it('accepts opaque tags it did not issue, which then never match', () => {
    const condition = parseIfMatch(withIfMatch('"abc", "3"'));
    expect(condition).toEqual([3]);
    expect(() => {
      requireVersion(condition, 3);
    }).not.toThrow();
  });

  it.each(['3', 'abc', '"3', '3"', '"3" "4"', '*, "3"', 'W/3', '"a"b"'])(
    'refuses %j with 400',
    (value) => {
      const error = thrown(() => parseIfMatch(withIfMatch(value)));
      expect(error.kind).toBe('validation');
      expect(error.status).toBe(400);
      expect(error.errors).toEqual([{ header: 'if-match', detail: expect.any(String) }]);
    },
  );

  it('refuses an over-long header with 400', () => {
    const value = Array.from({ length: 300 }, (_, i) => `"${i}"`).join(', ');
    expect(thrown(() => parseIfMatch(withIfMatch(value))).status).toBe(400);
  });
});

describe('If-Match conditions', () => {
  it('round-trips a tag from etagFor', () => {
    expect(() => {
      requireVersion(parseIfMatch(withIfMatch(etagFor(12))), 12);
    }).not.toThrow();
    expect(() => {
      requireVersion(parseIfMatch(withIfMatch(etagFor(12))), 13);
    }).toThrow(StaleVersionError);
  });
});

function withIfNoneMatch(value?: string) {
  return new HttpRequest({
    method: 'GET',
    url: 'http://127.0.0.1:7071/api/equipment/1',
    headers: value === undefined ? {} : { 'if-none-match': value },
  });
}

describe('parseIfNoneMatch and noneMatchHolds (RFC 9110 §13.1.2)', () => {
  it.each([
    ['"3"', true],
    ['W/"3"', true],
    ['"1", W/"3"', true],
    ['*', true],
    [' * ', true],
    ['"4"', false],
    ['"03"', false],
    ['W/"4", "33"', false],
  ])('If-None-Match: %s against "3" matches: %s', (header, matches) => {
    const condition = parseIfNoneMatch(withIfNoneMatch(header));
    expect(condition).toBeDefined();
    expect(noneMatchHolds(condition ?? [], '"3"')).toBe(matches);
  });

  it('compares weakly against weak current tags too', () => {
    expect(noneMatchHolds(['"abc"'], 'W/"abc"')).toBe(true);
    expect(noneMatchHolds(['W/"abc"'], 'W/"abd"')).toBe(false);
  });

  it.each([undefined, '', '3', '"3', 'W/3', 'w/"3"', '"3" "4"', '"a"b"', '*, "3"'])(
    'ignores an absent or malformed If-None-Match: %j',
    (header) => {
      expect(parseIfNoneMatch(withIfNoneMatch(header))).toBeUndefined();
    },
  );

  it('refuses an over-long header with 400', () => {
    const error = thrown(() => parseIfNoneMatch(withIfNoneMatch(`"${'a'.repeat(1100)}"`)));
    expect(error.kind).toBe('validation');
  });
});
