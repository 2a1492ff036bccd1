/**
 * Escalation and reminders: the policy per severity (the `ALERT_ESCALATION_POLICY` setting)
 * and the pure rule saying, for one alert at one instant, which step or reminder is due.
 * The delivery sweep (lib/fanout/escalator.ts) applies the decisions; nothing here reads a
 * clock or a store, so every case is tested directly.
 *
 * An open alert is re-sent at each step of its severity's policy, measured from when it was
 * raised (or last reopened), to a wider audience each time, until someone acknowledges it.
 * An acknowledged alert is reminded every `remindEveryMinutes` after its acknowledgement
 * until it is resolved. Nothing else is escalated or reminded: suppressed alerts (maintenance,
 * silences), resolved ones, and any other status (such as `cleared`).
 */
import { z } from 'zod';
import { severities, type Severity } from './severity.js';

/** Who an escalation step adds to the alert's usual audience. */
export const escalationAudiences = ['technicians', 'admins'] as const;
export type EscalationAudience = (typeof escalationAudiences)[number];

/** The longest delay a policy may name: a week, in minutes. */
const maxMinutes = 7 * 24 * 60;

const minutes = z
  .number({ error: 'expected a number of minutes' })
  .positive({ error: 'expected more than 0 minutes' })
  .max(maxMinutes, { error: `expected at most ${maxMinutes} minutes (a week)` });

const severityPolicySchema = z.strictObject({
  /**
   * Re-sends while the alert stays open, in order: `afterMinutes` from when it was raised
   * (or reopened), to its technicians again or to the admins as well.
   */
  steps: z
    .array(z.strictObject({ afterMinutes: minutes, notify: z.enum(escalationAudiences) }))
    .max(10, { error: 'expected at most 10 steps' })
    .refine(
      (steps) =>
        steps.every((step, i) => i === 0 || step.afterMinutes > (steps[i - 1]?.afterMinutes ?? 0)),
      { error: 'expected steps in increasing afterMinutes' },
    )
    .default([]),
  /** Interval of reminders while the alert is acknowledged and unresolved (absent: none). */
  remindEveryMinutes: minutes.optional(),
});

export type SeverityEscalationPolicy = z.output<typeof severityPolicySchema>;
export type EscalationPolicy = Record<Severity, SeverityEscalationPolicy>;

/** The policy when `ALERT_ESCALATION_POLICY` is empty (README, "Escalation"). */
export const defaultEscalationPolicy: EscalationPolicy = {
  critical: {
    steps: [
      { afterMinutes: 10, notify: 'technicians' },
      { afterMinutes: 20, notify: 'admins' },
    ],
    remindEveryMinutes: 240,
  },
  high: {
    steps: [
      { afterMinutes: 30, notify: 'technicians' },
      { afterMinutes: 60, notify: 'admins' },
    ],
    remindEveryMinutes: 480,
  },
  medium: { steps: [] },
};

/**
 * The setting's JSON: an object naming some severities; those it names replace the
 * defaults' (`{"medium": {"steps": []}}` keeps critical and high as they are).
 */
export const escalationPolicySchema = z
  .strictObject(
    Object.fromEntries(severities.map((s) => [s, severityPolicySchema.optional()])) as Record<
      Severity,
      z.ZodOptional<typeof severityPolicySchema>
    >,
  )
  .transform((named): EscalationPolicy => {
    const policy = { ...defaultEscalationPolicy };
    for (const severity of severities) {
      const given = named[severity];
      if (given) policy[severity] = given;
    }
    return policy;
  });

/** The severities whose alerts the policy ever escalates or reminds: what the sweep queries. */
export function escalatingSeverities(policy: EscalationPolicy): Severity[] {
  return severities.filter(
    (s) => policy[s].steps.length > 0 || policy[s].remindEveryMinutes !== undefined,
  );
}

/**
 * An alert's escalation, kept in the alert document by the sweep (not sent to clients: its
 * steps and reminders show in the timeline). `since` identifies the episode: when the alert
 * is reopened, the steps start again from the reopening.
 */
