/**
 * Escalation and reminders, run by the delivery sweep (lib/fanout/deliverer.ts `sweep`): for
 * each alert the policy may have something due for, the pure decision
 * (lib/telemetry/escalation.ts) says which step or reminder is due at the sweep's `now`; it is
 * written as a new alert version (`alert.escalated`, with its delivery duty, dated by `now` in
 * the timeline) under the ETag the alert was read with. Of two sweeps that read the same
 * alert only one write succeeds, so no step is ever taken twice; the state lives in the
 * alert document, so a restart loses nothing.
 */
import { pipelineActor } from '../telemetry/alertTimeline.js';
import { withNewVersion, type Alert } from '../telemetry/alerts.js';
import {
  decideEscalation,
  escalatingSeverities,
  type AlertEscalation,
  type EscalationPolicy,
} from '../telemetry/escalation.js';
import type { AlertOutbox } from './outbox.js';

export interface EscalationReport {
  /** New versions written (steps and reminders), to deliver now. */
  written: Alert[];
}

export class AlertEscalator {
  private readonly severities: string[];

  constructor(
    private readonly outbox: AlertOutbox,
    private readonly policy: EscalationPolicy,
  ) {
    this.severities = escalatingSeverities(policy);
  }

  /** Takes every step and reminder due at `nowMs` (up to `limit` alerts looked at). */
  async escalate(nowMs: number, limit: number): Promise<EscalationReport> {
    const candidates = await this.outbox.escalationCandidates(nowMs, this.severities, limit);
    const written: Alert[] = [];
    for (const { alert, etag } of candidates) {
      const { due, state } = decideEscalation(alert, this.policy, nowMs);
      if (due) {
        const next = escalated(alert, state, nowMs);
        if (await this.outbox.replaceIfUnchanged(next, etag)) written.push(next);
        continue;
      }
      const checked: AlertEscalation = { ...state, checkedVersion: alert.version };
      // Only when something changed; and never while a delivery is owed, whose crash
      // recovery waits for the document to stay unwritten for a while (outbox `due`).
      if (!alert.deliveryPending && !sameState(checked, alert.escalation)) {
        await this.outbox.replaceIfUnchanged({ ...alert, escalation: checked }, etag);
      }
    }
    return { written };
  }
}

/** `alert` re-sent for a step or reminder: a new version for everyone it now reaches. */
function escalated(alert: Alert, state: AlertEscalation, nowMs: number): Alert {
  const { version, delivery: _delivery, deliveryPending: _pending, ...rest } = alert;
  return withNewVersion(
    alert,
    { ...rest, escalation: { ...state, checkedVersion: version + 1 } },
    'alert.escalated',
    { by: pipelineActor, at: new Date(nowMs).toISOString() },
  );
}

function sameState(a: AlertEscalation, b: AlertEscalation | undefined): boolean {
  if (!b) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof AlertEscalation>;
  return [...keys].every((key) => JSON.stringify(a[key]) === JSON.stringify(b[key]));
}
