/** The pure rules of the fan-out: targets, client grants, delivery duties and outcomes. */
import { describe, expect, it } from 'vitest';
import type { Role } from '../../../lib/auth.js';
import {
  alertRecipients,
  alertTargets,
  clientGrant,
  pushTags,
} from '../../../lib/fanout/routing.js';
import { retryDelayMs, withOutcome } from '../../../lib/fanout/outbox.js';
import { nextDelivery, publicAlert, type Alert } from '../../../lib/telemetry/alerts.js';

const principal = (subject: string, ...roles: Role[]) => ({ subject, roles: new Set(roles) });

describe('alertTargets', () => {
  it('names the machine group, the dashboards group and each assigned user once', () => {
    expect(alertTargets('7', ['tech-b', 'tech-a', 'tech-b'])).toEqual([
      'group:equipment.7',
      'group:alerts',
      'user:tech-a',
      'user:tech-b',
    ]);
    expect(alertTargets('7', [])).toEqual(['group:equipment.7', 'group:alerts']);
  });

  it('adds the admins group once an escalation reached them', () => {
    expect(alertTargets('7', ['tech-a'], true)).toEqual([
      'group:equipment.7',
      'group:alerts',
      'group:admins',
      'user:tech-a',
    ]);
  });
});

describe('pushTags', () => {
  it("tags each person once, and the admins' devices once escalated", () => {
    expect(pushTags(['tech-b', 'tech-a', 'tech-b'])).toEqual(['user:tech-a', 'user:tech-b']);
    expect(pushTags([], true)).toEqual(['role:admin']);
  });
});

describe('alertRecipients', () => {
  it('adds the alert’s assignee to the equipment’s technicians, once', () => {
    expect(alertRecipients(['tech-a'], 'tech-z')).toEqual(['tech-a', 'tech-z']);
    expect(alertRecipients(['tech-a', 'tech-z'], 'tech-z')).toEqual(['tech-a', 'tech-z']);
    expect(alertRecipients([], 'tech-z')).toEqual(['tech-z']);
    expect(alertRecipients(['tech-a'], undefined)).toEqual(['tech-a']);
  });
});

describe('clientGrant', () => {
  it('lets admins watch the feed, be paged and open any machine, never send', () => {
    expect(clientGrant(principal('ada', 'Admin', 'Technician'), { kind: 'all' })).toEqual({
      userId: 'ada',
      groups: ['alerts', 'admins'],
      roles: ['webpubsub.joinLeaveGroup'],
    });
  });

  it("gives technicians exactly their machines' groups", () => {
    const grant = clientGrant(principal('ana', 'Technician'), {
      kind: 'assigned',
      technicianId: 4,
      equipmentIds: ['12', '11', '12'],
    });
    expect(grant).toEqual({
      userId: 'ana',
      groups: ['equipment.11', 'equipment.12'],
      roles: ['webpubsub.joinLeaveGroup.equipment.11', 'webpubsub.joinLeaveGroup.equipment.12'],
    });
    expect(grant.roles.some((r) => r.includes('sendToGroup'))).toBe(false);
  });

  it('gives a technician with no assignments nothing', () => {
    expect(
      clientGrant(principal('x', 'Technician'), {
        kind: 'assigned',
        technicianId: null,
        equipmentIds: [],
      }),
    ).toEqual({ userId: 'x', groups: [], roles: [] });
  });
});

const base = { id: 'a', version: 1 } as Alert;

describe('nextDelivery', () => {
  it('pushes, emails and texts raised and escalated alerts, not plain updates', () => {
    expect(nextDelivery(undefined, 'alert.raised', 1).pending).toEqual([
      'webPubSub',
      'push',
      'email',
      'sms',
      'webhooks',
    ]);
    const delivered = {
      ...base,
      delivery: { version: 1, type: 'alert.raised' as const, pending: [], attempts: 0 },
    };
    expect(nextDelivery(delivered, 'alert.escalated', 2).pending).toEqual([
      'webPubSub',
      'push',
      'email',
      'sms',
      'webhooks',
    ]);
    expect(nextDelivery(delivered, 'alert.updated', 2)).toEqual({
      version: 2,
      type: 'alert.updated',
      pending: ['webPubSub', 'webhooks'],
      attempts: 0,
    });
  });

  it('emails cleared and resolved alerts, without ringing phones', () => {
    const delivered = {
      ...base,
      delivery: { version: 1, type: 'alert.raised' as const, pending: [], attempts: 0 },
    };
    expect(nextDelivery(delivered, 'alert.cleared', 2).pending).toEqual([
      'webPubSub',
      'email',
      'webhooks',
    ]);
    expect(nextDelivery(delivered, 'alert.updated', 2, false, 'resolved').pending).toEqual([
      'webPubSub',
      'email',
      'webhooks',
    ]);
    expect(nextDelivery(delivered, 'alert.updated', 2, false, 'acknowledged').pending).toEqual([
      'webPubSub',
      'webhooks',
    ]);
  });

  it('keeps an email still owed on the next version', () => {
    const emailOwed = {
      ...base,
      delivery: {
        version: 1,
        type: 'alert.cleared' as const,
        pending: ['email:7'],
        attempts: 1,
      },
    };
    expect(nextDelivery(emailOwed, 'alert.updated', 2, false, 'acknowledged').pending).toEqual([
      'webPubSub',
      'email',
      'webhooks',
    ]);
  });

  it('keeps a version nobody received "raised", and a push still owed', () => {
    const unsent = {
      ...base,
      delivery: {
        version: 1,
        type: 'alert.raised' as const,
        pending: ['group:alerts'],
        attempts: 2,
      },
    };
    expect(nextDelivery(unsent, 'alert.updated', 2)).toEqual({
      version: 2,
      type: 'alert.raised',
      pending: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
      attempts: 0,
    });
    const pushOwed = {
      ...base,
      delivery: {
        version: 1,
        type: 'alert.escalated' as const,
        pending: ['push:apple'],
        attempts: 1,
      },
    };
    expect(nextDelivery(pushOwed, 'alert.updated', 2)).toMatchObject({
      type: 'alert.updated',
      pending: ['webPubSub', 'push', 'sms', 'webhooks'],
    });
  });
});

describe('withOutcome', () => {
  const owed: Alert = {
    ...base,
    delivery: { version: 1, type: 'alert.raised', pending: ['webPubSub', 'push'], attempts: 0 },
    deliveryPending: true,
  };

  it('clears the duty when everything arrived', () => {
    const done = withOutcome(owed, [], 0);
    expect(done.delivery).toEqual({ version: 1, type: 'alert.raised', pending: [], attempts: 0 });
    expect(done).not.toHaveProperty('deliveryPending');
  });

  it('keeps what failed, with a growing backoff', () => {
    const once = withOutcome(owed, ['group:alerts'], 1_000);
    expect(once.delivery).toMatchObject({ pending: ['group:alerts'], attempts: 1 });
    expect(once.delivery?.retryAt).toBe(new Date(1_000 + retryDelayMs(1)).toISOString());
    expect(once.deliveryPending).toBe(true);
    const twice = withOutcome(once, ['group:alerts'], 1_000);
    expect(twice.delivery?.attempts).toBe(2);
    expect(retryDelayMs(2)).toBeGreaterThan(retryDelayMs(1));
    expect(retryDelayMs(50)).toBe(300_000);
  });

  it('never shows the outbox to clients', () => {
    expect(publicAlert(owed)).toEqual({ id: 'a', version: 1 });
  });
});
