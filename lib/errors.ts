/**
 * The errors a client can be told about: `HttpError` for what the HTTP edge itself refuses
 * (authentication, request syntax), domain errors for what storage and the domain report
 * (not found, conflict, stale version, invalid cursor), `DependencyUnavailableError` for an
 * outage; and one helper that turns whatever was thrown into an `Error`. Every HTTP error
 * response is built from these in `lib/http/problem.ts`, so the mapping lives in exactly one
 * place.
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
  'too-many-requests': { status: 429, title: 'Too many requests' },
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

// ---------- domain errors ----------
//
// What storage and the domain report when a request cannot be served as asked. They name the
// situation, not a status code: `lib/http/problem.ts` alone maps each to its problem document,
// so storage modules never speak HTTP. Their messages are written for the client (driver text
// stays in `cause`).

/** The resource asked for does not exist. */
export class NotFoundError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'NotFoundError';
  }
}

/**
 * What a write conflicts with: a unique value another resource holds (`duplicate`), other
 * resources still referring to the one deleted or changed (`still-referenced`), a resource the
 * write refers to that does not exist (`dangling-reference`), or a current state that does not
 * allow the change (`state`).
 */
export type ConflictReason = 'duplicate' | 'still-referenced' | 'dangling-reference' | 'state';

/** The write contradicts what is stored; repeating it unchanged fails the same way. */
export class ConflictError extends Error {
  readonly reason: ConflictReason;
  /** JSON pointer of the input field at fault, when one field is. */
  readonly pointer: string | undefined;

  constructor(
    reason: ConflictReason,
    detail: string,
    options: { pointer?: string | undefined; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConflictError';
    this.reason = reason;
    this.pointer = options.pointer;
  }
}

/**
 * The write was conditional on versions of the resource the store no longer has (see
 * `lib/preconditions.ts`): the caller must read it again.
 */
export class StaleVersionError extends Error {
  /**
   * The version the resource has now, so the caller can be told it: a row version (number)
   * or an opaque entity tag exactly as the resource exposes it (string). Undefined when the
   * write lost a race and the winner's version is not known.
   */
  readonly currentVersion: number | string | undefined;

  constructor(detail: string, options: { currentVersion?: number | string } = {}) {
    super(detail);
    this.name = 'StaleVersionError';
    this.currentVersion = options.currentVersion;
  }
}

/** A list cursor that no list issued (tampered, truncated, or from another list). */
export class InvalidCursorError extends Error {
  constructor(options: { cause?: unknown } = {}) {
    super(
      'The cursor is not one this list returned.',
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'InvalidCursorError';
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
