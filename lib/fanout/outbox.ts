/**
 * The alert outbox: delivery duty lives in the alert document itself (`delivery`,
 * `deliveryPending`), written in the same operation as the alert, so no alert is stored
 * without it. Delivery records its outcome with a conditional replace; a sweep finds what is
 * still owed. No change feed is needed (the local Cosmos stand-in has none).
 */
import { recordAlertVersion } from '../observability/instruments.js';
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { Alert } from '../telemetry/alerts.js';
import { documentBody } from '../telemetry/cosmosStore.js';

export interface StoredAlert {
  alert: Alert;
  etag: string;
}

/** Backoff after the n-th failed attempt: 2 s, 4 s, 8 s, … up to 5 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(2_000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

function isPreconditionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 412 || code === 409 || code === 404;
}

/** The alert with its delivery set to `pending` remaining, as it will be stored. */
export function withOutcome(current: Alert, remaining: readonly string[], nowMs: number): Alert {
  const { delivery } = current;
  if (!delivery) return current;
  const { deliveryPending: _pending, ...rest } = current;
  if (remaining.length === 0) {
    const { retryAt: _retryAt, ...done } = delivery;
    return { ...rest, delivery: { ...done, pending: [] } };
  }
  const attempts = delivery.attempts + 1;
  return {
    ...rest,
    delivery: {
      ...delivery,
      pending: [...remaining],
      attempts,
      retryAt: new Date(nowMs + retryDelayMs(attempts)).toISOString(),
    },
    deliveryPending: true,
  };
}

export class AlertOutbox {
  constructor(private readonly alerts: Container) {}

  /**
   * Alerts whose delivery is due: failed ones whose retry time has come, and ones left
   * pending longer than `graceMs` without an attempt recorded (the writer crashed, or lost
   * its delivery), which leaves the writer's own immediate attempt alone.
   */
  async due(nowMs: number, graceMs: number, limit: number): Promise<StoredAlert[]> {
    const { resources } = await this.alerts.items
      .query<ItemDefinition>({
        query:
          'SELECT TOP @limit * FROM c WHERE c.deliveryPending = true AND ' +
          '((IS_DEFINED(c.delivery.retryAt) AND c.delivery.retryAt <= @now) OR ' +
          '(NOT IS_DEFINED(c.delivery.retryAt) AND c._ts <= @settled))',
        parameters: [
          { name: '@limit', value: limit },
          { name: '@now', value: new Date(nowMs).toISOString() },
          { name: '@settled', value: Math.floor((nowMs - graceMs) / 1000) },
        ],
      })
      .fetchAll();
    return resources.map((resource) => ({
      alert: documentBody(resource) as Alert,
      etag: String(resource._etag),
    }));
  }

  /**
   * Alerts the escalation policy may have something due for (lib/fanout/escalator.ts): open
   * or acknowledged, not suppressed, of a severity the policy escalates, and either never
   * looked at, changed since (`escalation.checkedVersion`), or due (`escalation.nextAt`).
   * The status, suppression and severity filters are served by the (default, consistent)
   * index; the version comparison only runs on what they leave. A comparison with an
   * undefined side (no `nextAt`) is undefined, so the alert is skipped: Cosmos DB for NoSQL
   * WHERE and keywords references (MicrosoftDocs/azure-docs
   * articles/cosmos-db/nosql/query/where.md, keywords.md: "IN", mixed-type comparisons).
   */
  async escalationCandidates(
    nowMs: number,
    severities: readonly string[],
    limit: number,
  ): Promise<StoredAlert[]> {
    if (severities.length === 0) return [];
    const names = severities.map((_, i) => `@severity${i}`);
    const { resources } = await this.alerts.items
      .query<ItemDefinition>({
        query:
          "SELECT TOP @limit * FROM c WHERE c.status IN ('open', 'acknowledged') AND " +
          `NOT IS_DEFINED(c.suppressed) AND c.severity IN (${names.join(', ')}) AND ` +
          '(NOT IS_DEFINED(c.escalation) OR c.escalation.checkedVersion != c.version OR ' +
          'c.escalation.nextAt <= @now)',
        parameters: [
          { name: '@limit', value: limit },
          { name: '@now', value: new Date(nowMs).toISOString() },
          ...severities.map((value, i) => ({ name: `@severity${i}`, value })),
        ],
      })
      .fetchAll();
    return resources.map((resource) => ({
      alert: documentBody(resource) as Alert,
      etag: String(resource._etag),
    }));
  }

