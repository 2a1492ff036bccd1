/**
 * Delivers alerts: right after they are written (by the pipeline or a person), and again
 * from the sweep for whatever failed, with backoff, until every target has it. Each target
 * (a group, a user, a push platform) is recorded separately, so a retry never repeats what
 * already arrived; in normal operation every client gets each version once. Every attempt at
 * every target is written to the delivery log (lib/fanout/deliveryLog.ts) after its outcome
 * is recorded in the outbox; the log never changes what is sent.
 */
import {
  recordDelivery,
  recordDeliveryLatency,
  recordOldestPendingDelivery,
} from '../observability/instruments.js';
import { inSpan, SpanKind } from '../observability/tracing.js';
import type { Alert } from '../telemetry/alerts.js';
import { escalatedToAdmins } from '../telemetry/escalation.js';
import {
  channelOf,
  UndeliverableError,
  type DeliveryAttempt,
  type DeliveryLog,
  type DeliveryReceipt,
} from './deliveryLog.js';
import { channelDuties, type AlertChannels } from './channels.js';
import type { AlertEscalator } from './escalator.js';
import { alertMessage, type AdminAlertMessage } from './messages.js';
import { isAdminsOnlyTarget, type NearestForAlert } from './nearbyTechnicians.js';
import type { AlertOutbox, StoredAlert } from './outbox.js';
import { pushPlatforms, type PushPlatform, type PushSender } from './push.js';
import { alertRecipients, alertTargets, groupSendFilter, pushTags } from './routing.js';
import type { WebPubSubSender } from './webPubSub.js';
import type { WebhookSender } from './webhooks.js';

export interface DelivererOptions {
  outbox: AlertOutbox;
  webPubSub: WebPubSubSender;
  /** Takes escalation steps and reminders in each sweep (absent: none). */
  escalator?: AlertEscalator | undefined;
  /** Absent when push is not configured: push duties are then dropped. */
  push?: PushSender | undefined;
  /** Where every attempt is recorded (absent: nowhere). */
  deliveryLog?: DeliveryLog | undefined;
  /** Email and SMS (lib/fanout/channels.ts); a channel absent: its duties are dropped. */
  channels?: AlertChannels | undefined;
  /** Absent when webhooks are not configured: webhook duties are then dropped. */
  webhooks?: WebhookSender | undefined;
  /** Active technicians' user ids per equipment id. */
  audience(equipmentIds: readonly string[]): Promise<Map<string, string[]>>;
  /**
   * Of an alert's people (user ids), those who want it by push now: their push preferences
   * and quiet hours (audience.ts `pushAudienceByPreferences`). Absent: all of them.
   */
  pushAudience?: ((alert: Alert, userIds: readonly string[]) => Promise<string[]>) | undefined;
  /** Critical alerts: technicians to suggest to admins (absent: none). */
  nearestTechnicians?: NearestForAlert | undefined;
  log(message: string): void;
  /** Bound on each send. */
  sendTimeoutMs?: number;
  /** How long the sweep leaves a fresh alert to its writer's own attempt. */
  graceMs?: number;
  /** How long a sweeper holds an alert it is delivering. */
  leaseMs?: number;
  /** Alerts per sweep. */
  sweepLimit?: number;
  /** Alerts delivered at once. */
  concurrency?: number;
  now?: () => number;
}

export interface DeliveryReport {
  /** Alert versions fully delivered. */
  delivered: number;
  /** Alert versions with something still owed (retried later). */
  pending: number;
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(work));
  }
}

