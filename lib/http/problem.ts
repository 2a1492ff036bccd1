/**
 * The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.
 * Client errors (`HttpError` and the domain errors storage throws) carry their message; an
 * unavailable dependency becomes a 503 with `Retry-After`; anything unexpected becomes a bare
 * 500 whose details go to the log with the invocation id, never to the client.
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { cosmosFailure } from '../cosmos/client.js';
import {
  ConflictError,
  DependencyUnavailableError,
  HttpError,
  InvalidCursorError,
  NotFoundError,
  StaleVersionError,
  ensureError,
  problemKinds,
  problemTypeUri,
  type FieldProblem,
  type ProblemKind,
} from '../errors.js';
import { etagFor } from './etag.js';

/** The body of every error response. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: readonly FieldProblem[];
  invocationId?: string;
}

export const problemContentType = 'application/problem+json; charset=utf-8';

function problemResponse(
  kind: ProblemKind,
  detail: string,
  instance: string,
  extra: {
    errors?: readonly FieldProblem[];
    headers?: Record<string, string>;
    invocationId?: string;
  },
): HttpResponseInit {
  const { status, title } = problemKinds[kind];
  const body: ProblemDocument = { type: problemTypeUri(kind), title, status, detail, instance };
  if (extra.errors?.length) body.errors = extra.errors;
  if (extra.invocationId) body.invocationId = extra.invocationId;
  return {
    status,
    headers: { ...extra.headers, 'content-type': problemContentType, 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/**
 * Seconds a client should wait before retrying after a dependency failed: about one connect
 * timeout, long enough for a restarted server or a failover to finish accepting connections.
 */
export const RETRY_AFTER_SECONDS = 5;

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The 503 for an unavailable dependency. The client learns neither which dependency nor any
 * driver text (host names, ports); the log gets both. A failed write may still have been
 * applied (a statement the server received before it hung runs when it resumes; a commit's
 * reply can be lost), and nothing retries it inside the request: the detail says so and what
 * to do (README, "When a dependency is down").
 */
function unavailableResponse(
  error: DependencyUnavailableError,
  instance: string,
  method: string | undefined,
  context: InvocationContext,
): HttpResponseInit {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  context.warn(`Dependency unavailable: ${error.message}${cause}`);
  const isWrite = method !== undefined && !safeMethods.has(method.toUpperCase());
  const detail = isWrite
    ? 'A storage service is unavailable, so the change was not confirmed: it may or may not ' +
      'have been applied. Read the resource before repeating the request.'
    : 'A storage service is unavailable. Try again later.';
  return problemResponse('service-unavailable', detail, instance, {
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  });
}

/**
 * The HTTP error a client error is answered with: an `HttpError` as it is, a domain error as
 * its problem kind (with the field at fault, or the current ETag of a changed resource);
 * undefined for anything else.
 */
function clientError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof NotFoundError) return new HttpError('not-found', error.message);
  if (error instanceof ConflictError) {
    return new HttpError(
      'conflict',
      error.message,
      error.pointer ? { errors: [{ pointer: error.pointer, detail: error.message }] } : {},
    );
  }
  if (error instanceof StaleVersionError) {
    const { currentVersion } = error;
    if (currentVersion === undefined) return new HttpError('precondition-failed', error.message);
    // Row versions become strong tags; opaque tags are already as the resource shows them.
    const etag = typeof currentVersion === 'number' ? etagFor(currentVersion) : currentVersion;
    return new HttpError('precondition-failed', error.message, { headers: { etag } });
  }
  if (error instanceof InvalidCursorError) {
    return new HttpError('validation', error.message, {
      errors: [{ parameter: 'cursor', detail: 'Use nextCursor from the previous page unchanged' }],
    });
  }
  return undefined;
}

/**
 * Maps anything thrown by a handler to a problem response.
 * @param instance the request path, reported as `instance`.
 * @param method the request's method: a failed write is described differently from a read.
 */
export function errorToResponse(
  error: unknown,
  instance: string,
  context: InvocationContext,
  method?: string,
): HttpResponseInit {
  const unavailable = error instanceof DependencyUnavailableError ? error : cosmosFailure(error);
  if (unavailable) return unavailableResponse(unavailable, instance, method, context);
  const client = clientError(error);
  if (client) {
    if (client.status >= 500) context.warn(`${client.kind}: ${client.message}`);
    return problemResponse(client.kind, client.message, instance, {
      ...(client.errors ? { errors: client.errors } : {}),
      headers: { ...client.headers },
    });
  }
  const err = ensureError(error);
  context.error(
    `Unhandled error in ${context.functionName} (invocation ${context.invocationId}): ${err.stack ?? err.message}`,
  );
  return problemResponse(
    'internal',
    'An unexpected error occurred. Quote the invocation id when reporting it.',
    instance,
    {
      invocationId: context.invocationId,
    },
  );
}
