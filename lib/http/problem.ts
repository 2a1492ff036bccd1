/**
 * The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.
 * Client errors carry their message; anything unexpected becomes a bare 500 whose details
 * go to the log with the invocation id, never to the client.
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  HttpError,
  ensureError,
  problemKinds,
  problemTypeUri,
  type FieldProblem,
  type ProblemKind,
} from '../errors.js';

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
 * Maps anything thrown by a handler to a problem response.
 * @param instance the request path, reported as `instance`.
 */
export function errorToResponse(
  error: unknown,
  instance: string,
  context: InvocationContext,
): HttpResponseInit {
  if (error instanceof HttpError) {
    if (error.status >= 500) context.warn(`${error.kind}: ${error.message}`);
    return problemResponse(error.kind, error.message, instance, {
      ...(error.errors ? { errors: error.errors } : {}),
      headers: { ...error.headers },
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
