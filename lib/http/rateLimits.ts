/**
 * Rate limits shared by every instance through Redis (`rate-limiter-flexible`'s
 * RateLimiterRedis: one atomic INCR-with-expiry script per request, a fixed window per key).
 *
 * Requests are counted per route class (reads, writes, negotiate, the dashboard's files) and
 * per caller: the signed-in subject, or the client address where nobody is signed in (the
 * anonymous routes, and requests whose token is refused). Admins have limits of their own,
 * higher ones. Every answer carries the IETF `RateLimit-Policy` and `RateLimit` fields
 * (draft-ietf-httpapi-ratelimit-headers-10, §2 and §3: `"reads";q=3000;w=900` and
 * `"reads";r=2999;t=840`); one over the limit is 429 with `Retry-After`.
 *
 * Redis is a coordinator, not a gate: when it does not answer (or its settings are missing)
 * the request is served unlimited (fail open), with one log line when that starts and a count (`failOpenTotal`,
 * the metric until the app has a metrics library).
 */
import { createHash } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { ConfigError } from '../config.js';
import type { RedisConnection } from '../redis/client.js';
import { maxHeaderLength } from './request.js';

/** What a request is counted as. */
export type RouteClass = 'reads' | 'writes' | 'negotiate' | 'dashboard';
export const routeClasses: readonly RouteClass[] = ['reads', 'writes', 'negotiate', 'dashboard'];

/** One class's limits: requests per window, for everyone and for admins. */
export interface RouteClassLimit {
  /** Requests per window per subject or client address. */
  limit: number;
  /** Requests per window per admin. */
  adminLimit: number;
  windowSeconds: number;
}

/**
 * Generous: a dashboard left open all day, a technician's app polling its alerts and a
 * busy admin stay far below them; a script gone wrong does not.
 */
export const defaultRateLimits: Readonly<Record<RouteClass, RouteClassLimit>> = {
  reads: { limit: 3000, adminLimit: 10_000, windowSeconds: 900 },
  writes: { limit: 600, adminLimit: 3000, windowSeconds: 900 },
  negotiate: { limit: 120, adminLimit: 600, windowSeconds: 900 },
  dashboard: { limit: 1000, adminLimit: 1000, windowSeconds: 900 },
};

const positive = (max: number) => z.number().int().min(1).max(max);
const classLimitSchema = z.strictObject({
  limit: positive(1_000_000).optional(),
  adminLimit: positive(1_000_000).optional(),
  windowSeconds: positive(86_400).optional(),
});
const rateLimitsSchema = z.strictObject(
  Object.fromEntries(routeClasses.map((name) => [name, classLimitSchema.optional()])) as Record<
    RouteClass,
    z.ZodOptional<typeof classLimitSchema>
  >,
);

/** RATE_LIMITS (JSON, every part optional) over the defaults; a bad value is a ConfigError. */
export function parseRateLimits(text: string | undefined): Record<RouteClass, RouteClassLimit> {
  let parsed: unknown = {};
  if (text !== undefined) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError(['RATE_LIMITS: expected JSON']);
    }
  }
  const result = rateLimitsSchema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (issue) =>
          `RATE_LIMITS${issue.path.map((p) => `.${String(p)}`).join('')}: ${issue.message}`,
      ),
    );
  }
  const limits = { ...defaultRateLimits };
  for (const name of routeClasses)
    limits[name] = { ...defaultRateLimits[name], ...result.data[name] };
  return limits;
}

/** Who is counted: a signed-in subject, or a client address. */
export type Caller = { subject: string; admin: boolean } | { address: string };

/** What a request may do, and the headers that say so. */
export interface RateLimitDecision {
  /** Over the limit: answer 429. */
  limited: boolean;
  /** `RateLimit-Policy`, `RateLimit` and, when limited, `Retry-After`. */
  headers: Record<string, string>;
}

export interface RateLimits {
  /** Counts one request of `caller` in `routeClass`; never throws (fails open). */
  consume(routeClass: RouteClass, caller: Caller): Promise<RateLimitDecision>;
  /** Requests served unlimited because Redis did not answer, since the process started. */
  readonly failOpenTotal: number;
}

/** A Redis key part for a caller: hashed, so no subject or address is stored as such. */
function callerKey(caller: Caller): string {
  const raw = 'subject' in caller ? `s:${caller.subject}` : `a:${caller.address}`;
  return createHash('sha256').update(raw).digest('base64url').slice(0, 32);
}

