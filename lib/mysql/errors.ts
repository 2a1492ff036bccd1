/**
 * MySQL errors a client can cause (duplicate keys, foreign keys) become `ConflictError`s that
 * say what conflicts, with a message chosen by the constraint's name; anything else stays an
 * unexpected error.
 */
import { ConflictError, type ConflictReason } from '../errors.js';

/** What to tell the client when a named constraint is violated. */
export interface ConstraintMessage {
  detail: string;
  /** JSON pointer of the request field at fault, when there is one. */
  pointer?: string;
}

export type ConstraintMessages = Readonly<Record<string, ConstraintMessage>>;

interface MysqlError {
  code: string;
  errno: number;
  sqlMessage?: string;
}

function isMysqlError(error: unknown): error is MysqlError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { errno?: unknown }).errno === 'number'
  );
}

function constraintName(error: MysqlError): string | undefined {
  const message = error.sqlMessage ?? '';
  // "Duplicate entry '...' for key 'uq_x'" or "... CONSTRAINT `fk_x` FOREIGN KEY ..."
  return (
    /for key '(?:[^'.]*\.)?([\w]+)'$/.exec(message)?.[1] ??
    /CONSTRAINT `([\w]+)`/.exec(message)?.[1]
  );
}

/** The MySQL errors that are conflicts: what conflicts, and what to say without a known name. */
const conflicts: Readonly<Record<string, { reason: ConflictReason; detail: string }>> = {
  ER_DUP_ENTRY: {
    reason: 'duplicate',
    detail: 'A resource with the same unique value already exists.',
  },
  ER_ROW_IS_REFERENCED_2: {
    reason: 'still-referenced',
    detail: 'The resource is still referenced by other resources.',
  },
  ER_NO_REFERENCED_ROW_2: {
    reason: 'dangling-reference',
    detail: 'The request refers to a resource that does not exist.',
  },
};

/** A constraint violation as a `ConflictError`; any other error unchanged. */
export function translateMysqlError(error: unknown, messages: ConstraintMessages): unknown {
  if (!isMysqlError(error) || !Object.hasOwn(conflicts, error.code)) return error;
  const conflict = conflicts[error.code];
  if (conflict === undefined) return error;
  const name = constraintName(error);
  const known = name !== undefined && Object.hasOwn(messages, name) ? messages[name] : undefined;
  return new ConflictError(conflict.reason, known?.detail ?? conflict.detail, {
    pointer: known?.pointer,
    cause: error,
  });
}
