/**
 * What each technician chooses to receive: per channel (push, email, SMS) the severities that
 * reach them, and quiet hours in their own time zone during which only critical alerts do.
 * Pure rules, kept apart from MySQL (lib/api/notificationPreferences.ts) so every case is
 * tested directly. Defaults follow the seed's notification service: push and email for every
 * severity, SMS for the app's SMS_SEVERITIES (critical unless set otherwise).
 */
import { z } from 'zod';
import { severities, type Severity } from '../telemetry/severity.js';

export const notificationChannels = ['push', 'email', 'sms'] as const;
export type NotificationChannel = (typeof notificationChannels)[number];

const severityListSchema = z
  .array(z.enum(severities))
  .max(severities.length)
  .refine((list) => new Set(list).size === list.length, { error: 'each severity once' })
  .meta({ description: 'The severities this channel brings; empty: none.' });

const clockTimeSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time of day HH:MM (00:00 to 23:59)' });

/** An IANA time zone the runtime knows (`Europe/Berlin`, `UTC`). */
export const timeZoneSchema = z
  .string()
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_+/-]{0,63}$/, { error: 'expected an IANA time zone' })
  .refine(
    (zone) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    },
    { error: 'unknown time zone' },
  );

export const quietHoursSchema = z
  .strictObject({
    start: clockTimeSchema.meta({ description: 'Local time quiet hours begin (HH:MM).' }),
    end: clockTimeSchema.meta({
      description: 'Local time they end (HH:MM); before start: overnight.',
    }),
    timeZone: timeZoneSchema.meta({ description: 'IANA time zone of start and end.' }),
  })
  .refine((hours) => hours.start !== hours.end, { error: 'start and end must differ' })
  .meta({ id: 'QuietHours' });
export type QuietHours = z.infer<typeof quietHoursSchema>;

/** The body of `PUT /api/technicians/{id}/notification-preferences`: the whole choice. */
export const notificationPreferencesInputSchema = z
  .strictObject({
    channels: z.strictObject({
      push: severityListSchema,
      email: severityListSchema,
      sms: severityListSchema,
    }),
    quietHours: quietHoursSchema.nullable().meta({
      description: 'While they last, only critical alerts reach this technician; null: none.',
    }),
  })
  .meta({ id: 'NotificationPreferencesInput' });
export type NotificationPreferences = z.infer<typeof notificationPreferencesInputSchema>;

/** The defaults: push and email for all, SMS for `smsSeverities` (the app's setting). */
export function defaultPreferences(smsSeverities: readonly Severity[]): NotificationPreferences {
  return {
    channels: { push: [...severities], email: [...severities], sms: [...smsSeverities] },
    quietHours: null,
  };
}

/** Minutes since local midnight of `at` in `timeZone`. */
function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const value = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  return value('hour') * 60 + value('minute');
}

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** Whether `at` falls in the quiet hours (start inclusive, end exclusive; may span midnight). */
export function inQuietHours(hours: QuietHours | null, at: Date): boolean {
  if (!hours) return false;
  const now = localMinutes(at, hours.timeZone);
  const start = minutesOf(hours.start);
  const end = minutesOf(hours.end);
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/**
 * Whether an alert of `severity` goes to this technician through `channel` at `at`: the
 * channel brings that severity, and quiet hours hold everything but critical alerts.
 */
export function wantsAlert(
  preferences: NotificationPreferences,
  channel: NotificationChannel,
  severity: Severity,
  at: Date,
): boolean {
  if (!preferences.channels[channel].includes(severity)) return false;
  return severity === 'critical' || !inQuietHours(preferences.quietHours, at);
}
