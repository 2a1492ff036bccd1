/**
 * The delivery log: one Cosmos document per alert version and target (container
 * `deliveries`, partitioned by alert id, so one alert's log is one partition and listing it
 * is a single-partition query), updated in place on every attempt and expiring with the
 * container's default TTL. It is a record of what happened, never a source of delivery
 * decisions: the outbox in the alert document decides what is still owed, and a failure to
 * write here is logged and otherwise ignored.
 */
import { createHash } from 'node:crypto';
import type { Container, ItemDefinition } from '@azure/cosmos';

/** What a channel's send may tell about one delivery. */
export interface DeliveryReceipt {
  /** The address actually used: email address, phone number, webhook URL, tag expression. */
  recipient?: string;
  /** The operation or message id the provider returned. */
  providerMessageId?: string;
}

/**
 * - `delivered`: the last attempt arrived.
 * - `pending-retry`: the last attempt failed; the sweep retries it.
 * - `failed`: the last attempt failed and this version no longer owes it (a newer version of
 *   the alert took the duty over; see the newer version's entry). Shown by the API, never
 *   stored.
 * - `dropped`: owed but not sent, with the reason in `lastError` (push not configured, no
 *   device to push to).
 */
export const deliveryStatuses = ['delivered', 'pending-retry', 'failed', 'dropped'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * Thrown by a sender when the provider refused the target itself, so that no retry can
 * succeed (an SMS recipient answered 400: a number the service cannot send to). The
 * deliverer records the target `dropped` with this reason and owes it no more, instead of
 * retrying it with backoff for as long as the alert lives.
 */
export class UndeliverableError extends Error {
  override name = 'UndeliverableError';
}

/** The outcome of one attempt at one target, as the deliverer reports it. */
export interface DeliveryAttempt {
  alertId: string;
  equipmentId: string;
  version: number;
  eventType: string;
  /** `group:<name>`, `user:<id>`, `push:<platform>`, `email:<technicianId>`, … */
  target: string;
  outcome: 'delivered' | 'failed' | 'dropped';
  /** The user ids (token subjects) this target reaches personally. */
  userIds: readonly string[];
  receipt?: DeliveryReceipt | undefined;
  /** For `failed` and `dropped`. */
  error?: unknown;
  at: string;
}

/** One stored entry (the document, without Cosmos's system properties). */
export interface DeliveryEntry {
  id: string;
  alertId: string;
  equipmentId: string;
  version: number;
  eventType: string;
  target: string;
  channel: string;
  recipient: string;
  userIds: string[];
  status: Exclude<DeliveryStatus, 'failed'>;
  attempts: number;
  firstAttemptAt: string;
  lastAttemptAt: string;
  providerMessageId?: string;
  lastError?: string;
}

/** Where attempts are written; the deliverer needs no more. */
export interface DeliveryLog {
  /** Records attempts. May throw; the deliverer logs and ignores it. */
  record(attempts: readonly DeliveryAttempt[]): Promise<void>;
}

/** The channel of a target, by its prefix (`group`/`user` → `webPubSub`). */
export function channelOf(target: string): string {
  const prefix = target.includes(':') ? target.slice(0, target.indexOf(':')) : target;
  if (prefix === 'group' || prefix === 'user' || prefix === 'webPubSub') return 'webPubSub';
  if (prefix === 'webhook' || prefix === 'webhooks') return 'webhook';
  return prefix;
}

/** The part of a target after its prefix (the group, the user id, the platform, …). */
function targetName(target: string): string {
  return target.includes(':') ? target.slice(target.indexOf(':') + 1) : target;
}

/** Longest `lastError` kept. */
export const maxErrorLength = 300;

/**
 * An error as it may be stored and shown: one line, at most {@link maxErrorLength}
 * characters, with what could be a secret taken out: URL query strings and credentials
 * (SAS signatures, access tokens travel there), bearer tokens, and `key=value` pairs whose
 * key names a secret.
 */
export function boundedError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const cleaned = text
    .replace(/\s+/g, ' ')
    .replace(/(https?:\/\/)[^\s/@]*@/gi, '$1')
    .replace(/(https?:\/\/[^\s?#]*)[?#][^\s]*/gi, '$1?…')
    .replace(/\b(bearer|sharedaccesssignature)\s+\S+/gi, '$1 …')
    .replace(
      /\b([\w-]*(?:key|secret|token|signature|sig|password|pwd|credential)[\w-]*)\s*[=:]\s*("[^"]*"|'[^']*'|[^\s,;&]+)/gi,
      '$1=…',
    )
    .trim();
  return cleaned.length > maxErrorLength ? `${cleaned.slice(0, maxErrorLength - 1)}…` : cleaned;
}

/**
 * The document id of one version's target. Targets may hold characters Cosmos refuses in
 * ids (`/`, `\`, `?`, `#`), so the target is hashed; the version leads so ids sort by it.
 */
export function deliveryEntryId(version: number, target: string): string {
  const digest = createHash('sha256').update(target).digest('base64url').slice(0, 22);
  return `${String(version).padStart(10, '0')}.${digest}`;
}

/** `previous` (if any) with one more attempt applied. */
export function nextEntry(
  previous: DeliveryEntry | undefined,
  attempt: DeliveryAttempt,
): DeliveryEntry {
  const receipt = attempt.receipt;
  const recipient = receipt?.recipient ?? previous?.recipient ?? targetName(attempt.target);
  const providerMessageId = receipt?.providerMessageId ?? previous?.providerMessageId;
  const lastError =
    attempt.outcome === 'delivered'
      ? previous?.lastError
      : attempt.error === undefined
        ? previous?.lastError
        : boundedError(attempt.error);
  return {
    id: deliveryEntryId(attempt.version, attempt.target),
    alertId: attempt.alertId,
    equipmentId: attempt.equipmentId,
    version: attempt.version,
    eventType: attempt.eventType,
    target: attempt.target,
    channel: channelOf(attempt.target),
    recipient,
    userIds: [...new Set([...(previous?.userIds ?? []), ...attempt.userIds])].sort(),
    status:
      attempt.outcome === 'delivered'
        ? 'delivered'
        : attempt.outcome === 'dropped'
          ? 'dropped'
          : 'pending-retry',
    // A drop is no attempt: nothing was sent.
    attempts: (previous?.attempts ?? 0) + (attempt.outcome === 'dropped' ? 0 : 1),
    firstAttemptAt: previous?.firstAttemptAt ?? attempt.at,
    lastAttemptAt: attempt.at,
    ...(providerMessageId === undefined ? {} : { providerMessageId }),
    ...(lastError === undefined ? {} : { lastError }),
  };
}

function statusOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

function entryOf(resource: ItemDefinition): DeliveryEntry {
  const { _rid, _self, _etag, _ts, _attachments, ttl, ...entry } = resource;
  return entry as DeliveryEntry;
}

/** The delivery log in the `deliveries` container. */
export class CosmosDeliveryLog implements DeliveryLog {
  constructor(private readonly deliveries: Container) {}

  async record(attempts: readonly DeliveryAttempt[]): Promise<void> {
    const results = await Promise.allSettled(attempts.map((attempt) => this.recordOne(attempt)));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * Read, then replace under the read's ETag (or create): two writers of the same entry (the
   * writer's own attempt and a sweep, rarely) each count their attempt.
   */
  private async recordOne(attempt: DeliveryAttempt): Promise<void> {
    const id = deliveryEntryId(attempt.version, attempt.target);
    const item = this.deliveries.item(id, attempt.alertId);
    for (let round = 0; round < 4; round++) {
      const { resource } = await item.read<ItemDefinition>();
      const next = nextEntry(resource ? entryOf(resource) : undefined, attempt);
      try {
        if (resource) {
          await item.replace(next, {
            accessCondition: { type: 'IfMatch', condition: resource._etag },
          });
        } else {
          await this.deliveries.items.create(next);
        }
        return;
      } catch (error) {
        const code = statusOf(error);
        if (code !== 412 && code !== 409) throw error;
      }
    }
    throw new Error(`The delivery log entry ${id} of alert ${attempt.alertId} kept changing`);
  }
}
