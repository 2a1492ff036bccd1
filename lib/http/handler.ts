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
import { errorToResponse } from './problem.js';

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

function withBaseHeaders(response: HttpResponseInit): HttpResponseInit {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(baseResponseHeaders)) headers.set(name, value);
  return { ...response, headers: Object.fromEntries(headers) };
}

/**
 * A handler whose errors become problem documents; every HTTP function is one, so this is
 * also where the headers every response carries are added.
 */
export function problemHandler(
  handler: (
    request: HttpRequest,
    context: InvocationContext,
    services: Services,
  ) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    try {
      return withBaseHeaders(await handler(request, context, getServices()));
    } catch (error) {
      return withBaseHeaders(errorToResponse(error, instanceOf(request), context, request.method));
    }
  };
}

/**
 * A handler for an authenticated route: verifies the caller, requires one of the product's
 * roles, and dispatches on the method.
 */
export function protectedHandler(
  operations: Partial<Record<HttpMethod, ApiOperation>>,
): HttpHandler {
  const allowed = Object.keys(operations).join(', ');
  return problemHandler(async (request, context, services) => {
    const principal = await services.authenticate(request);
    requireRole(principal, 'Admin', 'Technician');
    const operation = operations[request.method as HttpMethod];
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
