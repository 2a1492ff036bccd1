/** The one loopback rule (lib/loopback.ts), used by the app's clients and the stand-ins. */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../lib/loopback.js';

describe('isLoopbackHost', () => {
  it.each([
    'localhost',
    'LocalHost',
    '127.0.0.1',
    '127.1.2.3',
    '127.255.255.255',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    '[::ffff:7f00:1]',
  ])('%s is this machine', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    '',
    '0.0.0.0',
    '::',
    '[::]',
    '128.0.0.1',
    '126.255.255.255',
    '10.0.0.1',
    '::2',
    '::ffff:10.0.0.1',
    'localhost.example.com',
    'example.localhost',
    '127.0.0.1.example.com',
    'sis.documents.azure.com',
  ])('%s is not', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it('agrees with the URL parser: a URL host naming loopback is loopback', () => {
    for (const url of [
      'http://[::1]:80/',
      'http://127.000.000.001/',
      'http://0x7f.1/',
      'http://LOCALHOST/',
    ]) {
      expect(isLoopbackHost(new URL(url).hostname), url).toBe(true);
    }
    expect(isLoopbackHost(new URL('http://127.0.0.1@example.com/').hostname)).toBe(false);
  });
});
