import { describe, expect, it } from 'vitest';
import { equipmentIdOfAlert, httpEtag } from '../../../lib/telemetry/queries.js';

describe('equipmentIdOfAlert', () => {
  it('finds the equipment id, which may itself contain colons', () => {
    expect(equipmentIdOfAlert('7:temperature:2026-11-24T08:00:00.000Z')).toBe('7');
    expect(equipmentIdOfAlert('site:a.b-7:pressure:2026-11-24T08:05:00.000Z')).toBe('site:a.b-7');
  });

  it.each([
    'x#y:temperature:2026-11-24T08:00:00.000Z',
    'x\\\\y:temperature:2026-11-24T08:00:00.000Z',
    'x?y:temperature:2026-11-24T08:00:00.000Z',
    '7:humidity:2026-11-24T08:00:00.000Z',
    '7:temperature:2026-11-24',
    ':temperature:2026-11-24T08:00:00.000Z',
  ])('refuses %s', (id) => {
    expect(equipmentIdOfAlert(id)).toBeUndefined();
  });
});

describe('httpEtag', () => {
  it('quotes bare Cosmos ETags and keeps quoted ones', () => {
    expect(httpEtag('abc')).toBe('"abc"');
    expect(httpEtag('"00000-1"')).toBe('"00000-1"');
  });
});
