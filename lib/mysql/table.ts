/**
 * Generic access to a versioned table: keyset-paged lists, get, insert, replace and delete
 * with optimistic concurrency. Each resource module supplies its columns and mapping; this
 * module owns the SQL shape so the three resources cannot diverge in how they page, lock or
 * report conflicts.
 */
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { NotFoundError } from '../errors.js';
import type { Page, PageRequest } from '../paging.js';
import { requireVersion, type VersionCondition } from '../preconditions.js';
import { translateMysqlError, type ConstraintMessages } from './errors.js';
import {
  afterClause,
  decodeCursor,
  encodeCursor,
  orderByClause,
  type KeysetOrder,
} from './keyset.js';

/** Anything statements can run on: the pool, or one connection (transactions, tests). */
export type Queryable = Pool | PoolConnection;

/** A filter condition: a parametrised SQL fragment. */
export interface Condition {
  sql: string;
  params: readonly unknown[];
}

/** Conditions for the filters that are set, each `column <operator> ?`. */
export function filterConditions(
  filters: readonly (readonly [column: string, operator: '=' | '>=' | '<', value: unknown])[],
): Condition[] {
  return filters
    .filter(([, , value]) => value !== undefined)
    .map(([column, operator, value]) => ({ sql: `${column} ${operator} ?`, params: [value] }));
}

export interface TableSpec<Resource extends { version: number }> {
  table: string;
  /** Used in messages: "Equipment 7 does not exist". */
  label: string;
  /** Columns to select, all of them plain column names. */
  columns: readonly string[];
  fromRow(row: RowDataPacket): Resource;
  order: KeysetOrder;
  conflicts: ConstraintMessages;
}

/**
 * Records a write (its history) on the write's own connection, inside its transaction: if
 * recording fails the write is rolled back, so no change goes unrecorded. `before` is absent
 * for an insert, `after` for a delete.
 */
export type WriteRecorder<Resource> = (
  connection: PoolConnection,
  change: { before?: Resource; after?: Resource },
) => Promise<void>;

/** Runs `work` in a transaction on one pooled connection. */
export async function inTransaction<T>(
  pool: Pool,
  work: (connection: PoolConnection) => Promise<T>,
): Promise<T> {
  const connection = await pool.getConnection();
  try {
    await connection.beginTransaction();
    const result = await work(connection);
    await connection.commit();
    return result;
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}

export class VersionedTable<Resource extends { version: number }> {
  constructor(private readonly spec: TableSpec<Resource>) {}

  private get selectList(): string {
    return this.spec.columns.join(', ');
  }

  notFound(id: number): NotFoundError {
    return new NotFoundError(`${this.spec.label} ${id} does not exist.`);
  }

  async list(
    db: Queryable,
    conditions: readonly Condition[],
    page: PageRequest,
    from = this.spec.table,
  ): Promise<Page<Resource>> {
    const where = [...conditions];
    if (page.cursor !== undefined) {
      const after = afterClause(this.spec.order, decodeCursor(this.spec.order, page.cursor));
      where.push({ sql: after.sql, params: after.params });
    }
    const sql =
      `SELECT ${this.selectList} FROM ${from}` +
      (where.length ? ` WHERE ${where.map((c) => c.sql).join(' AND ')}` : '') +
      ` ORDER BY ${orderByClause(this.spec.order)} LIMIT ?`;
    const params = [...where.flatMap((c) => c.params), page.limit + 1];
    const [rows] = await db.query<RowDataPacket[]>(sql, params);
    const hasMore = rows.length > page.limit;
    const pageRows = hasMore ? rows.slice(0, page.limit) : rows;
    const last = pageRows.at(-1);
    return {
      items: pageRows.map((row) => this.spec.fromRow(row)),
      nextCursor: hasMore && last ? encodeCursor(this.spec.order, last) : null,
    };
  }

  async find(db: Queryable, id: number, lock = false): Promise<Resource | undefined> {
    const [rows] = await db.query<RowDataPacket[]>(
      `SELECT ${this.selectList} FROM ${this.spec.table} WHERE id = ?${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const row = rows[0];
    return row ? this.spec.fromRow(row) : undefined;
  }

  /** The version of row `id` alone (a conditional GET needs no more), or undefined if none. */
  async version(db: Queryable, id: number): Promise<number | undefined> {
    const [rows] = await db.query<RowDataPacket[]>(
      `SELECT version FROM ${this.spec.table} WHERE id = ?`,
      [id],
    );
    const row = rows[0];
    return row ? Number(row['version']) : undefined;
  }

  async get(db: Queryable, id: number): Promise<Resource> {
    const found = await this.find(db, id);
    if (!found) throw this.notFound(id);
    return found;
  }

  async insert(
    pool: Pool,
    values: Readonly<Record<string, unknown>>,
    record?: WriteRecorder<Resource>,
  ): Promise<Resource> {
    const columns = Object.keys(values);
    try {
      return await inTransaction(pool, async (connection) => {
        const [result] = await connection.query<ResultSetHeader>(
          `INSERT INTO ${this.spec.table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          columns.map((column) => values[column]),
        );
        const inserted = await this.get(connection, result.insertId);
        await record?.(connection, { after: inserted });
        return inserted;
      });
    } catch (error) {
      throw translateMysqlError(error, this.spec.conflicts);
    }
  }

  /**
   * Replaces every writable column of row `id`, bumping its version. The row is locked while
   * the precondition and `guard` (authorisation against the current state) are checked.
   */
  async replace(
    pool: Pool,
    id: number,
    values: Readonly<Record<string, unknown>>,
    ifMatch: VersionCondition,
    guard?: (current: Resource) => void | Promise<void>,
    record?: WriteRecorder<Resource>,
  ): Promise<Resource> {
    try {
      return await inTransaction(pool, async (connection) => {
        const current = await this.find(connection, id, true);
        if (!current) throw this.notFound(id);
        requireVersion(ifMatch, current.version);
        await guard?.(current);
        const columns = Object.keys(values);
        await connection.query(
          `UPDATE ${this.spec.table} SET ${columns.map((c) => `${c} = ?`).join(', ')}, version = version + 1 WHERE id = ?`,
          [...columns.map((column) => values[column]), id],
        );
        const replaced = await this.get(connection, id);
        await record?.(connection, { before: current, after: replaced });
        return replaced;
      });
    } catch (error) {
      throw translateMysqlError(error, this.spec.conflicts);
    }
  }

  /** Deletes row `id` when the precondition holds; foreign keys decide what blocks it. */
  async remove(
    pool: Pool,
    id: number,
    ifMatch: VersionCondition,
    record?: WriteRecorder<Resource>,
  ): Promise<void> {
    try {
      await inTransaction(pool, async (connection) => {
        const current = await this.find(connection, id, true);
        if (!current) throw this.notFound(id);
        requireVersion(ifMatch, current.version);
        await connection.query(`DELETE FROM ${this.spec.table} WHERE id = ?`, [id]);
        await record?.(connection, { before: current });
      });
    } catch (error) {
      throw translateMysqlError(error, this.spec.conflicts);
    }
  }
}

/** Formats a MySQL DATETIME read back as a UTC `Date`. */
export function isoString(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}
