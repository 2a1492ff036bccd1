/** Turns zod issues into field problems that point at the offending part of a request. */
import type { z } from 'zod';
import { HttpError, type FieldProblem } from '../errors.js';

function escapePointerToken(token: PropertyKey): string {
  const escaped = String(token).replace(/~/g, '~0').replace(/\//g, '~1');
  // URI fragment form (RFC 6901 §6): percent-encode what a fragment cannot carry. Lone
  // surrogates (possible in JSON keys) cannot be encoded, so they become U+FFFD first.
  return escaped
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]/gu, (char) => encodeURIComponent(char));
}

/** RFC 6901 pointer (as a URI fragment) for a path inside the request body. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return `#${path.map((token) => `/${escapePointerToken(token)}`).join('')}`;
}

/** Where a validated value came from; decides how problems point at it. */
export type RequestPart = 'body' | 'query' | 'path';

export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  part: RequestPart,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of issues) {
    const paths =
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => [...issue.path, key])
        : [issue.path];
    const detail = issue.code === 'unrecognized_keys' ? 'Unknown field' : issue.message;
    for (const path of paths) {
      if (part === 'body') problems.push({ pointer: jsonPointer(path), detail });
      else problems.push({ parameter: String(path[0] ?? ''), detail });
    }
  }
  return problems;
}

/** Validates a value or throws a 400 listing every problem. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: RequestPart,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const where = part === 'body' ? 'request body' : part === 'query' ? 'query string' : 'URL';
  throw new HttpError(
    'validation',
    `The ${where} has ${result.error.issues.length === 1 ? 'a problem' : 'problems'}.`,
    {
      errors: issuesToProblems(result.error.issues, part),
    },
  );
}
