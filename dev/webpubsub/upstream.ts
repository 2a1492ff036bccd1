/**
 * Upstream event handlers of the Web PubSub stand-in: user events from PubSub WebSocket
 * clients, forwarded to the hub's event handler URL as the service forwards them
 * (MicrosoftDocs/azure-docs articles/azure-web-pubsub/reference-cloud-events.md):
 * - abuse protection first: an OPTIONS request with `WebHook-Request-Origin: <our host>`,
 *   which must be answered 2xx with `WebHook-Allowed-Origin` `*` or our host; once validated
 *   a URL is not asked again;
 * - then a CloudEvents binary-mode POST: `ce-specversion`, `ce-type:
 *   azure.webpubsub.user.<event>`, `ce-source`, `ce-id`, `ce-time`, `ce-signature:
 *   sha256=<hex HMAC-SHA256 of the connection id with the access key>`, `ce-userId`,
 *   `ce-connectionId`, `ce-hub`, `ce-eventName`, `ce-subprotocol` and `ce-awpsversion`
 *   (the header `@azure/web-pubsub-express` recognises the service by); Content-Type
 *   `application/json`, `text/plain` or `application/octet-stream` by the event's dataType;
 * - a handler whose settings have `auth: { type: 'ManagedIdentity', managedIdentity:
 *   { resource } }` also gets `Authorization: Bearer <token>`: in Azure an Entra access
 *   token the service obtains with its managed identity for `resource` (MicrosoftDocs/
 *   azure-docs articles/azure-web-pubsub/howto-use-managed-identity.md, "Use a managed
 *   identity in client events scenarios"); here a token from the `tokenFor` source the
 *   stand-in is given, asked for each request as the service asks its identity's cache;
 * - user events are blocking: one connection's events go upstream one at a time, in order; a
 *   2xx answer with a body goes back to the client as a message from the server (dataType
 *   from the Content-Type), 204 sends nothing; any other answer, a failed validation or an
 *   unreachable handler drops the client's connection ("Error response format"). The
 *   reference describes no retries for user events, so there are none here.
 *
 * Not forwarded: system events (`connect`, `connected`, `disconnected`), which the app does
 * not subscribe to, and frames of simple WebSocket clients.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Connection, Payload } from './hub.js';

/** A hub's event handler, as the hub settings' `eventHandlers[]` entry in Azure has it. */
export interface EventHandlerSettings {
  /** URL the events go to; `{event}` and `{hub}` are replaced, as in the service. */
  urlTemplate: string;
  /** `*` for every user event, or a comma-separated list of event names. */
  userEventPattern: string;
  /** Authenticate to the handler with a token of the service's managed identity. */
  auth?: { type: 'ManagedIdentity'; managedIdentity: { resource: string } };
}

/** Gives a token of the service's identity for `resource` (the audience), as Entra would. */
export type UpstreamTokenSource = (resource: string) => Promise<string>;

/** How long one upstream call may take before the connection is dropped as failed. */
const upstreamTimeoutMs = 30_000;

function matches(pattern: string, event: string): boolean {
  return pattern
    .split(',')
    .map((name) => name.trim())
    .some((name) => name === '*' || name === event);
}

function contentTypeOf(payload: Payload): string {
  if (payload.dataType === 'json') return 'application/json';
  return payload.dataType === 'text' ? 'text/plain' : 'application/octet-stream';
}

function bodyOf(payload: Payload): string | Buffer {
  if (payload.dataType === 'json') return JSON.stringify(payload.data);
  return payload.data;
}

/** Reads the handler's answer as the payload the service would send back to the client. */
async function replyOf(response: Response): Promise<Payload | undefined> {
  const bytes = Buffer.from(await response.arrayBuffer());
  if (response.status === 204 || bytes.length === 0) return undefined;
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim();
  if (type === 'application/json') {
    return { dataType: 'json', data: JSON.parse(bytes.toString('utf8')) as unknown };
  }
  if (type === 'text/plain') return { dataType: 'text', data: bytes.toString('utf8') };
  return { dataType: 'binary', data: bytes };
}

/** Forwards user events of hubs that have an event handler. */
export class Upstream {
  private readonly validated = new Set<string>();
  private readonly queues = new WeakMap<Connection, Promise<void>>();

  constructor(
    private readonly handlers: ReadonlyMap<string, EventHandlerSettings>,
    private readonly accessKey: string,
    /** Our host (`127.0.0.1:PORT`), sent as `WebHook-Request-Origin`. */
    private readonly origin: () => string,
    /** Required when a handler has `auth`: the stand-in of the service's managed identity. */
    private readonly tokenFor?: UpstreamTokenSource,
  ) {
    for (const [hub, handler] of handlers) {
      if (handler.auth && !tokenFor) {
        throw new Error(`The event handler of hub ${hub} has auth, but no token source is given.`);
      }
    }
  }

  /** True when `event` of the connection's hub goes upstream (then it is queued). */
  forward(connection: Connection, event: string, payload: Payload): boolean {
    const handler = this.handlers.get(connection.hub.name.toLowerCase());
    if (!handler || !matches(handler.userEventPattern, event)) return false;
    const previous = this.queues.get(connection) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(connection, handler, event, payload));
    this.queues.set(connection, next);
    return true;
  }

  private async deliver(
    connection: Connection,
    handler: EventHandlerSettings,
    event: string,
    payload: Payload,
  ): Promise<void> {
    if (!connection.alive) return;
    const url = handler.urlTemplate
      .replaceAll('{event}', encodeURIComponent(event))
      .replaceAll('{hub}', encodeURIComponent(connection.hub.name));
    try {
      await this.validate(url);
      const signature = createHmac('sha256', this.accessKey).update(connection.id).digest('hex');
      const resource = handler.auth?.managedIdentity.resource;
      const token = resource === undefined ? undefined : await this.tokenFor?.(resource);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': contentTypeOf(payload),
          'webhook-request-origin': this.origin(),
          'ce-specversion': '1.0',
          'ce-type': `azure.webpubsub.user.${event}`,
          'ce-source': `/client/${connection.id}`,
          'ce-id': randomUUID(),
          'ce-time': new Date().toISOString(),
          'ce-signature': `sha256=${signature}`,
          ...(connection.userId === undefined ? {} : { 'ce-userid': connection.userId }),
          'ce-connectionid': connection.id,
          'ce-hub': connection.hub.name,
          'ce-eventname': event,
          'ce-subprotocol': connection.protocolName,
          'ce-awpsversion': '1.0',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: bodyOf(payload),
        signal: AbortSignal.timeout(upstreamTimeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`the event handler answered ${response.status}`);
      }
      const reply = await replyOf(response);
      if (reply) connection.deliver({ from: 'server' }, reply);
    } catch (error) {
      connection.close(`Event ${event} failed upstream: ${(error as Error).message}`);
    }
  }

  /** The abuse-protection handshake, once per URL. */
  private async validate(url: string): Promise<void> {
    if (this.validated.has(url)) return;
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': this.origin() },
      signal: AbortSignal.timeout(upstreamTimeoutMs),
    });
    await response.body?.cancel();
    const allowed = (response.headers.get('webhook-allowed-origin') ?? '')
      .split(',')
      .map((origin) => origin.trim().toLowerCase());
    if (!response.ok || !(allowed.includes('*') || allowed.includes(this.origin()))) {
      throw new Error(`the event handler did not allow origin ${this.origin()} (abuse protection)`);
    }
    this.validated.add(url);
  }
}
