/**
 * Wraps domain calls into HTTP handlers: authentication first (401 before anything else),
 * then dispatch on method, with every error mapped in one place (`problem.ts`). Each call
 * gets the process's services (lib/services.ts), asked for when the request arrives.
 */
import type {
  HttpHandler,
  HttpMethod,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { requireRole, type Principal } from '../auth.js';
import { HttpError } from '../errors.js';
import type { Pool } from 'mysql2/promise';
import { getServices, type Services } from '../services.js';
import { recordHttpRequest, recordRateLimitRejection } from '../observability/instruments.js';
import { contextFromTraceparent, inSpan, SpanKind } from '../observability/tracing.js';
import { errorToResponse } from './problem.js';
import { clientAddress, type Caller, type RouteClass } from './rateLimits.js';

/** Everything an authenticated operation needs. */
export interface ApiCall {
  request: HttpRequest;
  context: InvocationContext;
  principal: Principal;
  /** The process's services: `services.pool` for MySQL, and so on. */
  services: Services;
  /**
   * The MySQL pool this request uses for everything it does in MySQL: the read replica
   * (`services.readPool`, the primary when none is configured) for GET, the primary for any
   * other method, reads included, so that a request that writes reads its own write and
   * never a lagging replica. A request that writes nothing reads the replica.
   */
  db: Pool;
}

/** Methods that change nothing, and so may read from the replica (RFC 9110 §9.2.1). */
const readOnlyMethods: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** The pool a request with `method` uses (see `ApiCall.db`). */
export function poolFor(services: Services, method: string): Pool {
  return readOnlyMethods.has(method) ? services.readPool : services.pool;
}

export type ApiOperation = (call: ApiCall) => Promise<HttpResponseInit>;

/**
 * An operation that starts a Redis read before the request's rate limit is counted, so the
 * read and the count leave in one socket write and come back in one round trip: node-redis
 * writes every command issued before its next `setImmediate` together (redis/node-redis
 * packages/client/lib/client/index.ts, `#scheduleWrite`). `prefetch` runs once the caller is
 * authenticated, before the count and the role checks; it must change nothing and answer
 * nothing, and its promises must not reject unobserved (the request may be limited and
 * never use them). The operation it returns runs only once the limit allows the request
 * and the caller's roles are checked, so a limited request is answered 429 and served
 * nothing. An error `prefetch` throws is answered there too, after the count.
 */
export interface PrefetchingOperation {
  prefetch(request: HttpRequest, services: Services): ApiOperation;
}

function instanceOf(request: HttpRequest): string {
  try {
    return new URL(request.url).pathname;
  } catch {
    return '/';
  }
}

/**
 * Headers every API response carries: browsers must not guess a type other than the one
 * declared (a JSON body rendered as HTML, a text file run as a script).
 */
export const baseResponseHeaders: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
};

function hasLowerCaseNames(headers: Record<string, string>): boolean {
  for (const name in headers) if (name !== name.toLowerCase()) return false;
  return true;
}

function withHeaders(
  response: HttpResponseInit,
  rateLimitHeaders: Readonly<Record<string, string>>,
): HttpResponseInit {
  const own = response.headers;
  // The operations answer with plain records of lower-case names (lib/http/response.ts);
  // anything else (a `Headers`, pairs) is normalised through `Headers` first.
  const headers: Record<string, string> =
    own === undefined
      ? {}
      : own instanceof Headers || Array.isArray(own) || !hasLowerCaseNames(own)
        ? Object.fromEntries(new Headers(own))
        : { ...own };
  Object.assign(headers, rateLimitHeaders, baseResponseHeaders);
  return { ...response, headers };
}

/** Counts the request against `routeClass` for `caller`; throws 429 when over the limit. */
export type RequestLimiter = (routeClass: RouteClass, caller: Caller) => Promise<void>;

/** A handler inside the frame: the services and the request's rate-limit counter at hand. */
type FramedHandler = (
  request: HttpRequest,
  context: InvocationContext,
  services: Services,
  limit: RequestLimiter,
) => Promise<HttpResponseInit>;

/**
 * The frame of every HTTP function: errors become problem documents, and every response,
 * errors included, carries the base headers and the rate-limit headers of the request's
 * last count (lib/http/rateLimits.ts).
 */
