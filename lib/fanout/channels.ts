/**
 * Email and SMS as delivery channels of the fan-out (lib/fanout/deliverer.ts). An alert
 * version owes the duty `email` or `sms` (lib/telemetry/alerts.ts `nextDelivery`); its first
 * attempt expands the duty into one target per technician who wants it now —
 * `email:<technicianId>`, `sms:<technicianId>` — by their preferences and quiet hours at that
 * moment. Each target is then sent, and retried by the sweep until it arrives, like every
 * other target; one that arrived is never sent again. A retried email names the same send
 * operation (`Operation-Id` from the alert version and technician), so even a send whose
 * answer was lost is not sent twice.
 */
import type { Alert, AlertEventType } from '../telemetry/alerts.js';
import type { Severity } from '../telemetry/severity.js';
import { alertEmail, alertLink, alertSms } from './channelMessages.js';
import type { EmailSender, SmsSender } from './communication.js';
import type { DeliveryReceipt } from './deliveryLog.js';
import { nameBasedUuid } from './communication.js';
import type { Contact, ContactDirectory } from './contacts.js';
import { defaultPreferences, wantsAlert, type NotificationChannel } from './preferences.js';

/** The duties of this module, and the prefixes of their targets. */
export const channelDuties = ['email', 'sms'] as const;
export type ChannelDuty = (typeof channelDuties)[number];

export interface AlertChannel {
  /** The targets (`<duty>:<technicianId>`) the duty expands to for this alert now. */
  targets(alert: Alert, type: AlertEventType): Promise<string[]>;
  /** Sends to one technician; throws when it did not arrive (retried later). */
  send(
    technicianId: string,
    alert: Alert,
    type: AlertEventType,
    signal: AbortSignal,
  ): Promise<DeliveryReceipt>;
}

export type AlertChannels = Partial<Record<ChannelDuty, AlertChannel>>;

export interface AlertChannelsOptions {
  directory: ContactDirectory;
  email?: EmailSender | undefined;
  sms?: SmsSender | undefined;
  /** Severities by SMS for technicians with no preferences of their own. */
  smsSeverities: readonly Severity[];
  /** The app's public origin, for the dashboard link. */
  publicUrl?: string | undefined;
  now?: () => number;
}

export function createAlertChannels(options: AlertChannelsOptions): AlertChannels {
  const now = options.now ?? Date.now;
  const defaults = defaultPreferences(options.smsSeverities);
  const wants = (contact: Contact, channel: NotificationChannel, alert: Alert) =>
    wantsAlert(contact.preferences ?? defaults, channel, alert.severity, new Date(now()));

  async function technician(id: string): Promise<Contact | undefined> {
    if (!/^[1-9]\d{0,18}$/.test(id)) throw new Error(`Bad technician id ${id}`);
    return options.directory.contact(Number(id));
  }

  const channels: AlertChannels = {};
  const { email, sms } = options;
  if (email) {
    channels.email = {
      async targets(alert) {
        const contacts = await options.directory.alertContacts(
          alert.equipmentId,
          alert.assigneeTechnicianId,
        );
        return contacts
          .filter((contact) => wants(contact, 'email', alert))
          .map((contact) => `email:${contact.technicianId}`);
      },
      async send(id, alert, type, signal) {
        const contact = await technician(id);
        // Gone or deactivated since the duty was expanded: owed nothing any more.
        if (!contact) return {};
        const equipment = await options.directory.equipment(alert.equipmentId);
        const content = alertEmail(alert, type, equipment, alertLink(options.publicUrl, alert));
        return email.send(
          { to: { address: contact.email, displayName: contact.name }, ...content },
          nameBasedUuid(`${alert.id}|${alert.version}|email|${contact.technicianId}`),
          signal,
        );
      },
    };
  }
  if (sms) {
    channels.sms = {
      async targets(alert) {
        const contacts = await options.directory.alertContacts(
          alert.equipmentId,
          alert.assigneeTechnicianId,
        );
        return contacts
          .filter((contact) => contact.phone !== null && wants(contact, 'sms', alert))
          .map((contact) => `sms:${contact.technicianId}`);
      },
      async send(id, alert, type, signal) {
        const contact = await technician(id);
        if (!contact?.phone) return {};
        const equipment = await options.directory.equipment(alert.equipmentId);
        return sms.send(
          contact.phone,
          alertSms(alert, type, equipment, alertLink(options.publicUrl, alert)),
          signal,
        );
      },
    };
  }
  return channels;
}
