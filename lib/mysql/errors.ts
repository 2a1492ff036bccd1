/**
 * MySQL errors a client can cause (duplicate keys, foreign keys) become 409s with a message
 * chosen by the constraint's name; anything else stays an unexpected error.
 */
import { HttpError } from '../errors.js';

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

/** Rethrows a constraint violation as a 409 `HttpError`; returns other errors unchanged. */
export function translateMysqlError(error: unknown, messages: ConstraintMessages): unknown {
  if (!isMysqlError(error)) return error;
  switch (error.code) {
    case 'ER_DUP_ENTRY':
    case 'ER_ROW_IS_REFERENCED_2':
    case 'ER_NO_REFERENCED_ROW_2': {
      const name = constraintName(error);
      const known = name ? messages[name] : undefined;
      const detail =
        known?.detail ??
        (error.code === 'ER_DUP_ENTRY'
          ? 'A resource with the same unique value already exists.'
          : error.code === 'ER_ROW_IS_REFERENCED_2'
            ? 'The resource is still referenced by other resources.'
            : 'The request refers to a resource that does not exist.');
      return new HttpError('conflict', detail, {
        ...(known?.pointer ? { errors: [{ pointer: known.pointer, detail }] } : {}),
        cause: error,
      });
    }
    default:
      return error;
  }
}