export interface AlertEscalation {
  /** When the steps are measured from: the alert's `raisedAt`, or its latest reopening. */
  since: string;
  /** Steps of the policy taken in this episode (0: none yet). */
  step: number;
  /** The widest audience a step reached in this episode (absent: no step yet). */
  notify?: EscalationAudience;
  /** Reminders sent since the alert was acknowledged. */
  reminders: number;
  /** The latest step or reminder, dated by the sweep that took it. */
  last?: { action: 'step' | 'reminder'; at: string };
  /** When the sweep has to look again (absent: nothing more is ever due in this state). */
  nextAt?: string;
  /**
   * The alert version this state was worked out for. Any later write (a person acknowledging,
   * the pipeline reopening or escalating the severity) leaves it behind, which is what makes
   * the sweep look at the alert again.
   */
  checkedVersion: number;
}

/** The fields of an alert the decision reads. */
export interface EscalationSubject {
  version: number;
  status: string;
  severity: Severity;
  raisedAt: string;
  acknowledgedAt?: string;
  suppressed?: { reason: string };
  timeline?: readonly { action: string; at: string }[];
  escalation?: AlertEscalation;
}

/** What is due for one alert now, and its escalation state once that is done. */
export interface EscalationDecision {
  /** The step or reminder to send now (absent: nothing to send). */
  due?: { action: 'step'; step: number; notify: EscalationAudience } | { action: 'reminder' };
  /** The state to store (with `checkedVersion` still to be set by the writer). */
  state: AlertEscalation;
}

const minuteMs = 60_000;

/** When the current episode started: the latest reopening, else when the alert was raised. */
export function escalationSince(alert: EscalationSubject): string {
  const reopened = alert.timeline?.filter((entry) => entry.action === 'reopened').at(-1);
  return reopened?.at ?? alert.raisedAt;
}

/**
 * What the policy asks for `alert` at `nowMs`. Several overdue steps (the sweep was down)
 * collapse into the latest one, whose audience is the widest; reminders likewise send one.
 */
export function decideEscalation(
  alert: EscalationSubject,
  policy: EscalationPolicy,
  nowMs: number,
): EscalationDecision {
  const since = escalationSince(alert);
  const stored = alert.escalation;
  const kept: AlertEscalation =
    stored?.since === since ? stored : { since, step: 0, reminders: 0, checkedVersion: 0 };
  const { nextAt: _nextAt, ...current } = kept;
  const rules = policy[alert.severity];
  if (alert.suppressed) return { state: current };

  if (alert.status === 'open') {
    const sinceMs = Date.parse(since);
    const dueAt = (index: number) => sinceMs + (rules.steps[index]?.afterMinutes ?? 0) * minuteMs;
    let step = current.step;
    while (step < rules.steps.length && dueAt(step) <= nowMs) step++;
    const upcoming = step < rules.steps.length ? new Date(dueAt(step)).toISOString() : undefined;
    const state = (taken: AlertEscalation) =>
      upcoming === undefined ? taken : { ...taken, nextAt: upcoming };
    if (step === current.step) return { state: state(current) };
    const notify = widest(
      rules.steps.slice(current.step, step).map((s) => s.notify),
      current,
    );
    const at = new Date(nowMs).toISOString();
    return {
      due: { action: 'step', step, notify },
      state: state({ ...current, step, notify, last: { action: 'step', at } }),
    };
  }

  if (alert.status === 'acknowledged' && rules.remindEveryMinutes && alert.acknowledgedAt) {
    const intervalMs = rules.remindEveryMinutes * minuteMs;
    const ackMs = Date.parse(alert.acknowledgedAt);
    const owed = Math.max(0, Math.floor((nowMs - ackMs) / intervalMs));
    const reminders = Math.max(owed, current.reminders);
    const nextAt = new Date(ackMs + (reminders + 1) * intervalMs).toISOString();
    if (reminders === current.reminders) return { state: { ...current, nextAt } };
    const at = new Date(nowMs).toISOString();
    return {
      due: { action: 'reminder' },
      state: { ...current, reminders, last: { action: 'reminder', at }, nextAt },
    };
  }
  return { state: current };
}

/**
 * Whether the admins are in `alert`'s audience: a step of its current episode reached them.
 * They then hear of every later version too (acknowledged, resolved), having been paged.
 */
export function escalatedToAdmins(alert: EscalationSubject): boolean {
  return alert.escalation?.notify === 'admins' && alert.escalation.since === escalationSince(alert);
}

function widest(
  notified: readonly EscalationAudience[],
  current: Pick<AlertEscalation, 'notify'>,
): EscalationAudience {
  const all = current.notify ? [current.notify, ...notified] : notified;
  return all.includes('admins') ? 'admins' : 'technicians';
}
