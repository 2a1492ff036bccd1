import { randomBytes } from 'node:crypto';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { describe, expect, inject, it } from 'vitest';
import { migrate, migrations, type Migration } from '../../../lib/mysql/migrations.js';
import { poolOptions } from '../../../lib/mysql/pool.js';
import { onTestServer, useTestDatabase } from '../../helpers/database.js';

const db = useTestDatabase();

async function appliedVersions(): Promise<{ version: number; checksum: string }[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT version, checksum FROM schema_migrations ORDER BY version',
  );
  return rows.map((row) => ({
    version: Number(row['version']),
    checksum: String(row['checksum']),
  }));
}

describe('migrate', () => {
  it('applied every migration once', async () => {
    const applied = await appliedVersions();
    expect(applied.map((row) => row.version)).toEqual(migrations.map((m) => m.version));
    for (const row of applied) expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('applies nothing when run again', async () => {
    const before = await appliedVersions();
    await expect(migrate(db.pool)).resolves.toEqual([]);
    expect(await appliedVersions()).toEqual(before);
  });

  it('refuses an applied migration whose statements changed', async () => {
    const first = migrations[0];
    if (!first) throw new Error('no migrations');
    const edited: Migration[] = [
      { ...first, statements: [...first.statements, 'SELECT 1'] },
      ...migrations.slice(1),
    ];
    await expect(migrate(db.pool, edited)).rejects.toThrow(
      new RegExp(`Migration ${first.version} \\(.*\\) was changed after it was applied`),
    );
    // The lock was released and nothing was recorded: the real list still runs cleanly.
    await expect(migrate(db.pool)).resolves.toEqual([]);
    expect((await appliedVersions()).map((row) => row.version)).toEqual(
      migrations.map((m) => m.version),
    );
  });

  it('applies a new migration once, in version order', async () => {
    const extra: Migration[] = [
      {
        version: 1001,
        name: 'test: second extra',
        statements: ['ALTER TABLE migration_probe ADD COLUMN note VARCHAR(10) NULL'],
      },
      {
        version: 1000,
        name: 'test: first extra',
        statements: ['CREATE TABLE migration_probe (id INT PRIMARY KEY)'],
      },
    ];
    await expect(migrate(db.pool, [...migrations, ...extra])).resolves.toEqual([1000, 1001]);
    await expect(migrate(db.pool, [...migrations, ...extra])).resolves.toEqual([]);
    const [columns] = await db.pool.query<RowDataPacket[]>(
      `SELECT column_name AS name FROM information_schema.columns
       WHERE table_schema = DATABASE() AND table_name = 'migration_probe' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => String(c['name']))).toEqual(['id', 'note']);
  });

  it('serialises concurrent runners on a fresh database', async () => {
    const name = `sis_test_mig_${randomBytes(6).toString('hex')}`;
    await onTestServer((c) => c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4', [name]));
    const url = `${inject('mysqlServerUrl')}${name}`;
    const pools = [1, 2, 3].map(() =>
      createPool(poolOptions({ MYSQL_URL: url, MYSQL_POOL_SIZE: 2, MYSQL_TLS: false })),
    );
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      // Exactly one runner applied each version; the others found it done.
      const all = migrations.map((m) => m.version);
      expect(results.flat().sort((a, b) => a - b)).toEqual(all);
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
      const [rows] = await pools[0]!.query<RowDataPacket[]>(
        'SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
      );
      expect(rows.map((row) => [Number(row['version']), Number(row['n'])])).toEqual(
        all.map((v) => [v, 1]),
      );
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await onTestServer((c) => c.query('DROP DATABASE IF EXISTS ??', [name]));
    }
  });
});

describe("migration 3: the seed's data model", () => {
  it('converts rows written under the old model: statuses, serial numbers, dates, versions', async () => {
    const name = `sis_test_mig_${randomBytes(6).toString('hex')}`;
    await onTestServer((c) => c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4', [name]));
    const pool = createPool(
      poolOptions({
        MYSQL_URL: `${inject('mysqlServerUrl')}${name}`,
        MYSQL_POOL_SIZE: 2,
        MYSQL_TLS: false,
      }),
    );
    try {
      await migrate(
        pool,
        migrations.filter((m) => m.version < 3),
      );
      const statuses = ['operational', 'maintenance', 'down', 'retired'];
      for (const [i, status] of statuses.entries()) {
        await pool.query(
          `INSERT INTO equipment (id, serial_number, name, type, status, updated_at)
           VALUES (?, ?, 'Machine', 'loader', ?, '2024-01-01 00:00:00')`,
          [i + 1, `OLD-${i}`, status],
        );
      }
      // Times were stored in UTC: 23:30 on the 9th stays the 9th, whatever the clock says.
      await pool.query(
        `INSERT INTO service_records (id, equipment_id, service_type, status, service_date, description, labor_hours, updated_at)
         VALUES (1, 1, 'repair', 'completed', '2024-03-09 23:30:00.250', 'old', 1.5, '2024-01-01 00:00:00'),
                (2, 3, 'inspection', 'scheduled', '2024-03-10 00:00:00', 'old', NULL, '2024-01-01 00:00:00')`,
      );

      await expect(migrate(pool)).resolves.toEqual(
        migrations.filter((m) => m.version >= 3).map((m) => m.version),
      );

      const [equipment] = await pool.query<RowDataPacket[]>(
        'SELECT id, serial_number, status, version, updated_at FROM equipment ORDER BY id',
      );
      expect(
        equipment.map((r): unknown[] => [r['id'], r['serial_number'], r['status'], r['version']]),
      ).toEqual([
        [1, 'OLD-0', 'Operational', 2],
        [2, 'OLD-1', 'Maintenance', 2],
        [3, 'OLD-2', 'Offline', 2],
        [4, 'OLD-3', 'Retired', 2],
      ]);
      // Nobody edited the machines: updated_at is kept.
      for (const row of equipment)
        expect(row['updated_at']).toEqual(new Date('2024-01-01T00:00:00Z'));
      const [records] = await pool.query<RowDataPacket[]>(
        'SELECT id, service_type, status, service_date, labor_hours, cost, version FROM service_records ORDER BY id',
      );
      expect(records).toEqual([
        {
          id: 1,
          service_type: 'repair',
          status: 'completed',
          service_date: '2024-03-09',
          labor_hours: 1.5,
          cost: null,
          version: 2,
        },
        {
          id: 2,
          service_type: 'inspection',
          status: 'scheduled',
          service_date: '2024-03-10',
          labor_hours: null,
          cost: null,
          version: 2,
        },
      ]);

      // The new model holds: the old spellings are refused by the database too, serial
      // numbers may be absent, and cost is never negative.
      await expect(
        pool.query(
          "INSERT INTO equipment (name, type, status) VALUES ('x', 'loader', 'operational')",
        ),
      ).rejects.toThrow(/CONSTRAINT `ck_equipment_status` failed/);
      await pool.query(
        "INSERT INTO equipment (name, type, status) VALUES ('x', 'loader', 'Offline')",
      );
      await pool.query(
        "INSERT INTO equipment (name, type, status) VALUES ('y', 'loader', 'Offline')",
      );
      await expect(
        pool.query(
          `INSERT INTO service_records (equipment_id, service_type, status, service_date, description, cost)
           VALUES (1, 'Inspection', 'completed', '2026-11-20', 'x', -1)`,
        ),
      ).rejects.toThrow(/CONSTRAINT `ck_service_records_cost` failed/);
    } finally {
      await pool.end();
      await onTestServer((c) => c.query('DROP DATABASE IF EXISTS ??', [name]));
    }
  });
});

describe('schema', () => {
  /** Leading columns of every index, per table: `table -> [[col1, col2...], ...]`. */
  async function indexes(): Promise<Map<string, string[][]>> {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      `SELECT table_name AS t, index_name AS i, column_name AS c
       FROM information_schema.statistics
       WHERE table_schema = DATABASE()
       ORDER BY table_name, index_name, seq_in_index`,
    );
    const byIndex = new Map<string, { table: string; columns: string[] }>();
    for (const row of rows) {
      const key = `${String(row['t'])}.${String(row['i'])}`;
      const entry = byIndex.get(key) ?? { table: String(row['t']), columns: [] };
      entry.columns.push(String(row['c']));
      byIndex.set(key, entry);
    }
    const result = new Map<string, string[][]>();
    for (const { table, columns } of byIndex.values()) {
      result.set(table, [...(result.get(table) ?? []), columns]);
    }
    return result;
  }

  /** Whether some index of `table` starts with exactly `prefix`. */
  function hasIndexStartingWith(all: Map<string, string[][]>, table: string, prefix: string[]) {
    return (all.get(table) ?? []).some((columns) =>
      prefix.every((column, i) => columns[i] === column),
    );
  }

  it.each([
    // Filters, each followed by the keyset order so filtered pages seek through one index.
    ['equipment', ['status', 'id']],
    ['equipment', ['type', 'id']],
    ['equipment', ['location', 'id']],
    ['equipment', ['id']],
    ['technicians', ['is_active', 'id']],
    ['technicians', ['specialization', 'id']],
    ['technicians', ['id']],
    ['technicians', ['external_id']],
    ['service_records', ['equipment_id', 'service_date', 'id']],
    ['service_records', ['technician_id', 'service_date', 'id']],
    ['service_records', ['status', 'service_date', 'id']],
    ['service_records', ['service_date', 'id']],
    ['equipment_technicians', ['equipment_id', 'technician_id']],
    ['equipment_technicians', ['technician_id']],
  ])('indexes %s on (%s)', async (table, columns) => {
    expect(hasIndexStartingWith(await indexes(), table, columns)).toBe(true);
  });

  it('has the expected foreign keys', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      `SELECT k.table_name AS t, k.column_name AS c, k.referenced_table_name AS rt,
              k.referenced_column_name AS rc, r.delete_rule AS del
       FROM information_schema.key_column_usage k
       JOIN information_schema.referential_constraints r
         ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name
       WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL
       ORDER BY k.table_name, k.column_name`,
    );
    expect(rows.map((r) => `${r['t']}.${r['c']} -> ${r['rt']}.${r['rc']} ${r['del']}`)).toEqual([
      'equipment_technicians.equipment_id -> equipment.id CASCADE',
      'equipment_technicians.technician_id -> technicians.id RESTRICT',
      'equipment_thresholds.equipment_id -> equipment.id CASCADE',
      'service_records.equipment_id -> equipment.id RESTRICT',
      'service_records.technician_id -> technicians.id RESTRICT',
      'technician_notification_preferences.technician_id -> technicians.id CASCADE',
      'webhook_failures.webhook_id -> webhooks.id CASCADE',
    ]);
  });

  it('has version and timestamp columns on every resource table', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns
       WHERE table_schema = DATABASE() AND column_name IN ('version', 'created_at', 'updated_at')`,
    );
    for (const table of [
      'equipment',
      'technicians',
      'service_records',
      'equipment_thresholds',
      'webhooks',
    ]) {
      expect(
        rows
          .filter((r) => r['t'] === table)
          .map((r) => String(r['c']))
          .sort(),
      ).toEqual(['created_at', 'updated_at', 'version']);
    }
  });

  it('refuses rows that break a foreign key', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO service_records (equipment_id, service_type, status, service_date, description)
         VALUES (999999, 'repair', 'scheduled', NOW(3), 'x')`,
      ),
    ).rejects.toMatchObject({ code: 'ER_NO_REFERENCED_ROW_2' });
  });
});
