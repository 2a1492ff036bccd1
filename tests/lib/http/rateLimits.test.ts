/**
 * The rate limiter's parts that need no handler: the RATE_LIMITS setting, the client
 * address, and failing open against a real socket where no Redis answers.
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ConfigError, loadSection } from '../../../lib/config.js';
import { HttpRequest } from '../../../lib/host/azureFunctions.js';
import {
  clientAddress,
  createRateLimits,
  defaultRateLimits,
  parseRateLimits,
} from '../../../lib/http/rateLimits.js';
import { redisConnection } from '../../../lib/redis/client.js';
import { unreachableRedis } from '../../helpers/redis.js';

describe('parseRateLimits', () => {
  it('uses the defaults for everything left out', () => {
    expect(parseRateLimits(undefined)).toEqual(defaultRateLimits);
    expect(parseRateLimits('{"writes":{"limit":10}}')).toEqual({
      ...defaultRateLimits,
      writes: { ...defaultRateLimits.writes, limit: 10 },
    });
  });

  it.each([
    ['not json', 'RATE_LIMITS: expected JSON'],
    ['{"reeds":{"limit":1}}', 'RATE_LIMITS: Unrecognized key: "reeds"'],
    ['{"reads":{"limit":0}}', 'RATE_LIMITS.reads.limit'],
    ['{"reads":{"windowSeconds":1.5}}', 'RATE_LIMITS.reads.windowSeconds'],
    ['{"reads":{"limit":"many"}}', 'RATE_LIMITS.reads.limit'],
  ])('refuses %s, naming the part', (text, named) => {
    let error: unknown;
    try {
      parseRateLimits(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.join('\n')).toContain(named);
  });
});

describe('clientAddress', () => {
  const from = (forwarded?: string) =>
    clientAddress(
      new HttpRequest({
        method: 'GET',
        url: 'http://127.0.0.1/api/health',
        headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
      }),
    );

  it('takes the last entry, without its port', () => {
    expect(from('203.0.113.7')).toBe('203.0.113.7');
    expect(from('203.0.113.7:50123')).toBe('203.0.113.7');
    expect(from('10.0.0.1, 198.51.100.4:443')).toBe('198.51.100.4');
    expect(from('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(from('2001:db8::1')).toBe('2001:db8::1');
  });

  it('names no address when there is none, and bounds what it keeps', () => {
    expect(from()).toBe('unknown');
    expect(from('')).toBe('unknown');
    expect(from('x'.repeat(10_000))).toHaveLength(64);
  });
});

describe('when Redis does not answer', () => {
  it('serves unlimited, says so once in the log and counts every such request', async () => {
    const redis = await unreachableRedis();
    const lines: string[] = [];
    const limits = createRateLimits(
      () => redis,
      parseRateLimits('{"reads":{"limit":1}}'),
      (line) => lines.push(line),
    );
    try {
      for (let i = 0; i < 3; i++) {
        const decision = await limits.consume('reads', { subject: 'tech-alice', admin: false });
        expect(decision).toEqual({
          limited: false,
          headers: { 'ratelimit-policy': '"reads";q=1;w=900' },
        });
      }
      expect(limits.failOpenTotal).toBe(3);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/without rate limits/);
      // Neither the subject nor anything else about the caller reaches the log.
      expect(lines.join('\n')).not.toContain('tech-alice');
    } finally {
      await redis.close();
    }
  });

  it('serves unlimited when Redis is not configured at all, saying so once', async () => {
    const lines: string[] = [];
    const limits = createRateLimits(
      () => redisConnection(loadSection('redis', {})),
      defaultRateLimits,
      (line) => lines.push(line),
    );
    for (let i = 0; i < 2; i++) {
      expect((await limits.consume('writes', { address: '192.0.2.1' })).limited).toBe(false);
    }
    expect(limits.failOpenTotal).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/REDIS_URL: set exactly one of REDIS_URL and REDIS__hostName/);
  });

  it('counts in Redis, logging nothing, when it answers', async () => {
    const redis = redisConnection(
      loadSection('redis', { REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: 'unit-rl-back:' }),
    );
    const lines: string[] = [];
    const limits = createRateLimits(
      () => redis,
      parseRateLimits('{"reads":{"limit":1}}'),
      (line) => lines.push(line),
    );
    try {
      const first = await limits.consume('reads', { address: `192.0.2.${process.pid % 250}` });
      expect(first.limited).toBe(false);
      expect(first.headers['ratelimit']).toMatch(/^"reads";r=0;t=\d+$/);
      expect(limits.failOpenTotal).toBe(0);
      expect(lines).toEqual([]);
    } finally {
      const client = await redis.client();
      await client.del(await client.keys('unit-rl-back:*'));
      await redis.close();
    }
  });
});
