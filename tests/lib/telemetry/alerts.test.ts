import { describe, expect, it } from 'vitest';
import {
  alertId,
  applyBreach,
  applyClearance,
  applyCalm,
  canTransition,
  equipmentIdOfAlert,
  publicAlert,
  statusAfter,
  type Alert,
} from '../../../lib/telemetry/alerts.js';
import {
  gradeWindow,
  defaultSeverityRules,
  rulesFor,
  type Breach,
} from '../../../lib/telemetry/severity.js';

const w0 = Date.UTC(2026, 10, 24, 8, 0);
const w1 = w0 + 300_000;
const w2 = w1 + 300_000;
const summary = { readings: 1, metrics: { temperature: { count: 1, min: 1, max: 1, mean: 1 } } };
const rules = rulesFor(defaultSeverityRules);

function breach(mean: number): Breach {
  const found = gradeWindow({ temperature: mean }, rules).breaches[0];
  if (!found) throw new Error(`no breach at ${mean}`);
  return found;
}

describe('applyBreach: equipment in maintenance', () => {
  it('owes nothing while suppressed, and owes what was withheld once maintenance is over', () => {
    const muted = applyBreach(undefined, 'E1', w0, summary, breach(82), true) as Alert;
    expect(muted.suppressed).toEqual({ reason: 'maintenance' });
    expect(muted.delivery).toEqual({
      version: 1,
      type: 'alert.raised',
      pending: [],
      attempts: 0,
      withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
    });
    expect(muted.deliveryPending).toBeUndefined();
    // Still muted: the raise nobody received stays withheld, as raised.
    const stillMuted = applyBreach(muted, 'E1', w1, summary, breach(82), true) as Alert;
    expect(stillMuted.delivery).toMatchObject({ type: 'alert.raised', pending: [] });
    // Maintenance over: an update of an alert nobody received is delivered as raised, with push.
    const delivered = applyBreach(stillMuted, 'E1', w2, summary, breach(82), false) as Alert;
    expect(delivered.suppressed).toBeUndefined();
    expect(delivered.delivery).toEqual({
      version: 3,
      type: 'alert.raised',
      pending: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
      attempts: 0,
    });
    expect(delivered.deliveryPending).toBe(true);
  });

  it('mutes an alert people already received from its next window in maintenance', () => {
    const received: Alert = {
      ...(applyBreach(undefined, 'E1', w0, summary, breach(82)) as Alert),
      delivery: { version: 1, type: 'alert.raised', pending: [], attempts: 0 },
    };
    delete received.deliveryPending;
    const muted = applyBreach(received, 'E1', w1, summary, breach(82), true) as Alert;
    expect(muted).toMatchObject({ suppressed: { reason: 'maintenance' }, occurrences: 2 });
    expect(muted.delivery).toMatchObject({ type: 'alert.updated', pending: [] });
    const after = applyBreach(muted, 'E1', w2, summary, breach(82)) as Alert;
    expect(after.delivery).toMatchObject({
      type: 'alert.updated',
      pending: ['webPubSub', 'webhooks'],
    });
  });
});

describe('applyBreach', () => {
  it('opens an alert with a deterministic id, raised at the end of its window', () => {
    const alert = applyBreach(undefined, 'E1', w0, summary, breach(95));
    expect(alert).toMatchObject({
      id: alertId('E1', 'temperature', w0),
      status: 'open',
      severity: 'critical',
      occurrences: 1,
      raisedAt: new Date(w1).toISOString(),
    });
    expect(alert?.id).toBe('E1:temperature:2026-11-24T08:00:00.000Z');
  });

  it('folds later windows into the open alert, escalating but never de-escalating', () => {
    const first = applyBreach(undefined, 'E1', w0, summary, breach(82)) as Alert;
    const second = applyBreach(first, 'E1', w1, summary, breach(95)) as Alert;
    expect(second).toMatchObject({ id: first.id, severity: 'critical', occurrences: 2 });
    const third = applyBreach(second, 'E1', w2, summary, breach(76)) as Alert;
    expect(third).toMatchObject({ id: first.id, severity: 'critical', occurrences: 3 });
    expect(third.breach.severity).toBe('medium');
    expect(third.lastWindowStart).toBe(new Date(w2).toISOString());
  });

  it('ignores a window it already holds (a re-emission after a crash)', () => {
    const first = applyBreach(undefined, 'E1', w1, summary, breach(95)) as Alert;
    expect(applyBreach(first, 'E1', w1, summary, breach(95))).toBeUndefined();
    expect(applyBreach(first, 'E1', w0, summary, breach(95))).toBeUndefined();
  });

  it('keeps updating an acknowledged alert, and opens a new one after resolution', () => {
    const first = applyBreach(undefined, 'E1', w0, summary, breach(95)) as Alert;
    const acknowledged = applyBreach(
      { ...first, status: 'acknowledged' },
      'E1',
      w1,
      summary,
      breach(95),
    );
    expect(acknowledged).toMatchObject({ id: first.id, status: 'acknowledged', occurrences: 2 });
    const reopened = applyBreach({ ...first, status: 'resolved' }, 'E1', w1, summary, breach(95));
    expect(reopened).toMatchObject({
      id: alertId('E1', 'temperature', w1),
      status: 'open',
      occurrences: 1,
    });
  });
});