function framedHandler(handler: FramedHandler): HttpHandler {
  return async (request, context) => {
    const startedMs = performance.now();
    // Continues the caller's trace (W3C traceparent), when it sends one.
    const response = await inSpan(
      `${request.method} ${context.functionName}`,
      {
        kind: SpanKind.SERVER,
        parent: contextFromTraceparent(
          request.headers.get('traceparent') ?? undefined,
          request.headers.get('tracestate') ?? undefined,
        ),
        attributes: { 'http.request.method': request.method, 'http.route': context.functionName },
      },
      async (span) => {
        const framed = await framedResponse(request, context);
        span.setAttribute('http.response.status_code', framed.status ?? 200);
        return framed;
      },
    );
    // The route as the function that serves it: bounded, unlike the path with its ids.
    recordHttpRequest(
      context.functionName,
      request.method,
      response.status ?? 200,
      (performance.now() - startedMs) / 1000,
    );
    return response;
  };

  async function framedResponse(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rateLimitHeaders: Record<string, string> = {};
    try {
      const services = getServices();
      const limit: RequestLimiter = async (routeClass, caller) => {
        const decision = await services.rateLimits.consume(routeClass, caller);
        Object.assign(rateLimitHeaders, decision.headers);
        if (decision.limited) {
          recordRateLimitRejection(routeClass);
          throw new HttpError(
            'too-many-requests',
            `Too many ${routeClass} requests; try again in ${decision.headers['retry-after'] ?? 'a few'} seconds.`,
          );
        }
      };
      return withHeaders(await handler(request, context, services, limit), rateLimitHeaders);
    } catch (error) {
      return withHeaders(
        errorToResponse(error, instanceOf(request), context, request.method),
        rateLimitHeaders,
      );
    }
  }
}

/**
 * A handler for an anonymous route: limited per client address in `routeClass` (default
 * `reads`), its errors become problem documents.
 */
export function problemHandler(
  handler: (
    request: HttpRequest,
    context: InvocationContext,
    services: Services,
  ) => Promise<HttpResponseInit>,
  routeClass: RouteClass = 'reads',
): HttpHandler {
  return framedHandler(async (request, context, services, limit) => {
    await limit(routeClass, { address: clientAddress(request) });
    return handler(request, context, services);
  });
}

/**
 * A handler for a webhook whose sender proves itself inside the handler (a signature), so
 * the handler counts the request itself (`limit`) once it knows whom it is for: counting by
 * client address would put every user behind one sending service under one limit.
 */
export function signedWebhookHandler(handler: FramedHandler): HttpHandler {
  return framedHandler(handler);
}

/** `operation`, its prefetch started when it has one (see `PrefetchingOperation`). */
function prefetched(
  operation: ApiOperation | PrefetchingOperation | undefined,
  request: HttpRequest,
  services: Services,
): ApiOperation | undefined {
  if (operation === undefined || typeof operation === 'function') return operation;
  try {
    return operation.prefetch(request, services);
  } catch (error) {
    // Answered once the request is counted, as the operation's own errors are.
    return () => Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The class of a protected request: GET and HEAD read, everything else writes. */
function classOf(method: string): RouteClass {
  return readOnlyMethods.has(method) ? 'reads' : 'writes';
}

/**
 * A handler for an authenticated route: verifies the caller, counts the request against the
 * caller's limits (`routeClass`, by default reads or writes by method), requires one of the
 * product's roles, and dispatches on the method. A request whose credentials are refused is
 * counted against its client address, so guessing tokens is limited too.
 */
export function protectedHandler(
  operations: Partial<Record<HttpMethod, ApiOperation | PrefetchingOperation>>,
  routeClass?: RouteClass,
): HttpHandler {
  const allowed = Object.keys(operations).join(', ');
  return framedHandler(async (request, context, services, limit) => {
    const counted = routeClass ?? classOf(request.method);
    let principal: Principal;
    try {
      principal = await services.authenticate(request);
    } catch (error) {
      await limit(counted, { address: clientAddress(request) });
      throw error;
    }
    const operation = prefetched(operations[request.method as HttpMethod], request, services);
    await limit(counted, { subject: principal.subject, admin: principal.roles.has('Admin') });
    requireRole(principal, 'Admin', 'Technician');
    if (!operation) {
      throw new HttpError('method-not-allowed', `Use one of: ${allowed}.`, {
        headers: { allow: allowed },
      });
    }
    return operation({
      request,
      context,
      principal,
      services,
      db: poolFor(services, request.method),
    });
  });
}
