/**
 * "The cost of a page must not grow with its depth": measured as rows the storage engine
 * reads (MariaDB's Handler_read_* session counters), which is deterministic, unlike time.
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { equipmentTable } from '../../../lib/api/equipment.js';
import { listServiceRecords } from '../../../lib/api/serviceRecords.js';
import type { Page } from '../../../lib/paging.js';
import { useTestDatabase } from '../../helpers/database.js';

const db = useTestDatabase();
const rowCount = 3000;
const pageSize = 20;

beforeAll(async () => {
  const equipment = Array.from({ length: rowCount }, (_, i) => [
    `SN-${i}`,
    `Machine ${i}`,
    i % 2 ? 'excavator' : 'crane',
    i % 3 ? 'Operational' : 'Offline',
  ]);
  await db.pool.query('INSERT INTO equipment (serial_number, name, type, status) VALUES ?', [
    equipment,
  ]);
  const records = Array.from({ length: rowCount }, (_, i) => [
    1 + (i % 3),
    'inspection',
    'completed',
    new Date(Date.UTC(2025, 0, 1) + Math.floor(i / 4) * 3_600_000),
    `Record ${i}`,
  ]);
  await db.pool.query(
    'INSERT INTO service_records (equipment_id, service_type, status, service_date, description) VALUES ?',
    [records],
  );
  await db.pool.query('ANALYZE TABLE equipment, service_records');
});

async function rowsRead<T>(
  connection: PoolConnection,
  work: () => Promise<T>,
): Promise<{ rows: number; result: T }> {
  const counters = async () => {
    const [status] = await connection.query<RowDataPacket[]>(
      "SHOW SESSION STATUS LIKE 'Handler_read%'",
    );
    return status.reduce((sum, row) => sum + Number(row['Value']), 0);
  };
  const before = await counters();
  const result = await work();
  // SHOW STATUS itself reads a few rows; measure it alone and subtract.
  const after = await counters();
  const overhead = (await counters()) - after;
  return { rows: after - before - overhead, result };
}

/** The cursor after `pages` pages. */
async function walkTo<T>(
  page: (cursor?: string) => Promise<Page<T>>,
  pages: number,
): Promise<string> {
  let cursor: string | undefined;
  for (let i = 0; i < pages; i++) {
    const next = (await page(cursor)).nextCursor;
    if (!next) throw new Error('ran out of pages');
    cursor = next;
  }
  if (!cursor) throw new Error('no cursor');
  return cursor;
}

describe('keyset pagination cost', () => {
  it('reads about a page of rows for the first and for a deep equipment page', async () => {
    const connection = await db.pool.getConnection();
    try {
      const page = (cursor?: string) =>
        equipmentTable.list(connection, [{ sql: 'status = ?', params: ['Operational'] }], {
          limit: pageSize,
          cursor,
        });
      const shallowCursor = await walkTo(page, 2);
      const shallow = await rowsRead(connection, () => page(shallowCursor));
      const deepCursor = await walkTo(page, 90);
      const deep = await rowsRead(connection, () => page(deepCursor));
      expect(deep.result.items).toHaveLength(pageSize);
      // 1800 matching rows precede the deep page; an OFFSET scan would read them all.
      expect(deep.rows).toBeLessThan(pageSize * 3);
      // The plan may differ with position (index seek or primary-key range), but stays bounded.
      expect(deep.rows).toBeLessThanOrEqual(2 * shallow.rows);
    } finally {
      connection.release();
    }
  });

  it('reads about a page of rows for a deep service-record page in date order', async () => {
    const connection = await db.pool.getConnection();
    try {
      const page = (cursor?: string) =>
        listServiceRecords(connection, { equipmentId: 2 }, { limit: pageSize, cursor });
      const deepCursor = await walkTo(page, 45);
      const deep = await rowsRead(connection, () => page(deepCursor));
      expect(deep.result.items).toHaveLength(pageSize);
      // 900 of this machine's records precede the deep page.
      expect(deep.rows).toBeLessThan(pageSize * 3);
    } finally {
      connection.release();
    }
  });
});
