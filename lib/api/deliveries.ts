/**
 * `GET /api/alerts/{id}/deliveries`: the delivery log of one alert (lib/fanout/deliveryLog.ts),
 * newest first. Admins see every entry; a technician sees only what reached them (their user
 * id, their email and SMS, the pushes to their devices), with addresses masked, and only on
 * alerts they may see.
 */
import type { SqlParameter } from '@azure/cosmos';
import type { Principal } from '../auth.js';
import { accessScope } from '../fanout/audience.js';
import type { DeliveryEntry } from '../fanout/deliveryLog.js';
import type { Page, PageRequest } from '../paging.js';
import { keysetPage } from '../telemetry/queries.js';
import { readAlert, requireVisibleAlertId, type AlertReadServices } from './alerts.js';
import type { Delivery } from './deliverySchemas.js';

/** `jane@example.com` → `j***@example.com`. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address.charAt(0)}***${address.slice(at)}`;
}

/** `+14155554567` → `+*******4567`: the last four digits stay. */
export function maskPhone(number: string): string {
  const digits = number.replace(/\D/g, '');
  const kept = digits.slice(-4);
  return `${number.startsWith('+') ? '+' : ''}${'*'.repeat(Math.max(0, digits.length - kept.length))}${kept}`;
}

const emailLike = /^[^\s@]+@[^\s@]+$/;
const phoneLike = /^\+?[\d\s().-]{6,}$/;

/** A recipient as a non-admin sees it: addresses masked, push tags cut to their own. */
function recipientFor(entry: DeliveryEntry, subject: string): string {
  if (entry.channel === 'push') return `${entry.target.slice('push:'.length)}: user:${subject}`;
  if (emailLike.test(entry.recipient)) return maskEmail(entry.recipient);
  if (phoneLike.test(entry.recipient)) return maskPhone(entry.recipient);
  return entry.recipient;
}

function publicDelivery(
  entry: DeliveryEntry,
  deliveryVersion: number | undefined,
  viewer: { subject: string } | undefined,
): Delivery {
  // A newer version inherits what an older one still owed (lib/telemetry/alerts.ts
  // `nextDelivery`): the older entry's retry will never come.
  const superseded =
    entry.status === 'pending-retry' &&
    deliveryVersion !== undefined &&
    deliveryVersion > entry.version;
  return {
    id: entry.id,
    alertId: entry.alertId,
    version: entry.version,
    eventType: entry.eventType,
    target: entry.target,
    channel: entry.channel,
    recipient: viewer ? recipientFor(entry, viewer.subject) : entry.recipient,
    status: superseded ? 'failed' : entry.status,
    attempts: entry.attempts,
    firstAttemptAt: entry.firstAttemptAt,
    lastAttemptAt: entry.lastAttemptAt,
    ...(entry.providerMessageId === undefined
      ? {}
      : { providerMessageId: entry.providerMessageId }),
    ...(entry.lastError === undefined ? {} : { lastError: entry.lastError }),
  };
}

/** One page of an alert's deliveries the caller may see (404 for an alert they may not). */
export async function listVisibleDeliveries(
  services: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
  page: PageRequest,
): Promise<Page<Delivery>> {
  const id = await requireVisibleAlertId(services, principal, rawId);
  // Also the 404 for an admin asking about an alert that does not exist.
  const { alert } = await readAlert(services.telemetryDatabase, id);
  // The partition key scopes the query in Azure; the condition keeps it scoped anywhere.
  const conditions: string[] = ['c.alertId = @alertId'];
  const parameters: SqlParameter[] = [{ name: '@alertId', value: id }];
  const scope = await accessScope(services.pool, principal);
  if (scope.kind !== 'all') {
    const ownTargets = [`user:${principal.subject}`];
    if (scope.technicianId !== null) {
      ownTargets.push(`email:${scope.technicianId}`, `sms:${scope.technicianId}`);
    }
    conditions.push(
      '(ARRAY_CONTAINS(@ownTargets, c.target) OR ARRAY_CONTAINS(c.userIds, @subject))',
    );
    parameters.push(
      { name: '@ownTargets', value: ownTargets },
      { name: '@subject', value: principal.subject },
    );
  }
  const found = await keysetPage<DeliveryEntry>(
    services.telemetryDatabase.container('deliveries'),
    'firstAttemptAt',
    conditions,
    parameters,
    page,
    id,
  );
  const viewer = scope.kind === 'all' ? undefined : { subject: principal.subject };
  return {
    nextCursor: found.nextCursor,
    items: found.items.map((entry) => publicDelivery(entry, alert.delivery?.version, viewer)),
  };
}
