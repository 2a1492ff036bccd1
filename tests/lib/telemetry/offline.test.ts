import { describe, expect, it } from 'vitest';
import { equipmentIdOfAlert } from '../../../lib/telemetry/alerts.js';
import {
  backOnline,
  isSilent,
  mergePresence,
  offlineTimeoutOf,
  offlineTimeoutSettingSchema,
  presenceOf,
  presenceRetentionMs,
  raiseOffline,
  type SilentEquipment,
} from '../../../lib/telemetry/offline.js';
import { parseEvents } from '../../../lib/telemetry/partition.js';

const minute = 60_000;
const t0 = Date.parse('2026-11-30T10:00:00.000Z');
const silent: SilentEquipment = {
  equipmentId: '7',
  lastSeenMs: t0 + 3 * minute,
  timeoutMinutes: 15,
  statusBefore: 'Operational',
  suppressed: false,
  lastWindowSummary: { readings: 0, metrics: {} },
};

describe('presence', () => {
  it('keeps each equipment’s newest enqueued minute in a batch', () => {
    const reading = (equipmentId: string, at: number) => ({
      equipmentId,
      timestamp: new Date(at).toISOString(),
      temperature: 50,
    });
    const events = [
      { body: reading('7', t0 + 10_000), sequenceNumber: 1, enqueuedTimeMs: t0 + 10_000 },
      {
        body: [reading('7', t0 + 70_000), reading('8', t0 + 70_000)],
        sequenceNumber: 2,
        enqueuedTimeMs: t0 + 70_000,
      },
      { body: { not: 'a reading' }, sequenceNumber: 3, enqueuedTimeMs: t0 + 200_000 },
    ];
    const parsed = parseEvents(events, { allowedLatenessMs: 60_000, futureToleranceMs: 60_000 });
    expect(presenceOf(parsed)).toEqual({ '7': t0 + minute, '8': t0 + minute });
  });

  it('max-merges, and reports no change when nothing is newer (no write needed)', () => {
    const merged = mergePresence({ '7': t0 + minute, '8': t0 }, { '7': t0, '9': t0 });
    expect(merged).toEqual({ presence: { '7': t0 + minute, '8': t0, '9': t0 }, changed: true });
    expect(mergePresence(merged.presence, { '7': t0 + minute }).changed).toBe(false);
  });

  it('drops machines unseen for the retention period when it writes', () => {
    const later = t0 + presenceRetentionMs;
    expect(mergePresence({ '7': t0, '8': t0 - 1 }, { '9': later }).presence).toEqual({
      '7': t0,
      '9': later,
    });
  });
});

describe('timeouts', () => {
  it('take the machine’s own, else its type’s, else the default', () => {
    const timeouts = offlineTimeoutSettingSchema.parse({ types: { Compressor: 30 } });
    expect(offlineTimeoutOf(timeouts, { type: 'Compressor', offlineTimeoutMinutes: 5 })).toBe(5);
    expect(offlineTimeoutOf(timeouts, { type: 'Compressor', offlineTimeoutMinutes: null })).toBe(
      30,
    );
    expect(offlineTimeoutOf(timeouts, { type: 'Pump', offlineTimeoutMinutes: null })).toBe(15);
  });

  it('refuses timeouts out of range and unknown keys', () => {
    expect(offlineTimeoutSettingSchema.safeParse({ default: 0 }).success).toBe(false);
    expect(offlineTimeoutSettingSchema.safeParse({ types: { Pump: 10_081 } }).success).toBe(false);
    expect(offlineTimeoutSettingSchema.safeParse({ Pump: 5 }).success).toBe(false);
  });

  it('allow two minutes of slack: the last-seen minute and presence held back', () => {
    expect(isSilent(t0, 15, t0 + 17 * minute - 1)).toBe(false);
    expect(isSilent(t0, 15, t0 + 17 * minute)).toBe(true);
  });
});

