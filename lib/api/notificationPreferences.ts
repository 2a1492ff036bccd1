/**
 * A technician's notification preferences over HTTP
 * (`/api/technicians/{id}/notification-preferences`): each technician reads and replaces
 * their own, admins anyone's; anyone else's id is answered as unknown (404), so ids reveal
 * nothing. Each change is a `NotificationPreferencesChanged` event in the technician's
 * history, in the same transaction. The fan-out reads the row itself (lib/fanout/contacts.ts).
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import type { Principal } from '../auth.js';
import { accessScope } from '../fanout/audience.js';
import { storedPreferences } from '../fanout/contacts.js';
import {
  defaultPreferences,
  notificationPreferencesInputSchema,
  type NotificationPreferences,
} from '../fanout/preferences.js';
import { inTransaction, type Queryable } from '../mysql/table.js';
import type { Severity } from '../telemetry/severity.js';
import { actorOf, appendEvents } from './history.js';
import { technicianTable } from './technicians.js';

export const notificationPreferencesSchema = notificationPreferencesInputSchema
  .extend({
    technicianId: z.number().int(),
    customized: z.boolean().meta({
      description: 'False: the defaults (push and email for all, SMS per SMS_SEVERITIES).',
    }),
  })
  .meta({ id: 'NotificationPreferences' });
export type NotificationPreferencesView = z.infer<typeof notificationPreferencesSchema>;

/** 404 unless the caller is an admin or the technician themselves. */
async function checkAccess(pool: Pool, principal: Principal, technicianId: number): Promise<void> {
  const scope = await accessScope(pool, principal);
  if (scope.kind === 'assigned' && scope.technicianId !== technicianId)
    throw technicianTable.notFound(technicianId);
}

async function read(
  db: Queryable,
  technicianId: number,
  smsSeverities: readonly Severity[],
  forUpdate = false,
): Promise<NotificationPreferencesView> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT t.id, p.preferences FROM technicians t
       LEFT JOIN technician_notification_preferences p ON p.technician_id = t.id
      WHERE t.id = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [technicianId],
  );
  const row = rows[0];
  if (!row) throw technicianTable.notFound(technicianId);
  const own = storedPreferences(row['preferences']);
  return {
    technicianId,
    ...(own ?? defaultPreferences(smsSeverities)),
    customized: own !== null,
  };
}

export async function getNotificationPreferences(
  pool: Pool,
  principal: Principal,
  technicianId: number,
  smsSeverities: readonly Severity[],
): Promise<NotificationPreferencesView> {
  await checkAccess(pool, principal, technicianId);
  return read(pool, technicianId, smsSeverities);
}

/** Replaces the technician's whole choice (validated by the caller). */
export async function putNotificationPreferences(
  pool: Pool,
  principal: Principal,
  technicianId: number,
  input: NotificationPreferences,
  smsSeverities: readonly Severity[],
): Promise<NotificationPreferencesView> {
  await checkAccess(pool, principal, technicianId);
  return inTransaction(pool, async (connection) => {
    const before = await read(connection, technicianId, smsSeverities, true);
    const { channels, quietHours } = before;
    if (before.customized && JSON.stringify({ channels, quietHours }) === JSON.stringify(input))
      return before;
    await connection.query(
      `INSERT INTO technician_notification_preferences (technician_id, preferences)
       VALUES (?, ?)
       ON DUPLICATE KEY UPDATE preferences = VALUES(preferences), version = version + 1,
         updated_at = CURRENT_TIMESTAMP(3)`,
      [technicianId, JSON.stringify(input)],
    );
    await appendEvents(connection, [
      {
        aggregate: 'technician',
        aggregateId: technicianId,
        type: 'NotificationPreferencesChanged',
        actor: actorOf(principal),
        before: before.customized ? { channels, quietHours } : null,
        after: input,
      },
    ]);
    return read(connection, technicianId, smsSeverities);
  });
}