  /**
   * When the oldest alert still owed to someone was last written (epoch ms), or undefined when
   * nothing is owed: one aggregate query per sweep, for the oldest pending delivery gauge.
   */
  async oldestPendingMs(): Promise<number | undefined> {
    const { resources } = await this.alerts.items
      .query<number>('SELECT VALUE MIN(c._ts) FROM c WHERE c.deliveryPending = true')
      .fetchAll();
    const seconds = resources[0];
    return typeof seconds === 'number' ? seconds * 1000 : undefined;
  }

  /**
   * How many alerts are still owed to someone (the delivery backlog): one aggregate query over
   * the same `deliveryPending` flag the sweep and {@link oldestPendingMs} use.
   */
  async pendingCount(): Promise<number> {
    const { resources } = await this.alerts.items
      .query<number>('SELECT VALUE COUNT(1) FROM c WHERE c.deliveryPending = true')
      .fetchAll();
    return resources[0] ?? 0;
  }

  /**
   * Replaces one alert if nobody changed it since it was read as `etag`: false when someone
   * did (a person, the pipeline, another sweeper), and nothing is written.
   */
  async replaceIfUnchanged(alert: Alert, etag: string): Promise<boolean> {
    try {
      await this.alerts.item(alert.id, alert.equipmentId).replace(alert, {
        accessCondition: { type: 'IfMatch', condition: etag },
      });
      // The sweep's escalation steps and reminders write alert versions too.
      recordAlertVersion(alert);
      return true;
    } catch (error) {
      if (isPreconditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Takes one alert's delivery for `leaseMs`: another sweeper sees it as not due until then.
   * Undefined when someone else changed the alert first.
   */
  async claim(
    entry: StoredAlert,
    nowMs: number,
    leaseMs: number,
  ): Promise<StoredAlert | undefined> {
    const { delivery } = entry.alert;
    if (!delivery) return undefined;
    const leased: Alert = {
      ...entry.alert,
      delivery: { ...delivery, retryAt: new Date(nowMs + leaseMs).toISOString() },
    };
    try {
      const { resource } = await this.alerts
        .item(leased.id, leased.equipmentId)
        .replace<ItemDefinition>(leased, {
          accessCondition: { type: 'IfMatch', condition: entry.etag },
        });
      if (!resource) return undefined;
      return { alert: documentBody(resource) as Alert, etag: resource._etag };
    } catch (error) {
      if (isPreconditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Records what is still owed for the version `delivered` was. A newer version written in
   * the meantime carries its own duty, so its record is left alone.
   */
  async record(delivered: Alert, remaining: readonly string[], nowMs: number): Promise<void> {
    const version = delivered.delivery?.version;
    if (version === undefined) return;
    const item = this.alerts.item(delivered.id, delivered.equipmentId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const { resource } = await item.read<ItemDefinition>();
      if (!resource) return;
      const current = documentBody(resource) as Alert;
      if (current.delivery?.version !== version) return;
      try {
        await item.replace(withOutcome(current, remaining, nowMs), {
          accessCondition: { type: 'IfMatch', condition: resource._etag },
        });
        return;
      } catch (error) {
        if (!isPreconditionFailure(error)) throw error;
      }
    }
    throw new Error(`The delivery record of alert ${delivered.id} kept changing`);
  }
}