/** Rate limits over `redis` with `limits`; Redis is asked at the first request. */
export function createRateLimits(
  /** Asked for at the first request; missing or invalid Redis settings fail open too. */
  redisConnection: () => RedisConnection,
  limits: Readonly<Record<RouteClass, RouteClassLimit>>,
  log: (line: string) => void = (line) => {
    console.warn(`[rate-limit] ${line}`);
  },
): RateLimits {
  const limiters = new Map<string, Promise<RateLimiterRedis>>();
  let failOpenTotal = 0;
  let failing = false;

  function limiterFor(routeClass: RouteClass, tier: 'admin' | 'user'): Promise<RateLimiterRedis> {
    const name = `${routeClass}:${tier}`;
    let limiter = limiters.get(name);
    if (!limiter) {
      const { limit, adminLimit, windowSeconds } = limits[routeClass];
      const redis = redisConnection();
      limiter = redis.client().then(
        (client) =>
          new RateLimiterRedis({
            storeClient: client,
            useRedisPackage: true,
            // Not connected: fail at once rather than wait for the command deadline.
            rejectIfRedisNotReady: true,
            keyPrefix: `${redis.keyPrefix}rl:${name}`,
            points: tier === 'admin' ? adminLimit : limit,
            duration: windowSeconds,
          }),
      );
      limiters.set(name, limiter);
      // A client that could not be made (an Entra sign-in that failed to load) is tried
      // again at the next request rather than kept.
      limiter.catch(() => limiters.delete(name));
    }
    return limiter;
  }

  return {
    get failOpenTotal() {
      return failOpenTotal;
    },
    async consume(routeClass, caller) {
      const tier = 'admin' in caller && caller.admin ? 'admin' : 'user';
      const { limit, adminLimit, windowSeconds } = limits[routeClass];
      const quota = tier === 'admin' ? adminLimit : limit;
      const policy = `"${routeClass}";q=${quota};w=${windowSeconds}`;
      let outcome: RateLimiterRes;
      try {
        const limiter = await limiterFor(routeClass, tier);
        outcome = await limiter.consume(callerKey(caller));
      } catch (error) {
        // Over the limit: the library rejects with the counter's state.
        if (error instanceof RateLimiterRes) {
          outcome = error;
        } else {
          failOpenTotal += 1;
          if (!failing) {
            failing = true;
            const reason = error instanceof Error ? error.message : String(error);
            log(
              `Redis did not answer or is not configured; serving requests without rate limits until it does (${reason}).`,
            );
          }
          // The quota still holds; what is left of it is unknown, so `RateLimit` is left out.
          return { limited: false, headers: { 'ratelimit-policy': policy } };
        }
      }
      if (failing) {
        failing = false;
        log(`Rate limits apply again (${failOpenTotal} requests were served unlimited so far).`);
      }
      const resetSeconds = Math.max(0, Math.ceil(outcome.msBeforeNext / 1000));
      const limited = outcome.consumedPoints > quota;
      const headers: Record<string, string> = {
        'ratelimit-policy': policy,
        ratelimit: `"${routeClass}";r=${Math.max(0, outcome.remainingPoints)};t=${resetSeconds}`,
      };
      if (limited) headers['retry-after'] = String(Math.max(1, resetSeconds));
      return { limited, headers };
    },
  };
}

/**
 * The client's address: the last `X-Forwarded-For` entry, the one the platform's front end
 * appended (Azure sets the header on every request: MicrosoftDocs/azure-docs#56499,
 * Azure/Azure-Functions#1597; entries before it are whatever the client sent), without
 * its port. The local host sets the header the same way (dev/httpHost.ts).
 */
export function clientAddress(request: HttpRequest): string {
  const forwarded = request.headers.get('x-forwarded-for')?.slice(-maxHeaderLength) ?? '';
  const last = forwarded.split(',').at(-1)?.trim() ?? '';
  // IPv4 with a port ("203.0.113.7:51234"); bracketed IPv6 with a port ("[2001:db8::1]:443").
  const address = /^\[([^\]]+)\](?::\d+)?$/.exec(last)?.[1] ?? last.replace(/^([\d.]+):\d+$/, '$1');
  return address.slice(0, 64) || 'unknown';
}
