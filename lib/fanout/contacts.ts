/**
 * Who email and SMS reach, from MySQL: the active technicians assigned to an alert's
 * equipment and the technician the alert is assigned to (the people of the fan-out,
 * lib/fanout/routing.ts `alertRecipients`), with their address, phone and preferences, and
 * the equipment's name and location for the message. Unlike Web PubSub and push, a technician
 * needs no sign-in (`external_id`) to be reached: an email address is enough.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { namesMysqlRow } from '../telemetry/reading.js';
import { notificationPreferencesInputSchema, type NotificationPreferences } from './preferences.js';

export interface Contact {
  technicianId: number;
  name: string;
  email: string;
  /** E.164 or whatever was stored; null: no SMS. */
  phone: string | null;
  /** Their own choice; null: the defaults. */
  preferences: NotificationPreferences | null;
}

export interface EquipmentSummary {
  name: string;
  location: string | null;
}

export interface ContactDirectory {
  /** The alert's people, each once, ordered by technician id. */
  alertContacts(equipmentId: string, assigneeTechnicianId: number | undefined): Promise<Contact[]>;
  /** One technician while active; undefined once gone or inactive (then owed nothing). */
  contact(technicianId: number): Promise<Contact | undefined>;
  equipment(equipmentId: string): Promise<EquipmentSummary | undefined>;
}

/** A stored preferences document, or null when absent or no longer valid (defaults apply). */
export function storedPreferences(value: unknown): NotificationPreferences | null {
  if (value === null || value === undefined) return null;
  const parsed = notificationPreferencesInputSchema.safeParse(
    typeof value === 'string' ? (JSON.parse(value) as unknown) : value,
  );
  return parsed.success ? parsed.data : null;
}

function contactOf(row: RowDataPacket): Contact {
  return {
    technicianId: Number(row['id']),
    name: String(row['name']),
    email: String(row['email']),
    phone: row['phone'] === null ? null : String(row['phone']),
    preferences: storedPreferences(row['preferences']),
  };
}

const contactColumns = `t.id, t.name, t.email, t.phone, p.preferences
  FROM technicians t LEFT JOIN technician_notification_preferences p ON p.technician_id = t.id`;

export function mysqlContactDirectory(pool: () => Pool): ContactDirectory {
  return {
    async alertContacts(equipmentId, assigneeTechnicianId) {
      const assigned = namesMysqlRow(equipmentId) ? Number(equipmentId) : null;
      if (assigned === null && assigneeTechnicianId === undefined) return [];
      const [rows] = await pool().query<RowDataPacket[]>(
        `SELECT ${contactColumns}
          WHERE t.is_active AND (t.id = ? OR t.id IN (
            SELECT a.technician_id FROM equipment_technicians a WHERE a.equipment_id = ?))
          ORDER BY t.id`,
        [assigneeTechnicianId ?? null, assigned],
      );
      return rows.map(contactOf);
    },
    async contact(technicianId) {
      const [rows] = await pool().query<RowDataPacket[]>(
        `SELECT ${contactColumns} WHERE t.id = ? AND t.is_active`,
        [technicianId],
      );
      const row = rows[0];
      return row ? contactOf(row) : undefined;
    },
    async equipment(equipmentId) {
      if (!namesMysqlRow(equipmentId)) return undefined;
      const [rows] = await pool().query<RowDataPacket[]>(
        'SELECT name, location FROM equipment WHERE id = ?',
        [Number(equipmentId)],
      );
      const row = rows[0];
      return row
        ? {
            name: String(row['name']),
            location: row['location'] === null ? null : String(row['location']),
          }
        : undefined;
    },
  };
}
