/**
 * Reading rows straight from a test database: plain queries, a snapshot of every product
 * table, and "this refused request changed nothing" checks.
 */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { expect } from 'vitest';

/** Every row of every product table, each table in a stable order. */
export type Snapshot = Record<
  | 'equipment'
  | 'technicians'
  | 'assignments'
  | 'serviceRecords'
  | 'equipmentThresholds'
  | 'silences'
  | 'changeEvents',
  RowDataPacket[]
>;

export async function queryRows(
  pool: Pool,
  sql: string,
  params: unknown[] = [],
): Promise<RowDataPacket[]> {
  const [result] = await pool.query<RowDataPacket[]>(sql, params);
  return result;
}

/** Runs an INSERT; returns the id it generated. */
export async function insertRow(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const [result] = await pool.query<ResultSetHeader>(sql, params);
  return result.insertId;
}

export async function snapshotTables(pool: Pool): Promise<Snapshot> {
  return {
    equipment: await queryRows(pool, 'SELECT * FROM equipment ORDER BY id'),
    technicians: await queryRows(pool, 'SELECT * FROM technicians ORDER BY id'),
    assignments: await queryRows(
      pool,
      'SELECT * FROM equipment_technicians ORDER BY equipment_id, technician_id',
    ),
    serviceRecords: await queryRows(pool, 'SELECT * FROM service_records ORDER BY id'),
    equipmentThresholds: await queryRows(
      pool,
      'SELECT * FROM equipment_thresholds ORDER BY equipment_id',
    ),
    silences: await queryRows(pool, 'SELECT * FROM silences ORDER BY id'),
    changeEvents: await queryRows(pool, 'SELECT * FROM change_events ORDER BY id'),
  };
}

/** Runs `action` and asserts that no row of any product table changed. */
export async function expectNothingChangedIn(
  pool: Pool,
  action: () => Promise<void>,
): Promise<void> {
  const before = await snapshotTables(pool);
  await action();
  expect(await snapshotTables(pool)).toEqual(before);
}

export interface RowHelpers {
  /** The rows `sql` selects. */
  rows: (sql: string, params?: unknown[]) => Promise<RowDataPacket[]>;
  /** Runs an INSERT; returns the id it generated. */
  insert: (sql: string, params?: unknown[]) => Promise<number>;
  /** Every product table (see `snapshotTables`). */
  snapshot: () => Promise<Snapshot>;
  /** Runs `action` and asserts that no row of any product table changed. */
  expectNothingChanged: (action: () => Promise<void>) => Promise<void>;
}

/**
 * The helpers above bound to a database handle whose pool is filled in later (as
 * `useTestDatabase()` does), so they can be created at the top of a test file.
 */
export function rowHelpers(db: { readonly pool: Pool }): RowHelpers {
  return {
    rows: (sql, params = []) => queryRows(db.pool, sql, params),
    insert: (sql, params = []) => insertRow(db.pool, sql, params),
    snapshot: () => snapshotTables(db.pool),
    expectNothingChanged: (action) => expectNothingChangedIn(db.pool, action),
  };
}