describe('re-grading a window another partition contributed to', () => {
  const merged = { readings: 2, metrics: { temperature: { count: 2, min: 1, max: 2, mean: 1.5 } } };

  it('replaces the last window in place: no extra occurrence, severity over the windows before', () => {
    const first = applyBreach(undefined, 'E1', w0, summary, breach(82)) as Alert;
    const partial = applyBreach(first, 'E1', w1, summary, breach(95)) as Alert;
    expect(partial).toMatchObject({ severity: 'critical', occurrences: 2 });
    const regraded = applyBreach(partial, 'E1', w1, merged, breach(77)) as Alert;
    expect(regraded).toMatchObject({
      id: first.id,
      severity: 'high',
      occurrences: 2,
      lastWindowStart: new Date(w1).toISOString(),
      window: { summary: merged },
    });
    expect(regraded.breach.severity).toBe('medium');
    // The same contribution again changes nothing.
    expect(applyBreach(regraded, 'E1', w1, merged, breach(77))).toBeUndefined();
    expect(publicAlert(regraded)).not.toHaveProperty('beforeLastWindow');
  });

  it('takes the last window back when it no longer breaches, and withdraws an alert it raised', () => {
    const first = applyBreach(undefined, 'E1', w0, summary, breach(82)) as Alert;
    const second = applyBreach(first, 'E1', w1, summary, breach(95)) as Alert;
    const reverted = applyClearance(second, w1, merged) as Alert;
    expect(reverted).toMatchObject({
      severity: 'high',
      occurrences: 1,
      lastWindowStart: first.lastWindowStart,
      breach: first.breach,
      status: 'open',
    });
    expect(applyClearance(reverted, w1, merged)).toBeUndefined();

    const withdrawn = applyClearance(first, w0, merged) as Alert;
    expect(withdrawn).toMatchObject({
      id: first.id,
      status: 'resolved',
      withdrawn: true,
      resolvedAt: new Date(w1).toISOString(),
    });
    expect(applyClearance(withdrawn, w0, merged)).toBeUndefined();
    // A third partition's readings make it breach again: reinstated, not raised twice.
    const reinstated = applyBreach(withdrawn, 'E1', w0, merged, breach(85)) as Alert;
    expect(reinstated).toMatchObject({ id: first.id, status: 'open', occurrences: 1 });
    expect(reinstated).not.toHaveProperty('withdrawn');
    expect(reinstated).not.toHaveProperty('resolvedAt');
  });

  it('leaves alerts a person resolved, and windows older than the last, alone', () => {
    const first = applyBreach(undefined, 'E1', w1, summary, breach(95)) as Alert;
    const resolved: Alert = { ...first, status: 'resolved', resolvedBy: 'tech-alice' };
    expect(applyBreach(resolved, 'E1', w1, merged, breach(99))).toBeUndefined();
    expect(applyClearance(resolved, w1, merged)).toBeUndefined();
    expect(applyClearance(first, w0, merged)).toBeUndefined();
  });
});

describe('canTransition', () => {
  it('allows open → acknowledged → resolved and open → resolved only', () => {
    expect(canTransition('open', 'acknowledged')).toBe(true);
    expect(canTransition('open', 'resolved')).toBe(true);
    expect(canTransition('acknowledged', 'resolved')).toBe(true);
    expect(canTransition('acknowledged', 'open')).toBe(false);
    expect(canTransition('resolved', 'acknowledged')).toBe(false);
    expect(canTransition('resolved', 'open')).toBe(false);
  });

  it('lets people acknowledge (status stays cleared) or resolve a cleared alert, never clear one', () => {
    expect(canTransition('cleared', 'acknowledged')).toBe(true);
    expect(statusAfter('cleared', 'acknowledged')).toBe('cleared');
    expect(canTransition('cleared', 'resolved')).toBe(true);
    expect(statusAfter('cleared', 'resolved')).toBe('resolved');
    expect(canTransition('cleared', 'open')).toBe(false);
    for (const from of ['open', 'acknowledged', 'resolved'] as const) {
      expect(canTransition(from, 'cleared')).toBe(false);
    }
  });
});

