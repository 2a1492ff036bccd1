import { describe, expect, it } from 'vitest';
import { applyBreach, type Alert } from '../../../lib/telemetry/alerts.js';
import { defaultSeverityRules, gradeWindow, rulesFor } from '../../../lib/telemetry/severity.js';
import { silenceHolding, type SilenceRule } from '../../../lib/telemetry/silences.js';

const at = (hhmm: string) => Date.parse(`2026-08-02T${hhmm}:00Z`);
const alertId = '7:temperature:2026-08-02T09:00:00.000Z';

const silence = (overrides: Partial<SilenceRule>): SilenceRule => ({
  id: 1,
  metric: null,
  startsAt: at('10:00'),
  endsAt: at('11:00'),
  alertId: null,
  ...overrides,
});

describe('silenceHolding', () => {
  it('holds windows ending from its start until (not including) its end', () => {
    const rules = [silence({})];
    expect(silenceHolding(rules, 'temperature', at('09:55'), undefined)).toBeUndefined();
    expect(silenceHolding(rules, 'temperature', at('10:00'), undefined)).toBe(1);
    expect(silenceHolding(rules, 'pressure', at('10:55'), undefined)).toBe(1);
    expect(silenceHolding(rules, 'temperature', at('11:00'), undefined)).toBeUndefined();
  });

  it('holds only its metric when it names one, and names the oldest of several', () => {
    const rules = [
      silence({ id: 5, metric: 'vibration' }),
      silence({ id: 3 }),
      silence({ id: 2, metric: 'pressure' }),
    ];
    expect(silenceHolding(rules, 'vibration', at('10:30'), undefined)).toBe(3);
    expect(silenceHolding(rules, 'pressure', at('10:30'), undefined)).toBe(2);
    expect(
      silenceHolding([rules[0] as SilenceRule], 'temperature', at('10:30'), undefined),
    ).toBeUndefined();
  });

  it('created from an alert: holds that alert from any window until it is resolved or ends', () => {
    const rules = [silence({ alertId, endsAt: null })];
    const current = { id: alertId, status: 'open' as const };
    // A window before the silence was created (a re-grade) is held too.
    expect(silenceHolding(rules, 'temperature', at('09:05'), current)).toBe(1);
    expect(
      silenceHolding(rules, 'temperature', at('23:55'), { ...current, status: 'acknowledged' }),
    ).toBe(1);
    // Resolved: the next breach opens a new alert, which it does not hold.
    expect(
      silenceHolding(rules, 'temperature', at('12:00'), { ...current, status: 'resolved' }),
    ).toBeUndefined();
    expect(
      silenceHolding(rules, 'temperature', at('12:00'), { id: 'other', status: 'open' }),
    ).toBeUndefined();
    expect(silenceHolding(rules, 'temperature', at('12:00'), undefined)).toBeUndefined();
    const timed = [silence({ alertId, endsAt: at('11:00') })];
    expect(silenceHolding(timed, 'temperature', at('11:00'), current)).toBeUndefined();
  });
});

describe('applyBreach under a silence', () => {
  const summary = {
    readings: 1,
    metrics: { temperature: { count: 1, min: 95, max: 95, mean: 95 } },
  };
  const breach = gradeWindow({ temperature: 95 }, rulesFor(defaultSeverityRules)).breaches[0];
  if (!breach) throw new Error('no breach at 95 °C');

  it('stores the alert suppressed by the silence, owing nothing, and delivers what it withheld after', () => {
    const held = applyBreach(undefined, '7', at('09:00'), summary, breach, {
      reason: 'silence',
      silenceId: 4,
    }) as Alert;
    expect(held.suppressed).toEqual({ reason: 'silence', silenceId: 4 });
    expect(held.delivery).toMatchObject({
      pending: [],
      withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
    });
    expect(held.deliveryPending).toBeUndefined();
    const released = applyBreach(held, '7', at('09:05'), summary, breach) as Alert;
    expect(released.suppressed).toBeUndefined();
    expect(released.delivery).toMatchObject({
      type: 'alert.raised',
      pending: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
    });
  });
});
