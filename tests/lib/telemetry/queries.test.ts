import { describe, expect, it } from 'vitest';
import { httpEtag } from '../../../lib/telemetry/queries.js';

describe('httpEtag', () => {
  it('quotes bare Cosmos ETags and keeps quoted ones', () => {
    expect(httpEtag('abc')).toBe('"abc"');
    expect(httpEtag('"00000-1"')).toBe('"00000-1"');
  });
});