describe('applyCalm: hysteresis', () => {
  const w3 = w2 + 300_000;
  const w4 = w3 + 300_000;
  const clear = { direction: 'above', clear: 70 } as const;
  const pressureClear = { direction: 'below', clear: 13 } as const;
  /** A delivered alert raised at w0 (so deliveries below are the change's own). */
  const raised = (): Alert => {
    const alert = applyBreach(undefined, 'E1', w0, summary, breach(82)) as Alert;
    const { deliveryPending: _pending, ...rest } = alert;
    return { ...rest, delivery: { version: 1, type: 'alert.raised', pending: [], attempts: 0 } };
  };

  it('clears after two consecutive windows inside the clear threshold, with the clearing window', () => {
    const first = applyCalm(raised(), w1, summary, 65, clear, 2) as Alert;
    // Counting is bookkeeping: same version, nothing owed, no timeline entry.
    expect(first).toMatchObject({
      status: 'open',
      version: 1,
      normalStreak: { windows: 1, lastWindowStart: new Date(w1).toISOString() },
    });
    expect(first.timeline).toEqual(raised().timeline);
    expect(publicAlert(first)).not.toHaveProperty('normalStreak');
    const cleared = applyCalm(first, w2, summary, 69.9, clear, 2) as Alert;
    expect(cleared).toMatchObject({
      status: 'cleared',
      version: 2,
      clearedAt: new Date(w3).toISOString(),
      clearedWindowStart: new Date(w2).toISOString(),
      delivery: { type: 'alert.cleared', pending: ['webPubSub', 'email', 'webhooks'] },
    });
    expect(cleared.normalStreak).toBeUndefined();
    expect(cleared.timeline?.at(-1)).toMatchObject({
      action: 'cleared',
      from: 'open',
      by: 'pipeline',
      at: new Date(w3).toISOString(),
    });
    // A cleared alert takes no more normal windows, and a replay of either window is a no-op.
    expect(applyCalm(cleared, w3, summary, 60, clear, 2)).toBeUndefined();
    expect(applyCalm(first, w1, summary, 65, clear, 2)).toBeUndefined();
  });

  it('restarts the count on a window between the clear threshold and medium', () => {
    const first = applyCalm(raised(), w1, summary, 65, clear, 2) as Alert;
    const between = applyCalm(first, w2, summary, 72, clear, 2) as Alert;
    expect(between).toMatchObject({ status: 'open', normalStreak: { windows: 0 } });
    // Exactly on the clear threshold is not inside it (strict, like raising).
    const onTheLine = applyCalm(between, w3, summary, 70, clear, 2) as Alert;
    expect(onTheLine).toMatchObject({ status: 'open', normalStreak: { windows: 0 } });
    // A late re-grade of the window counted before the reset changes nothing.
    expect(applyCalm(onTheLine, w1, summary, 65, clear, 2)).toBeUndefined();
    const again = applyCalm(onTheLine, w4, summary, 65, clear, 2) as Alert;
    expect(again).toMatchObject({ status: 'open', normalStreak: { windows: 1 } });
  });

  it('treats pressure as lower-is-worse, skips windows without the metric, and leaves others', () => {
    const alert = raised();
    expect(applyCalm(alert, w1, summary, 12.5, pressureClear, 1)).toMatchObject({
      normalStreak: { windows: 0 },
    });
    expect(applyCalm(alert, w1, summary, 13.5, pressureClear, 1)).toMatchObject({
      status: 'cleared',
    });
    expect(applyCalm(alert, w1, summary, undefined, clear, 1)).toBeUndefined();
    expect(applyCalm(alert, w0, summary, 60, clear, 1)).toBeUndefined();
    expect(applyCalm(undefined, w1, summary, 60, clear, 1)).toBeUndefined();
    const resolved: Alert = { ...alert, status: 'resolved' };
    expect(applyCalm(resolved, w1, summary, 60, clear, 1)).toBeUndefined();
  });

  it('clears an acknowledged alert too, keeping who acknowledged it', () => {
    const acknowledged: Alert = {
      ...raised(),
      status: 'acknowledged',
      acknowledgedBy: 'tech-alice',
      acknowledgedAt: new Date(w1).toISOString(),
    };
    const cleared = applyCalm(acknowledged, w1, summary, 60, clear, 1) as Alert;
    expect(cleared).toMatchObject({ status: 'cleared', acknowledgedBy: 'tech-alice' });
  });

  it('a breach resets the count', () => {
    const first = applyCalm(raised(), w1, summary, 65, clear, 2) as Alert;
    const breached = applyBreach(first, 'E1', w2, summary, breach(78)) as Alert;
    expect(breached.normalStreak).toBeUndefined();
    expect(applyCalm(breached, w3, summary, 65, clear, 2)).toMatchObject({
      status: 'open',
      normalStreak: { windows: 1 },
    });
  });

  describe('flapping', () => {
    const cleared = (acknowledged = false): Alert => {
      const base = raised();
      const alert = acknowledged
        ? {
            ...base,
            status: 'acknowledged' as const,
            acknowledgedBy: 'tech-alice',
            acknowledgedAt: new Date(w1).toISOString(),
            acknowledgementNote: 'on it',
          }
        : base;
      const done = applyCalm(alert, w1, summary, 60, clear, 1) as Alert;
      const { deliveryPending: _pending, ...rest } = done;
      return { ...rest, delivery: { version: 2, type: 'alert.cleared', pending: [], attempts: 0 } };
    };
    const flapWindowMs = 30 * 60_000;

    it('reopens the same alert within the flap window, counting the flap', () => {
      const alert = cleared();
      const reopened = applyBreach(
        alert,
        'E1',
        w2,
        summary,
        breach(78),
        false,
        flapWindowMs,
      ) as Alert;
      expect(reopened).toMatchObject({
        id: alert.id,
        status: 'open',
        flapCount: 1,
        occurrences: 2,
        severity: 'high', // never silently de-escalates
        lastWindowStart: new Date(w2).toISOString(),
        delivery: { type: 'alert.reopened', pending: ['webPubSub', 'webhooks'] },
      });
      expect(reopened.clearedAt).toBeUndefined();
      expect(reopened.clearedWindowStart).toBeUndefined();
      expect(reopened.timeline?.at(-1)).toMatchObject({
        action: 'reopened',
        from: 'cleared',
        to: '1',
        at: new Date(w3).toISOString(),
      });
      // Replaying the reopening window changes nothing.
      expect(
        applyBreach(reopened, 'E1', w2, summary, breach(78), false, flapWindowMs),
      ).toBeUndefined();
      // Clears and flaps again: the count goes on.
      const again = applyCalm(reopened, w3, summary, 60, clear, 1) as Alert;
      const twice = applyBreach(again, 'E1', w4, summary, breach(95), false, flapWindowMs) as Alert;
      expect(twice).toMatchObject({ flapCount: 2, severity: 'critical', status: 'open' });
      expect(twice.delivery?.type).toBe('alert.escalated');
    });

    it('rings phones for a reopening only when someone had acknowledged the alert', () => {
      const alert = cleared(true);
      const reopened = applyBreach(
        alert,
        'E1',
        w2,
        summary,
        breach(78),
        false,
        flapWindowMs,
      ) as Alert;
      expect(reopened.delivery).toMatchObject({
        type: 'alert.reopened',
        pending: ['webPubSub', 'push', 'sms', 'webhooks'],
      });
      // It needs someone again: the acknowledgement is dropped (the timeline keeps it).
      expect(reopened.acknowledgedBy).toBeUndefined();
      expect(reopened.acknowledgementNote).toBeUndefined();
      expect(reopened.status).toBe('open');
    });

    it('opens a new alert for a breach after the flap window, measured from the clearing window end', () => {
      const alert = cleared(); // cleared by w1, which ends at w2
      const atEdge = w2 + flapWindowMs;
      expect(
        applyBreach(alert, 'E1', atEdge, summary, breach(78), false, flapWindowMs),
      ).toMatchObject({
        id: alert.id,
        flapCount: 1,
      });
      const later = applyBreach(
        alert,
        'E1',
        atEdge + 300_000,
        summary,
        breach(78),
        false,
        flapWindowMs,
      ) as Alert;
      expect(later).toMatchObject({
        id: alertId('E1', 'temperature', atEdge + 300_000),
        status: 'open',
        version: 1,
      });
      expect(later.flapCount).toBeUndefined();
    });
  });
});

describe('equipmentIdOfAlert', () => {
  it('finds the equipment id, which may itself contain colons', () => {
    expect(equipmentIdOfAlert('7:temperature:2026-11-24T08:00:00.000Z')).toBe('7');
    expect(equipmentIdOfAlert('site:a.b-7:pressure:2026-11-24T08:05:00.000Z')).toBe('site:a.b-7');
  });

  it.each([
    'x#y:temperature:2026-11-24T08:00:00.000Z',
    'x\\\\y:temperature:2026-11-24T08:00:00.000Z',
    'x?y:temperature:2026-11-24T08:00:00.000Z',
    '7:humidity:2026-11-24T08:00:00.000Z',
    '7:temperature:2026-11-24',
    ':temperature:2026-11-24T08:00:00.000Z',
  ])('refuses %s', (id) => {
    expect(equipmentIdOfAlert(id)).toBeUndefined();
  });
});
