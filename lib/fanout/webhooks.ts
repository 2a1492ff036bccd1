/**
 * Alert events to customers' systems through webhooks. The deliverer (deliverer.ts) expands
 * the duty `webhooks` of an alert version into one target `webhook:<id>` per active webhook
 * whose event types and filters match, and sends each here: a JSON body after the Standard
 * Webhooks specification (webhookSignature.ts), POSTed to an address checked at this very
 * delivery (webhookAddress.ts) and connected to by that address, never resolved again.
 * A target that fails stays owed and the sweep retries it with backoff (outbox.ts); each
 * failure is counted on the webhook, a success resets the count, and a long run of failures
 * (WEBHOOK_DISABLE_AFTER_FAILURES), or a `410 Gone`, disables it with the reason recorded.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { publicAlert, type Alert, type AlertEventType } from '../telemetry/alerts.js';
import { checkTarget, type HostResolver, type WebhookAddressPolicy } from './webhookAddress.js';
import type { SealedSecret, WebhookSecretStore } from './webhookSecrets.js';
import type { DeliveryReceipt } from './deliveryLog.js';
import { signWebhook, type SignedHeaders } from './webhookSignature.js';

/** A webhook as delivery sees it. */
export interface WebhookSubscription {
  id: number;
  url: string;
  eventTypes: readonly AlertEventType[];
  /** Null: any. Otherwise the alert's value must be one of these. */
  severities: readonly string[] | null;
  equipmentTypes: readonly string[] | null;
  locations: readonly string[] | null;
}

/** What delivery needs from MySQL (lib/api/webhooks.ts implements it). */
export interface WebhookRegistry {
  /** Every active webhook. */
  active(): Promise<WebhookSubscription[]>;
  /** One active webhook with its sealed secret; undefined when deleted or inactive. */
  forDelivery(id: number): Promise<(WebhookSubscription & { secret: SealedSecret }) | undefined>;
  /** The type and location of an equipment (by the alert's equipment id), if registered. */
  equipment(equipmentId: string): Promise<{ type: string; location: string | null } | undefined>;
  /** A delivery arrived: the run of failures ends. */
  succeeded(id: number): Promise<void>;
  /**
   * A delivery failed: counts it, and disables the webhook with `reason` when the run
   * reaches `disableAfter` or `disableNow` holds. Answers whether it is now disabled.
   */
  failed(id: number, reason: string, disableAfter: number, disableNow: boolean): Promise<boolean>;
}

export interface WebhookSenderOptions {
  registry: WebhookRegistry;
  secrets: WebhookSecretStore;
  policy: WebhookAddressPolicy;
  /** Consecutive failures that disable a webhook. */
  disableAfterFailures: number;
  /** Bound on one delivery: connecting, sending and the answer. */
  timeoutMs: number;
  /** Most bytes of an answer read; the rest is dropped with the connection. */
  maxResponseBytes: number;
  resolve?: HostResolver;
  now?: () => number;
  log(message: string): void;
}

/** The Standard Webhooks payload: the event type, when it happened, and the alert. */
export interface WebhookPayload {
  type: AlertEventType;
  timestamp: string;
  data: { alert: ReturnType<typeof publicAlert> };
}

export class WebhookDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

/** The URL as receipts and logs show it: no query (it may carry a customer's token). */
function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** When the event happened: the alert version's own change, as its timeline records it. */
function eventTime(alert: Alert): string {
  return alert.timeline?.findLast((entry) => entry.version === alert.version)?.at ?? alert.raisedAt;
}

/**
 * The message id: the same for every attempt of one alert version to one webhook (the
 * receiver's idempotency key), different otherwise; no `.` (the spec forbids one).
 */
export function webhookMessageId(webhookId: number, alert: Alert): string {
  const digest = createHash('sha256')
    .update(`${webhookId}\n${alert.id}\n${alert.version}`)
    .digest('base64url');
  return `msg_${digest.slice(0, 32)}`;
}

function matches(
  webhook: WebhookSubscription,
  alert: Alert,
  type: AlertEventType,
  equipment: { type: string; location: string | null } | undefined,
): boolean {
  if (!webhook.eventTypes.includes(type)) return false;
  if (webhook.severities && !webhook.severities.includes(alert.severity)) return false;
  if (webhook.equipmentTypes && !(equipment && webhook.equipmentTypes.includes(equipment.type)))
    return false;
  if (webhook.locations && !(equipment?.location && webhook.locations.includes(equipment.location)))
    return false;
  return true;
}

