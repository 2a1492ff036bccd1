import { describe, expect, it } from 'vitest';
import {
  decideEscalation,
  defaultEscalationPolicy,
  escalatedToAdmins,
  escalatingSeverities,
  escalationPolicySchema,
  type AlertEscalation,
  type EscalationPolicy,
  type EscalationSubject,
} from '../../../lib/telemetry/escalation.js';

const raisedAt = '2026-11-30T10:00:00.000Z';
const minutes = (n: number) => Date.parse(raisedAt) + n * 60_000;
const iso = (n: number) => new Date(minutes(n)).toISOString();
const policy = defaultEscalationPolicy;
const critical: EscalationSubject = { version: 1, status: 'open', severity: 'critical', raisedAt };

/** `alert` as the sweep stores it after `decision` (version unchanged for brevity). */
function after(alert: EscalationSubject, nowMinutes: number): EscalationSubject {
  const { state } = decideEscalation(alert, policy, minutes(nowMinutes));
  return { ...alert, escalation: { ...state, checkedVersion: alert.version } };
}

describe('decideEscalation: open alerts', () => {
  it('has nothing due before the first step, and says when to look again', () => {
    const decision = decideEscalation(critical, policy, minutes(9.99));
    expect(decision.due).toBeUndefined();
    expect(decision.state).toMatchObject({ since: raisedAt, step: 0, nextAt: iso(10) });
  });

  it('re-sends to the technicians at 10 minutes, then reaches the admins at 20, then stops', () => {
    const first = decideEscalation(critical, policy, minutes(10));
    expect(first.due).toEqual({ action: 'step', step: 1, notify: 'technicians' });
    expect(first.state).toMatchObject({
      step: 1,
      notify: 'technicians',
      last: { action: 'step', at: iso(10) },
      nextAt: iso(20),
    });
    const stepped = after(critical, 10);
    expect(decideEscalation(stepped, policy, minutes(15)).due).toBeUndefined();
    // The same step is never due twice, however often the sweep looks.
    expect(decideEscalation(stepped, policy, minutes(10)).due).toBeUndefined();
    const second = decideEscalation(stepped, policy, minutes(21));
    expect(second.due).toEqual({ action: 'step', step: 2, notify: 'admins' });
    expect(second.state.nextAt).toBeUndefined();
    expect(decideEscalation(after(stepped, 21), policy, minutes(600)).due).toBeUndefined();
  });

  it('collapses overdue steps into the latest, with the widest audience', () => {
    expect(decideEscalation(critical, policy, minutes(45)).due).toEqual({
      action: 'step',
      step: 2,
      notify: 'admins',
    });
  });

  it('keeps the admins once reached, even when a later step names only technicians', () => {
    const custom: EscalationPolicy = {
      ...policy,
      high: {
        steps: [
          { afterMinutes: 1, notify: 'admins' },
          { afterMinutes: 2, notify: 'technicians' },
        ],
      },
    };
    const high = { ...critical, severity: 'high' as const };
    const once = decideEscalation(high, custom, minutes(1));
    const twice = decideEscalation(
      { ...high, escalation: { ...once.state, checkedVersion: 1 } },
      custom,
      minutes(2),
    );
    expect(twice.due).toEqual({ action: 'step', step: 2, notify: 'admins' });
  });

  it('measures from the latest reopening, starting the steps again', () => {
    const done = after(after(critical, 10), 20);
    const reopened: EscalationSubject = {
      ...done,
      timeline: [
        { action: 'raised', at: raisedAt },
        { action: 'reopened', at: iso(60) },
      ],
    };
    expect(escalatedToAdmins(done)).toBe(true);
    expect(escalatedToAdmins(reopened)).toBe(false);
    expect(decideEscalation(reopened, policy, minutes(69)).due).toBeUndefined();
    expect(decideEscalation(reopened, policy, minutes(70))).toMatchObject({
      due: { action: 'step', step: 1, notify: 'technicians' },
      state: { since: iso(60), step: 1 },
    });
  });

  it('escalates nothing the policy leaves alone: medium by default', () => {
    const medium = { ...critical, severity: 'medium' as const };
    const decision = decideEscalation(medium, policy, minutes(10_000));
    expect(decision.due).toBeUndefined();
    expect(decision.state.nextAt).toBeUndefined();
    expect(escalatingSeverities(policy)).toEqual(['high', 'critical']);
  });

  it('never escalates or reminds a suppressed, resolved, cleared or other alert', () => {
    const cases: EscalationSubject[] = [
      { ...critical, suppressed: { reason: 'maintenance' } },
      { ...critical, suppressed: { reason: 'silence' } },
      { ...critical, status: 'resolved' },
      { ...critical, status: 'cleared' },
      {
        ...critical,
        status: 'acknowledged',
        acknowledgedAt: raisedAt,
        suppressed: { reason: 'silence' },
      },
    ];
    for (const alert of cases) {
      const decision = decideEscalation(alert, policy, minutes(100_000));
      expect(decision.due).toBeUndefined();
      expect(decision.state.nextAt).toBeUndefined();
    }
  });
});

