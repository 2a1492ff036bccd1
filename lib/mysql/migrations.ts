/**
 * Versioned, forward-only schema migrations. Each migration is applied once, in order, and
 * recorded with a checksum in `schema_migrations`; editing an applied migration is refused
 * so every database has the same history. Migrations live in code (not .sql files) so the
 * compiled app carries them without a copy step.
 */
import { createHash } from 'node:crypto';
import type { Pool, RowDataPacket } from 'mysql2/promise';

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'equipment, technicians, service records, assignments',
    statements: [
      `CREATE TABLE equipment (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        serial_number VARCHAR(64) NOT NULL,
        name VARCHAR(200) NOT NULL,
        type VARCHAR(50) NOT NULL,
        manufacturer VARCHAR(100) NULL,
        model VARCHAR(100) NULL,
        location VARCHAR(200) NULL,
        status VARCHAR(20) NOT NULL,
        commissioned_on DATE NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_equipment_serial (serial_number),
        KEY ix_equipment_status (status, id),
        KEY ix_equipment_type (type, id),
        KEY ix_equipment_location (location, id),
        CONSTRAINT ck_equipment_status CHECK (status IN ('operational', 'maintenance', 'down', 'retired'))
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE technicians (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        external_id VARCHAR(128) NULL,
        name VARCHAR(200) NOT NULL,
        email VARCHAR(254) NOT NULL,
        phone VARCHAR(32) NULL,
        specialization VARCHAR(100) NOT NULL,
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uq_technicians_external_id (external_id),
        UNIQUE KEY uq_technicians_email (email),
        KEY ix_technicians_active (is_active, id),
        KEY ix_technicians_specialization (specialization, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE service_records (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        equipment_id BIGINT UNSIGNED NOT NULL,
        technician_id BIGINT UNSIGNED NULL,
        service_type VARCHAR(20) NOT NULL,
        status VARCHAR(20) NOT NULL,
        service_date DATETIME(3) NOT NULL,
        description VARCHAR(4000) NOT NULL,
        labor_hours DECIMAL(6,2) NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY ix_service_records_date (service_date, id),
        KEY ix_service_records_equipment (equipment_id, service_date, id),
        KEY ix_service_records_technician (technician_id, service_date, id),
        KEY ix_service_records_status (status, service_date, id),
        CONSTRAINT fk_service_records_equipment FOREIGN KEY (equipment_id) REFERENCES equipment (id) ON DELETE RESTRICT,
        CONSTRAINT fk_service_records_technician FOREIGN KEY (technician_id) REFERENCES technicians (id) ON DELETE RESTRICT,
        CONSTRAINT ck_service_records_type CHECK (service_type IN ('inspection', 'preventive', 'repair', 'emergency')),
        CONSTRAINT ck_service_records_status CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled'))
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE equipment_technicians (
        equipment_id BIGINT UNSIGNED NOT NULL,
        technician_id BIGINT UNSIGNED NOT NULL,
        assigned_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (equipment_id, technician_id),
        KEY ix_equipment_technicians_technician (technician_id, equipment_id),
        CONSTRAINT fk_assignments_equipment FOREIGN KEY (equipment_id) REFERENCES equipment (id) ON DELETE CASCADE,
        CONSTRAINT fk_assignments_technician FOREIGN KEY (technician_id) REFERENCES technicians (id) ON DELETE RESTRICT
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 2,
    name: 'service records name the alert whose resolution they record',
    statements: [
      // Unique: a retried resolve finds the record it created instead of adding another.
      `ALTER TABLE service_records
        ADD COLUMN alert_id VARCHAR(200) NULL AFTER labor_hours,
        ADD UNIQUE KEY uq_service_records_alert (alert_id)`,
    ],
  },
  {
    version: 3,
    name: "the seed's data model: capitalised equipment statuses, optional serial numbers, service record cost, dates and free-text type and status",
    statements: [
      `ALTER TABLE equipment
        DROP CONSTRAINT ck_equipment_status,
        MODIFY serial_number VARCHAR(64) NULL`,
      // The row's representation changes, so its version (the ETag) moves on; updated_at is
      // kept: no one edited the machine.
      `UPDATE equipment
        SET status = CASE status
              WHEN 'operational' THEN 'Operational'
              WHEN 'maintenance' THEN 'Maintenance'
              WHEN 'down' THEN 'Offline'
              WHEN 'retired' THEN 'Retired'
            END,
            version = version + 1,
            updated_at = updated_at`,
      `ALTER TABLE equipment
        ADD CONSTRAINT ck_equipment_status CHECK (status IN ('Operational', 'Maintenance', 'Offline', 'Retired'))`,
      // Times were stored in UTC (the session time zone is +00:00): each record keeps its UTC
      // day. Zeroing the time first makes the DATE conversion lose nothing strict mode minds.
      `UPDATE service_records
        SET service_date = DATE(service_date), version = version + 1, updated_at = updated_at`,
      `ALTER TABLE service_records
        DROP CONSTRAINT ck_service_records_type,
        DROP CONSTRAINT ck_service_records_status,
        MODIFY service_type VARCHAR(50) NOT NULL,
        MODIFY service_date DATE NOT NULL,
        ADD COLUMN cost DECIMAL(10,2) NULL AFTER labor_hours,
        ADD CONSTRAINT ck_service_records_cost CHECK (cost >= 0)`,
    ],
  },
  {
    version: 4,
    name: 'change events: who changed what, when, before and after',
    statements: [
      // Append-only. No foreign keys: the history of a deleted row outlives the row.
      // aggregate_version is the row's version after the change (NULL for events that do not
      // change the row itself, e.g. an assignment); the id orders events within a row.
      `CREATE TABLE change_events (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        aggregate VARCHAR(20) NOT NULL,
        aggregate_id BIGINT UNSIGNED NOT NULL,
        event_type VARCHAR(40) NOT NULL,
        actor VARCHAR(255) NOT NULL,
        occurred_at DATETIME(3) NOT NULL,
        aggregate_version INT UNSIGNED NULL,
        before_state JSON NULL,
        after_state JSON NULL,
        PRIMARY KEY (id),
        KEY ix_change_events_aggregate (aggregate, aggregate_id, id),
        KEY ix_change_events_aggregate_time (aggregate, aggregate_id, occurred_at, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 5,
    name: 'per-equipment threshold overrides',
    statements: [
      // One row per machine that has overrides: per metric its medium/high/critical raise
      // thresholds and optional clear threshold, as JSON validated by
      // lib/telemetry/equipmentThresholds.ts. The overrides go with the machine.
      `CREATE TABLE equipment_thresholds (
        equipment_id BIGINT UNSIGNED NOT NULL,
        thresholds JSON NOT NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (equipment_id),
        CONSTRAINT fk_equipment_thresholds_equipment FOREIGN KEY (equipment_id) REFERENCES equipment (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 6,
    name: 'per-equipment offline timeout',
    statements: [
      // Minutes without readings after which the pipeline raises an offline alert for the
      // machine; NULL: its type's timeout (OFFLINE_TIMEOUT_MINUTES) or the default applies.
      `ALTER TABLE equipment
        ADD COLUMN offline_timeout_minutes SMALLINT UNSIGNED NULL,
        ADD CONSTRAINT ck_equipment_offline_timeout CHECK (offline_timeout_minutes BETWEEN 1 AND 10080)`,
    ],
  },
  {
    version: 7,
    name: 'silences: notifications held for equipment, a type or a location',
    statements: [
      // One row per silence (lib/api/silences.ts). The scope is one equipment id, type or
      // location; alert_id is set for a silence created from an alert (it then holds that
      // alert until it is resolved, and ends_at may be NULL). Ending early sets ends_at to
      // the moment it ended and records who and why; rows are never deleted, so the audit
      // (with change_events, aggregate 'silence') outlives them. No foreign key to
      // equipment: a silence's record outlives the machine, as its history does.
      `CREATE TABLE silences (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        scope VARCHAR(20) NOT NULL,
        equipment_id BIGINT UNSIGNED NULL,
        equipment_type VARCHAR(50) NULL,
        location VARCHAR(200) NULL,
        metric VARCHAR(20) NULL,
        alert_id VARCHAR(200) NULL,
        starts_at DATETIME(3) NOT NULL,
        ends_at DATETIME(3) NULL,
        reason VARCHAR(500) NOT NULL,
        created_by VARCHAR(255) NOT NULL,
        updated_by VARCHAR(255) NOT NULL,
        ended_by VARCHAR(255) NULL,
        ended_at DATETIME(3) NULL,
        end_reason VARCHAR(20) NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY ix_silences_equipment (equipment_id, id),
        KEY ix_silences_type (equipment_type, id),
        KEY ix_silences_location (location, id),
        KEY ix_silences_alert (alert_id, id),
        CONSTRAINT ck_silences_scope CHECK (
          (scope = 'equipment' AND equipment_id IS NOT NULL AND equipment_type IS NULL AND location IS NULL)
          OR (scope = 'type' AND equipment_type IS NOT NULL AND equipment_id IS NULL AND location IS NULL)
          OR (scope = 'location' AND location IS NOT NULL AND equipment_id IS NULL AND equipment_type IS NULL)),
        CONSTRAINT ck_silences_metric CHECK (metric IN ('temperature', 'vibration', 'pressure')),
        CONSTRAINT ck_silences_period CHECK (ends_at IS NULL OR ends_at >= starts_at),
        CONSTRAINT ck_silences_until CHECK (ends_at IS NOT NULL OR alert_id IS NOT NULL),
        CONSTRAINT ck_silences_end_reason CHECK (end_reason IN ('expired', 'alert-resolved'))
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 8,
    name: 'equipment coordinates, for the nearest technicians',
    statements: [
      // WGS 84 degrees; six decimals are about 0.1 m. Both or neither.
      `ALTER TABLE equipment
        ADD COLUMN latitude DECIMAL(8,6) NULL AFTER location,
        ADD COLUMN longitude DECIMAL(9,6) NULL AFTER latitude,
        ADD CONSTRAINT ck_equipment_coordinates CHECK (
          (latitude IS NULL) = (longitude IS NULL)
          AND latitude BETWEEN -90 AND 90
          AND longitude BETWEEN -180 AND 180)`,
    ],
  },
  {
    version: 9,
    name: 'technicians notification preferences',
    statements: [
      // One row per technician who chose (lib/fanout/preferences.ts validates the JSON);
      // none: the defaults. Goes with the technician; changes are TechnicianNotificationPreferencesChanged
      // events in the technician's history.
      `CREATE TABLE technician_notification_preferences (
        technician_id BIGINT UNSIGNED NOT NULL,
        preferences JSON NOT NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (technician_id),
        CONSTRAINT fk_notification_preferences_technician FOREIGN KEY (technician_id) REFERENCES technicians (id) ON DELETE CASCADE,
        CONSTRAINT ck_notification_preferences_json CHECK (JSON_VALID(preferences))
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 10,
    name: 'webhooks: endpoints for alert events, their sealed secrets and runs of failures',
    statements: [
      // One row per webhook (lib/api/webhooks.ts). The signing secret is stored sealed
      // (lib/fanout/webhookSecrets.ts): AES-256-GCM under a data key of its own, which is
      // stored wrapped by a Key Vault key (Azure) or the local key file, named by
      // secret_key_id. Filters are JSON lists of values, NULL for any. Delivery disabling a
      // webhook (a long run of failures, or 410 Gone) records when and why and bumps the
      // version; changes are change_events entries (aggregate 'webhook').
      `CREATE TABLE webhooks (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        url VARCHAR(2000) NOT NULL,
        event_types JSON NOT NULL,
        severities JSON NULL,
        equipment_types JSON NULL,
        locations JSON NULL,
        description VARCHAR(200) NULL,
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        disabled_at DATETIME(3) NULL,
        disabled_reason VARCHAR(500) NULL,
        secret_ciphertext VARBINARY(255) NOT NULL,
        secret_wrapped_key VARBINARY(1024) NOT NULL,
        secret_key_id VARCHAR(500) NOT NULL,
        version INT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY ix_webhooks_active (is_active, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      // The current run of failed deliveries of a webhook, apart from its row: counting
      // changes neither the webhook's version nor its updated_at. A success deletes the row.
      `CREATE TABLE webhook_failures (
        webhook_id BIGINT UNSIGNED NOT NULL,
        consecutive_failures INT UNSIGNED NOT NULL,
        last_failure_at DATETIME(3) NOT NULL,
        last_error VARCHAR(500) NOT NULL,
        PRIMARY KEY (webhook_id),
        CONSTRAINT fk_webhook_failures_webhook FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
];

function checksum(migration: Migration): string {
  return createHash('sha256').update(migration.statements.join('\n;\n')).digest('hex');
}

interface AppliedRow extends RowDataPacket {
  version: number;
  checksum: string;
}

/**
 * Applies every pending migration. A named lock serialises concurrent runners (several
 * instances starting at once); MySQL DDL is not transactional, so each migration is
 * recorded right after its statements succeed.
 * @returns the versions applied by this call.
 */
export async function migrate(
  pool: Pool,
  list: readonly Migration[] = migrations,
): Promise<number[]> {
  const connection = await pool.getConnection();
  try {
    const [lockRows] = await connection.query<RowDataPacket[]>(
      "SELECT GET_LOCK('sis_schema_migrations', 60) AS acquired",
    );
    if (lockRows[0]?.['acquired'] !== 1)
      throw new Error('Timed out waiting for the migration lock');
    try {
      await connection.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        checksum CHAR(64) NOT NULL,
        applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
      const [appliedRows] = await connection.query<AppliedRow[]>(
        'SELECT version, checksum FROM schema_migrations ORDER BY version',
      );
      const applied = new Map(appliedRows.map((row) => [row.version, row.checksum]));
      const done: number[] = [];
      for (const migration of [...list].sort((a, b) => a.version - b.version)) {
        const sum = checksum(migration);
        const recorded = applied.get(migration.version);
        if (recorded !== undefined) {
          if (recorded !== sum) {
            throw new Error(
              `Migration ${migration.version} (${migration.name}) was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        for (const statement of migration.statements) await connection.query(statement);
        await connection.execute(
          'INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)',
          [migration.version, migration.name, sum],
        );
        done.push(migration.version);
      }
      return done;
    } finally {
      await connection.query("SELECT RELEASE_LOCK('sis_schema_migrations')");
    }
  } finally {
    connection.release();
  }
}
