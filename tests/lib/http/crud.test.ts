/**
 * `routeId`: a path id is a positive whole number up to 2^53 - 1 written plainly, whether
 * the quick check or the schema behind it decides; anything else is a 400 naming the
 * parameter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../lib/errors.js';
import { routeId } from '../../../lib/http/crud.js';

/** What `routeId` must answer for `raw`: the number, or undefined for a 400. */
function expected(raw: string): number | undefined {
  if (!/^[1-9][0-9]*$/.test(raw)) return undefined;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : undefined;
}

function outcome(raw: string, name: string): number | { status: number; parameter: unknown } {
  try {
    return routeId({ [name]: raw }, name);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { status: error.status, parameter: error.errors?.[0]?.parameter };
  }
}

const digits = fc.string({
  unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
  minLength: 1,
  maxLength: 20,
});
const near = fc
  .bigInt({ min: 0n, max: 2n ** 54n })
  .map((n) => (n < 2n ** 53n ? String(2n ** 53n - 1n - n) : String(n)));

/** Around 2^53, where a number stops being exact. */
const boundary = fc.constantFrom('9007199254740991', '9007199254740992', '9007199254740993');

describe('routeId', () => {
  it('accepts exactly the plain positive whole numbers up to 2^53 - 1', () => {
    fc.assert(
      fc.property(
        fc.oneof(digits, near, boundary, fc.string()),
        fc.constantFrom('id', 'technicianId'),
        (raw, name) => {
          const id = expected(raw);
          const answer = outcome(raw, name);
          if (id === undefined) expect(answer).toEqual({ status: 400, parameter: name });
          else expect(answer).toBe(id);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('answers 400 for a missing parameter', () => {
    expect(() => routeId({})).toThrow(HttpError);
  });
});