describe('decideEscalation: acknowledged alerts', () => {
  const acknowledged: EscalationSubject = {
    ...critical,
    status: 'acknowledged',
    acknowledgedAt: iso(15),
  };

  it('takes no more steps, and reminds every 4 hours after the acknowledgement', () => {
    const early = decideEscalation(acknowledged, policy, minutes(30));
    expect(early.due).toBeUndefined();
    expect(early.state.nextAt).toBe(iso(15 + 240));
    const first = decideEscalation(acknowledged, policy, minutes(15 + 240));
    expect(first.due).toEqual({ action: 'reminder' });
    expect(first.state).toMatchObject({ reminders: 1, nextAt: iso(15 + 480) });
    const reminded = { ...acknowledged, escalation: { ...first.state, checkedVersion: 1 } };
    expect(decideEscalation(reminded, policy, minutes(15 + 300)).due).toBeUndefined();
    // A sweep that was down for two intervals sends one reminder, not two.
    const late = decideEscalation(reminded, policy, minutes(15 + 3 * 240 + 1));
    expect(late.due).toEqual({ action: 'reminder' });
    expect(late.state).toMatchObject({ reminders: 3, nextAt: iso(15 + 4 * 240) });
  });

  it('keeps the steps taken while it was open', () => {
    const stepped = after(critical, 12);
    const state = stepped.escalation as AlertEscalation;
    const decision = decideEscalation(
      { ...stepped, status: 'acknowledged', acknowledgedAt: iso(13) },
      policy,
      minutes(30),
    );
    expect(decision.state).toMatchObject({ step: state.step, notify: 'technicians' });
  });
});

describe('escalationPolicySchema', () => {
  it('replaces only the severities it names', () => {
    const parsed = escalationPolicySchema.parse({
      medium: { steps: [{ afterMinutes: 0.5, notify: 'technicians' }] },
    });
    expect(parsed.medium.steps).toEqual([{ afterMinutes: 0.5, notify: 'technicians' }]);
    expect(parsed.critical).toEqual(defaultEscalationPolicy.critical);
    expect(escalationPolicySchema.parse({ critical: {} }).critical).toEqual({ steps: [] });
  });

  it.each([
    [{ critical: { steps: [{ afterMinutes: 0, notify: 'admins' }] } }],
    [{ critical: { steps: [{ afterMinutes: 5, notify: 'everyone' }] } }],
    [
      {
        critical: {
          steps: [
            { afterMinutes: 20, notify: 'admins' },
            { afterMinutes: 10, notify: 'technicians' },
          ],
        },
      },
    ],
    [{ critical: { remindEveryMinutes: 20_000 } }],
    [{ urgent: { steps: [] } }],
    [{ high: { steps: [], every: 5 } }],
    [[]],
  ])('refuses %j', (value) => {
    expect(escalationPolicySchema.safeParse(value).success).toBe(false);
  });
});
