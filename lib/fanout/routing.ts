/**
 * Who receives what: the pure rules of the fan-out and of the client tokens, kept apart from
 * the services so every role and assignment case is tested directly.
 *
 * - Dashboards of admins join group `alerts`; anyone watching one machine joins
 *   `equipment.{id}`; every active technician assigned to a machine, and the technician an
 *   alert is assigned to, also gets it by user id, on every device they are signed in on.
 * - Admins' connections also join `admins`, which gets an alert only once an escalation step
 *   reached the admins (lib/telemetry/escalation.ts): an admin's app may leave the busy
 *   `alerts` feed and still be paged.
 * - Client tokens never carry a send role: clients only listen.
 */
import type { Role } from '../auth.js';

export const alertsGroup = 'alerts';

/** The group of admins, paged by escalation. */
export const adminsGroup = 'admins';

/** The push tag admins' devices register with, beside their `user:<subject>` tag. */
export const adminsPushTag = 'role:admin';

export function equipmentGroup(equipmentId: string): string {
  return `equipment.${equipmentId}`;
}

/**
 * The Web PubSub targets of one alert: `group:<name>` and `user:<id>`, without repeats, and
 * the `admins` group when an escalation reached them.
 */
export function alertTargets(
  equipmentId: string,
  assignedUserIds: readonly string[],
  admins = false,
): string[] {
  const users = [...new Set(assignedUserIds)].sort().map((user) => `user:${user}`);
  return [
    `group:${equipmentGroup(equipmentId)}`,
    `group:${alertsGroup}`,
    ...(admins ? [`group:${adminsGroup}`] : []),
    ...users,
  ];
}

/** An OData string literal: single quotes, a quote doubled (the service's filter syntax). */
function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The Web PubSub `filter` of one group send of an alert, so that each connection gets each
 * version once: connections of the people who get it by user (`user:<id>`, all their
 * devices) are left out of every group, and the admins' connections, which are in `alerts`
 * (and `admins`), are left out of the other groups they joined (an equipment channel opened
 * on demand; `admins` when the alert reached them by escalation). Undefined: nobody to
 * leave out. Filter syntax (`userId eq '…'`, `'<group>' in groups`, `not`, `or`): "OData
 * filter syntax in the Azure Web PubSub service"
 * (https://learn.microsoft.com/azure/azure-web-pubsub/reference-odata-filter: "used in the
 * Send to all, Send to group, and Send to user operations"); the stand-in implements the same
 * subset (dev/webpubsub/filter.ts).
 */
export function groupSendFilter(
  group: string,
  recipientUserIds: readonly string[],
  admins = false,
): string | undefined {
  const excluded = [...new Set(recipientUserIds)]
    .sort()
    .map((id) => `userId eq ${odataString(id)}`);
  if (group !== alertsGroup) excluded.push(`${odataString(alertsGroup)} in groups`);
  if (admins && group !== alertsGroup && group !== adminsGroup) {
    excluded.push(`${odataString(adminsGroup)} in groups`);
  }
  return excluded.length ? `not (${excluded.join(' or ')})` : undefined;
}

/** The push tags of one alert: its people's `user:<id>`, and the admins' tag when escalated. */
export function pushTags(userIds: readonly string[], admins = false): string[] {
  const users = [...new Set(userIds)].sort().map((user) => `user:${user}`);
  return admins ? [...users, adminsPushTag] : users;
}

/**
 * The people who get an alert by user: the technicians assigned to its equipment and the
 * technician the alert itself is assigned to (who may not be among them), without repeats.
 */
export function alertRecipients(
  equipmentUserIds: readonly string[],
  assigneeUserId: string | undefined,
): string[] {
  return [
    ...new Set(
      assigneeUserId === undefined ? equipmentUserIds : [...equipmentUserIds, assigneeUserId],
    ),
  ];
}

/** What a user may see: everything (admins) or the equipment they are assigned to. */
export type AccessScope =
  { kind: 'all' } | { kind: 'assigned'; technicianId: number | null; equipmentIds: string[] };

/** What a negotiated client token carries. */
export interface ClientGrant {
  userId: string;
  /** Joined on connect. */
  groups: string[];
  roles: string[];
}

export function clientGrant(
  principal: { subject: string; roles: ReadonlySet<Role> },
  scope: AccessScope,
): ClientGrant {
  if (scope.kind === 'all') {
    // Admins watch the whole feed and may open any machine's channel on demand.
    return {
      userId: principal.subject,
      groups: [alertsGroup, adminsGroup],
      roles: ['webpubsub.joinLeaveGroup'],
    };
  }
  const groups = [...new Set(scope.equipmentIds)].sort().map(equipmentGroup);
  // Rejoining one's own groups (after a reconnect) is allowed; nothing else.
  return {
    userId: principal.subject,
    groups,
    roles: groups.map((group) => `webpubsub.joinLeaveGroup.${group}`),
  };
}