describe('raiseOffline', () => {
  it('opens one offline alert, dated from the presence, never the clock', () => {
    const alert = raiseOffline(undefined, silent);
    expect(alert).toMatchObject({
      id: '7:offline:2026-11-30T10:03:00.000Z',
      metric: 'offline',
      status: 'open',
      raisedAt: '2026-11-30T10:20:00.000Z',
      window: { start: '2026-11-30T10:00:00.000Z', end: '2026-11-30T10:05:00.000Z' },
      breach: { metric: 'offline', mean: 17, threshold: 15, unit: 'min' },
      offline: {
        lastSeenAt: '2026-11-30T10:03:00.000Z',
        timeoutMinutes: 15,
        statusBefore: 'Operational',
      },
      delivery: {
        type: 'alert.raised',
        pending: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
      },
    });
    expect(alert?.timeline?.map((e) => e.action)).toEqual(['raised']);
    expect(equipmentIdOfAlert(alert?.id ?? '')).toBe('7');
    // Two timers finding the same silence build the same document.
    expect(raiseOffline(undefined, silent)).toEqual(alert);
  });

  it('writes nothing while an offline alert is unresolved, or for a silence a person resolved', () => {
    const alert = raiseOffline(undefined, silent);
    if (!alert) throw new Error('expected an alert');
    expect(raiseOffline(alert, silent)).toBeUndefined();
    expect(
      raiseOffline(
        { ...alert, status: 'acknowledged' },
        { ...silent, lastSeenMs: t0 + 30 * minute },
      ),
    ).toBeUndefined();
    const resolved = { ...alert, status: 'resolved' as const };
    expect(raiseOffline(resolved, silent)).toBeUndefined();
    expect(raiseOffline(resolved, { ...silent, lastSeenMs: t0 + 40 * minute })?.id).toBe(
      '7:offline:2026-11-30T10:40:00.000Z',
    );
  });

  it('stores the alert muted for a machine in maintenance, owing nothing', () => {
    const alert = raiseOffline(undefined, {
      ...silent,
      suppressed: { reason: 'maintenance' },
      statusBefore: null,
    });
    expect(alert).toMatchObject({
      suppressed: { reason: 'maintenance' },
      offline: { statusBefore: null },
      delivery: { pending: [], withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'] },
    });
    expect(alert?.deliveryPending).toBeUndefined();
  });
});

describe('backOnline', () => {
  const alert = raiseOffline(undefined, silent);
  if (!alert) throw new Error('expected an alert');

  it('resolves the alert at the first minute back, by the pipeline', () => {
    expect(backOnline(alert, silent.lastSeenMs)).toBeUndefined();
    expect(backOnline(alert, undefined)).toBeUndefined();
    const back = backOnline(alert, t0 + 25 * minute);
    expect(back).toMatchObject({
      version: 2,
      status: 'resolved',
      resolvedAt: '2026-11-30T10:25:00.000Z',
      resolvedBy: 'pipeline',
      offline: { backOnlineAt: '2026-11-30T10:25:00.000Z' },
    });
    expect(back?.timeline?.slice(-2).map((e) => [e.action, e.by, e.at])).toEqual([
      ['resolved', 'pipeline', '2026-11-30T10:25:00.000Z'],
      ['back-online', 'pipeline', '2026-11-30T10:25:00.000Z'],
    ]);
    if (!back) throw new Error('expected a version');
    expect(backOnline(back, t0 + 30 * minute)).toBeUndefined();
  });

  it('keeps a person’s resolution and only records the return', () => {
    const byPerson = {
      ...alert,
      status: 'resolved' as const,
      resolvedAt: '2026-11-30T10:21:00.000Z',
      resolvedBy: 'admin-ada',
    };
    expect(backOnline(byPerson, t0 + 25 * minute)).toMatchObject({
      resolvedBy: 'admin-ada',
      resolvedAt: '2026-11-30T10:21:00.000Z',
      offline: { backOnlineAt: '2026-11-30T10:25:00.000Z' },
    });
  });
});