export class WebhookSender {
  private readonly now: () => number;

  constructor(private readonly options: WebhookSenderOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The `webhook:<id>` targets an alert version owes. */
  async targets(alert: Alert, type: AlertEventType): Promise<string[]> {
    const candidates = (await this.options.registry.active()).filter((webhook) =>
      webhook.eventTypes.includes(type),
    );
    if (candidates.length === 0) return [];
    const needsEquipment = candidates.some((w) => w.equipmentTypes || w.locations);
    const equipment = needsEquipment
      ? await this.options.registry.equipment(alert.equipmentId)
      : undefined;
    return candidates
      .filter((webhook) => matches(webhook, alert, type, equipment))
      .map((webhook) => `webhook:${webhook.id}`);
  }

  /**
   * Sends one alert version to webhook `name` (its id). Resolves when it arrived or is no
   * longer owed (the webhook was deleted or disabled since); throws when it failed.
   */
  async send(
    name: string,
    alert: Alert,
    type: AlertEventType,
    signal: AbortSignal,
  ): Promise<DeliveryReceipt | undefined> {
    const id = Number(name);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`Bad webhook target ${name}`);
    const webhook = await this.options.registry.forDelivery(id);
    if (!webhook) return undefined;
    const url = new URL(webhook.url);
    // Outside the count: a Key Vault outage is ours, not the receiver's, and must not
    // disable anyone's webhook. The target stays owed and the sweep retries it.
    const secret = await this.options.secrets.open(webhook.secret);
    try {
      const target = await checkTarget(url, this.options.policy, this.options.resolve);
      const payload: WebhookPayload = {
        type,
        timestamp: eventTime(alert),
        data: { alert: publicAlert(alert) },
      };
      const body = JSON.stringify(payload);
      const headers = signWebhook(secret, webhookMessageId(id, alert), this.now() / 1000, body);
      const status = await this.post(target.url, target.address, headers, body, signal);
      if (status < 200 || status > 299) {
        throw new WebhookDeliveryError(
          status === 410
            ? 'The receiver answered 410 Gone'
            : `The receiver answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`,
        );
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const gone = reason === 'The receiver answered 410 Gone';
      const disabled = await this.options.registry.failed(
        id,
        reason,
        this.options.disableAfterFailures,
        gone,
      );
      if (disabled) {
        this.options.log(`Webhook ${id} (${displayUrl(url)}) disabled: ${reason}`);
        // Disabled: nothing more is owed to it; the reason is on the webhook.
        return undefined;
      }
      throw new WebhookDeliveryError(`Webhook ${id} (${displayUrl(url)}): ${reason}`);
    }
    await this.options.registry.succeeded(id);
    return { recipient: displayUrl(url), providerMessageId: webhookMessageId(id, alert) };
  }

  /**
   * POSTs `body` to `url` over a connection to `address` (the checked one: no resolution
   * happens here). TLS still verifies the certificate against the URL's host name, which is
   * also the SNI name and the Host header. No agent (no pooled connection to another
   * address), no redirects (node:http never follows them), a time bound and a size bound.
   */
  private post(
    url: URL,
    address: string,
    headers: SignedHeaders,
    body: string,
    signal: AbortSignal,
  ): Promise<number> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs)]);
    return new Promise<number>((resolve, reject) => {
      const outgoing = send(
        {
          host: address,
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          agent: false,
          signal: bounded,
          // An IP literal is not a valid SNI name; the certificate is then checked against it.
          ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
          headers: {
            host: url.host,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'sis-webhooks/1',
            ...headers,
          },
        },
        (response: IncomingMessage) => {
          const status = response.statusCode ?? 0;
          let received = 0;
          response.on('data', (chunk: Buffer) => {
            received += chunk.length;
            // The answer's content does not matter; an endless one must not cost memory.
            if (received > this.options.maxResponseBytes) {
              response.destroy();
              resolve(status);
            }
          });
          response.on('end', () => {
            resolve(status);
          });
          // Cut off (the size or time bound): the status line already came, and decides.
          response.on('error', () => {
            resolve(status);
          });
          response.on('close', () => {
            resolve(status);
          });
        },
      );
      outgoing.on('error', (error) => {
        reject(
          new WebhookDeliveryError(
            bounded.aborted ? 'No answer in time' : `Could not connect: ${error.message}`,
          ),
        );
      });
      outgoing.end(body);
    });
  }
}
