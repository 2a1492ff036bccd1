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
