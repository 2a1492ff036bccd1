import { describe, expect, it } from 'vitest';
import { StaleVersionError } from '../../lib/errors.js';
import { requireVersion } from '../../lib/preconditions.js';

/** A `StaleVersionError` telling the caller `currentVersion`, and with `message` when given. */
function staleVersion(currentVersion: number | string, message?: string) {
  return expect.objectContaining({
    name: 'StaleVersionError',
    currentVersion,
    ...(message === undefined ? {} : { message }),
  }) as StaleVersionError;
}

describe('requireVersion', () => {
  it('passes without a condition or with *', () => {
    expect(() => {
      requireVersion(undefined, 5);
    }).not.toThrow();
    expect(() => {
      requireVersion('*', 5);
    }).not.toThrow();
  });

  it('passes when the current version is named', () => {
    expect(() => {
      requireVersion([4, 5], 5);
    }).not.toThrow();
  });

  it('refuses a stale version, carrying the current one and a message to retry', () => {
    expect(() => {
      requireVersion([4], 5);
    }).toThrow(StaleVersionError);
    expect(() => {
      requireVersion([4], 5);
    }).toThrow(
      staleVersion(5, 'The resource has changed since you read it; fetch it again and retry.'),
    );
  });

  it('refuses when no version is named (only weak tags were sent)', () => {
    expect(() => {
      requireVersion([], 1);
    }).toThrow(staleVersion(1));
  });

  it('evaluates opaque entity tags the same way, with the caller’s message', () => {
    expect(() => {
      requireVersion(['"a"', '"b"'], '"b"');
    }).not.toThrow();
    expect(() => {
      requireVersion(['"a"'], '"b"', 'The alert has changed.');
    }).toThrow(staleVersion('"b"', 'The alert has changed.'));
  });
});
