/**
 * The alert id check of lib/api/alerts.ts, in-process (the reads, visibility and the resolve
 * sequence run against real Cosmos and MariaDB in tests/functions/alerts.test.ts and
 * alertStatusRace.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { alertIdFrom } from '../../../lib/api/alerts.js';
import { HttpError } from '../../../lib/errors.js';

describe('alertIdFrom', () => {
  it('passes an id of 1 to 200 characters through unchanged', () => {
    expect(alertIdFrom('7:temperature:2026-11-24T08:00:00.000Z')).toBe(
      '7:temperature:2026-11-24T08:00:00.000Z',
    );
    expect(alertIdFrom('x'.repeat(200))).toBe('x'.repeat(200));
  });

  it.each([undefined, '', 'x'.repeat(201)])('refuses %s as a validation problem on id', (raw) => {
    let thrown: unknown;
    try {
      alertIdFrom(raw);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({
      status: 400,
      errors: [{ parameter: 'id', detail: 'Expected an alert id' }],
    });
  });
});
