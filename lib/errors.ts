/**
 * One typed error for everything a client can be told about, and one helper that turns
 * whatever was thrown into an `Error`. Every HTTP error response is built from these in
 * `lib/http/problem.ts`, so the mapping lives in exactly one place.
 */

/** One field-level problem, pointing into the request (RFC 6901 JSON pointer or parameter name). */
export interface FieldProblem {
  /** JSON pointer into the request body, e.g. `#/name`. */
  pointer?: string;
  /** Name of the query or path parameter at fault. */
  parameter?: string;
  /** Name of the header at fault. */
  header?: string;
  detail: string;
}

/** Problem kinds this API reports; each maps to a stable `type` URI and a status. */
export const problemKinds = {
  validation: { status: 400, title: 'Your request is not valid' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'precondition-failed': { status: 412, title: 'Precondition failed' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'service-unavailable': { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal server error' },
} as const;

export type ProblemKind = keyof typeof problemKinds;

/** The URI that identifies a problem kind in `type`. */
export function problemTypeUri(kind: ProblemKind): string {
  return `urn:sis:problem:${kind}`;
}

/** An error whose message is safe to show a client. */
export class HttpError extends Error {
  readonly kind: ProblemKind;
  readonly status: number;
  readonly errors: readonly FieldProblem[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    kind: ProblemKind,
    detail: string,
    options: {
      errors?: readonly FieldProblem[];
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.kind = kind;
    this.status = problemKinds[kind].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

/** A service the product depends on; named in logs and in `/api/health`. */
export type Dependency = 'mysql' | 'cosmos' | 'redis';

/** Why a dependency counts as unavailable: no answer in time, no connection, or refusing load. */
export type UnavailableReason = 'timed out' | 'unreachable' | 'throttled';

const unavailableMessages: Readonly<Record<UnavailableReason, string>> = {
  'timed out': 'did not answer in time',
  unreachable: 'could not be reached',
  throttled: 'refused the request under load',
};

/**
 * A dependency could not serve a request (refused or lost connection, no answer within its
 * timeout, pool closed). Storage adapters throw it (or the HTTP edge recognises the SDK's own
 * errors as it); the edge answers 503 with `Retry-After`. Its message names the dependency
 * only: driver messages, which can carry host names, stay in `cause` for the log.
 */
export class DependencyUnavailableError extends Error {
  readonly dependency: Dependency;
  readonly reason: UnavailableReason;
  /** The driver's error code, kept so transient-failure checks keyed on codes still match. */
  readonly code: string | undefined;

  constructor(dependency: Dependency, options: { reason: UnavailableReason; cause?: unknown }) {
    super(
      `${dependency} ${unavailableMessages[options.reason]}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'DependencyUnavailableError';
    this.dependency = dependency;
    this.reason = options.reason;
    const code: unknown =
      typeof options.cause === 'object' && options.cause !== null
        ? (options.cause as { code?: unknown }).code
        : undefined;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** Turns any thrown value into an `Error`, keeping the original as `cause` when it was not one. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return new Error(`Non-error value thrown: ${text}`, { cause: value });
}