export class AlertDeliverer {
  private readonly sendTimeoutMs: number;
  private readonly graceMs: number;
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DelivererOptions) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? 5_000;
    this.graceMs = options.graceMs ?? 30_000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Delivers alerts just written (the newest version of each) and records the outcome.
   * Never throws: whatever fails stays owed in the alert, for the sweep.
   */
  async deliverWritten(alerts: readonly Alert[]): Promise<DeliveryReport> {
    const newest = new Map<string, Alert>();
    for (const alert of alerts) {
      const known = newest.get(alert.id);
      if (!known || known.version < alert.version) newest.set(alert.id, alert);
    }
    return this.deliverAll([...newest.values()]);
  }

  /**
   * Takes the escalation steps and reminders due, delivers them, and delivers what else is
   * owed and due; run by a timer. Throws only when Cosmos cannot be read or written.
   */
  async sweep(): Promise<DeliveryReport> {
    const nowMs = this.now();
    const limit = this.options.sweepLimit ?? 200;
    // First: a step's new version inherits whatever its previous version still owed, so
    // claiming that previous version below would only be undone.
    const escalated = (await this.options.escalator?.escalate(nowMs, limit))?.written ?? [];
    const due = await this.options.outbox.due(nowMs, this.graceMs, limit);
    const oldest = await this.options.outbox.oldestPendingMs();
    recordOldestPendingDelivery(
      oldest === undefined ? undefined : Math.max(0, nowMs - oldest) / 1000,
    );
    const claimed: Alert[] = [];
    for (const entry of due) {
      const taken: StoredAlert | undefined = await this.options.outbox.claim(
        entry,
        nowMs,
        this.leaseMs,
      );
      if (taken) claimed.push(taken.alert);
    }
    return this.deliverWritten([...escalated, ...claimed]);
  }

  private async deliverAll(alerts: readonly Alert[]): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, pending: 0 };
    await inBatches(alerts, this.options.concurrency ?? 10, async (alert) => {
      if (!alert.delivery?.pending.length) return;
      await inSpan(
        'deliver alert',
        {
          kind: SpanKind.PRODUCER,
          attributes: { 'sis.alert.id': alert.id, 'sis.alert.version': alert.version },
        },
        () => this.deliverOne(alert, report),
      );
    });
    return report;
  }

  /** Attempts one alert version's pending deliveries and records what became of them. */
  private async deliverOne(alert: Alert, report: DeliveryReport): Promise<void> {
    if (!alert.delivery?.pending.length) return;
    let remaining: string[];
    let attempts: DeliveryAttempt[] = [];
    try {
      ({ remaining, attempts } = await this.attempt(alert));
    } catch (error) {
      this.options.log(`Alert ${alert.id} v${alert.version}: delivery failed: ${String(error)}`);
      remaining = alert.delivery.pending;
    }
    try {
      await this.options.outbox.record(alert, remaining, this.now());
    } catch (error) {
      // Still marked pending in Cosmos: the sweep retries after the grace period.
      this.options.log(`Alert ${alert.id} v${alert.version}: recording failed: ${String(error)}`);
    }
    await this.logAttempts(alert, attempts);
    this.recordAttempts(alert, attempts);
    if (remaining.length) report.pending++;
    else report.delivered++;
  }

  /**
   * Counts each attempt by channel (the target's kind: `group`, `user`, `push`, `email`, ...)
   * and outcome, and for the first success of each channel in a version that had no failure
   * before, the time from the version's write: the alert's last write (`_ts`, seconds) when
   * the sweep read it, else now (a version delivered right after the pipeline wrote it).
   */
  private recordAttempts(alert: Alert, attempts: readonly DeliveryAttempt[]): void {
    const firstTry = (alert.delivery?.attempts ?? 0) === 0;
    const writtenSeconds = (alert as { _ts?: unknown })._ts;
    const nowMs = this.now();
    const writtenMs = typeof writtenSeconds === 'number' ? writtenSeconds * 1000 : undefined;
    const timed = new Set<string>();
    for (const attempt of attempts) {
      const channel = attempt.target.split(':')[0] ?? attempt.target;
      recordDelivery(channel, attempt.outcome);
      if (attempt.outcome !== 'delivered' || timed.has(channel)) continue;
      timed.add(channel);
      if (writtenMs !== undefined || firstTry) {
        recordDeliveryLatency(channel, Math.max(0, nowMs - (writtenMs ?? nowMs)) / 1000);
      }
    }
  }

  /** Writes attempts to the delivery log; a failure there is only logged. */
  private async logAttempts(alert: Alert, attempts: readonly DeliveryAttempt[]): Promise<void> {
    const { deliveryLog } = this.options;
    if (!deliveryLog || attempts.length === 0) return;
    try {
      await deliveryLog.record(attempts);
    } catch (error) {
      this.options.log(
        `Alert ${alert.id} v${alert.version}: delivery log not written: ${String(error)}`,
      );
    }
  }

  /** Sends to every pending target; returns the targets that failed, and every outcome. */
  private async attempt(
    alert: Alert,
  ): Promise<{ remaining: string[]; attempts: DeliveryAttempt[] }> {
    const delivery = alert.delivery;
    if (!delivery) return { remaining: [], attempts: [] };
    const needsPeople = delivery.pending.some(
      (target) => target === 'webPubSub' || target.startsWith('push'),
    );
    const assigned = needsPeople
      ? ((await this.options.audience([alert.equipmentId])).get(alert.equipmentId) ?? [])
      : [];
    const people = needsPeople ? alertRecipients(assigned, alert.assigneeUserId) : [];
    const admins = escalatedToAdmins(alert);
    const { push, channels, webhooks, pushAudience } = this.options;
    // Web PubSub reaches everyone (a dashboard interrupts nobody); a phone only those who
    // want this alert by push now.
    const pushPeople =
      pushAudience && push && delivery.pending.some((target) => target.startsWith('push'))
        ? await pushAudience(alert, people)
        : people;
    const tags = pushTags(pushPeople, admins);
    const dropped = new Map<string, string>();
    const drop = (target: string, reason?: string): [] => {
      dropped.set(
        target,
        reason ??
          (!push
            ? 'Push notifications are not configured'
            : people.length
              ? 'Nobody wants this alert by push now (notification preferences, quiet hours)'
              : 'Nobody to push to'),
      );
      return [];
    };
    // `email` / `sms` duties become one target per technician who wants it now.
    const channelTargets = new Map<string, string[]>();
    for (const duty of channelDuties) {
      if (delivery.pending.includes(duty))
        channelTargets.set(duty, (await channels?.[duty]?.targets(alert, delivery.type)) ?? []);
    }
    // The duty `webhooks` becomes one target per matching webhook; when they cannot be
    // listed (MySQL down) the duty stays owed and the other targets go ahead.
    let webhookTargets: string[] = [];
    let webhooksUnlisted = false;
    if (webhooks && delivery.pending.includes('webhooks')) {
      try {
        webhookTargets = await webhooks.targets(alert, delivery.type);
      } catch (error) {
        webhooksUnlisted = true;
        this.options.log(
          `Alert ${alert.id} v${alert.version}: webhooks not listed: ${String(error)}`,
        );
      }
    }
    const targets = [
      ...new Set(
        delivery.pending.flatMap((target) => {
          if (target === 'webPubSub') return alertTargets(alert.equipmentId, people, admins);
          if (target === 'push')
            return push && tags.length ? pushPlatforms.map((p) => `push:${p}`) : drop(target);
          if (target.startsWith('push:') && (!push || tags.length === 0)) return drop(target);
          const expanded = channelTargets.get(target);
          if (expanded) return expanded;
          const duty = channelDuties.find((name) => target.startsWith(`${name}:`));
          if (duty && !channels?.[duty])
            return drop(target, `The ${duty} channel is not configured`);
          if (target === 'webhooks') return webhookTargets;
          if (target.startsWith('webhook:') && !webhooks)
            return drop(target, 'Webhooks are not configured');
          return [target];
        }),
      ),
    ];
    const message = alertMessage(alert, delivery.type);
    // Positions are personal data: the suggestion goes only to targets that reach admins only.
    const nearest = targets.some(isAdminsOnlyTarget)
      ? await this.options.nearestTechnicians?.(alert)
      : undefined;
    const adminMessage: AdminAlertMessage = nearest
      ? { ...message, nearestTechnicians: nearest }
      : message;
    const outcomes = await Promise.allSettled(
      targets.map((target) =>
        this.send(
          target,
          alert,
          isAdminsOnlyTarget(target) ? adminMessage : message,
          tags,
          people,
          admins,
        ),
      ),
    );
    const at = new Date(this.now()).toISOString();
    const attempt = (target: string): Omit<DeliveryAttempt, 'outcome'> => ({
      alertId: alert.id,
      equipmentId: alert.equipmentId,
      version: alert.version,
      eventType: delivery.type,
      target,
      userIds: target.startsWith('user:')
        ? [target.slice('user:'.length)]
        : target.startsWith('push')
          ? pushPeople
          : [],
      at,
    });
    const refusedForGood = (i: number): boolean => {
      const outcome = outcomes[i];
      return outcome?.status === 'rejected' && outcome.reason instanceof UndeliverableError;
    };
    const attempts: DeliveryAttempt[] = [
      ...targets.map((target, i): DeliveryAttempt => {
        const outcome = outcomes[i];
        if (outcome?.status === 'fulfilled')
          return { ...attempt(target), outcome: 'delivered', receipt: outcome.value };
        return {
          ...attempt(target),
          outcome: refusedForGood(i) ? 'dropped' : 'failed',
          error: outcome?.reason,
        };
      }),
      ...[...dropped].map(([target, reason]): DeliveryAttempt => ({
        ...attempt(target),
        outcome: 'dropped',
        error: reason,
      })),
    ];
    const failed = targets.filter(
      (_, i) => outcomes[i]?.status === 'rejected' && !refusedForGood(i),
    );
    if (webhooksUnlisted) failed.push('webhooks');
    for (const [i, target] of targets.entries()) {
      const outcome = outcomes[i];
      if (refusedForGood(i) && outcome?.status === 'rejected')
        this.options.log(
          `Alert ${alert.id} v${alert.version}: ${channelOf(target)} refused for good, not retried (${String(outcome.reason)})`,
        );
    }
    if (failed.length) {
      const reasons = outcomes.flatMap((o, i) =>
        o.status === 'rejected' && !refusedForGood(i) ? [String(o.reason)] : [],
      );
      this.options.log(
        `Alert ${alert.id} v${alert.version}: ${failed.length} of ${targets.length} deliveries failed (${reasons[0] ?? ''}); retrying later`,
      );
    }
    return { remaining: failed, attempts };
  }

  private async send(
    target: string,
    alert: Alert,
    message: unknown,
    pushTagsOfAlert: readonly string[],
    people: readonly string[],
    admins: boolean,
  ): Promise<DeliveryReceipt | undefined> {
    const signal = AbortSignal.timeout(this.sendTimeoutMs);
    const separator = target.indexOf(':');
    const kind = target.slice(0, separator);
    const name = target.slice(separator + 1);
    if (kind === 'group') {
      const filter = groupSendFilter(name, people, admins);
      await this.options.webPubSub.sendToGroup(name, message, signal, filter);
      // Web PubSub returns no message id; the recipient is the group (the log's default).
      return undefined;
    }
    if (kind === 'user') {
      await this.options.webPubSub.sendToUser(name, message, signal);
      return undefined;
    }
    if (kind === 'push' && this.options.push) {
      return this.options.push.send(name as PushPlatform, alert, pushTagsOfAlert, signal);
    }
    if (kind === 'email' || kind === 'sms') {
      const channel = this.options.channels?.[kind];
      if (channel) {
        // The receipt (address, operation id) goes to the delivery log.
        return channel.send(name, alert, alert.delivery?.type ?? 'alert.raised', signal);
      }
    }
    if (kind === 'webhook' && this.options.webhooks) {
      // Its receipt (URL, message id) is for the delivery log, which records it by target.
      return this.options.webhooks.send(
        name,
        alert,
        alert.delivery?.type ?? 'alert.updated',
        signal,
      );
    }
    throw new Error(`Unknown delivery target ${target}`);
  }
}
