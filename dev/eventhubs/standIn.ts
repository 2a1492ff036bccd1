/**
 * A local stand-in for Azure Event Hubs that the real SDKs (`@azure/event-hubs`,
 * `Azure.Messaging.EventHubs`) talk to over AMQP 1.0 on loopback (`UseDevelopmentEmulator=true`
 * connection strings: plain TCP, SASL without authentication, then claims-based security over
 * the `$cbs` node). It speaks what the SDKs use, the way the service answers it; this module
 * starts the listener and routes rhea's events to one module per protocol part:
 *
 * - sasl.ts: the mechanisms each SDK offers (ANONYMOUS, MSSBCBS);
 * - cbs.ts: `put-token` with SAS tokens checked against the configured keys and their rights;
 * - management.ts: `$management` READ of hub and partition properties;
 * - publish.ts: publishing to a hub (partition by key hash or round robin) or to a partition;
 * - receive.ts: receiving per consumer group and partition from any start position, with
 *   credit-based flow and exclusive (epoch) receivers;
 * - state.ts: what all of them share, one explicit object.
 *
 * Retention is in memory and bounded (see {@link RetentionPolicy}); nothing survives
 * {@link EventHubsStandIn.stop}.
 */
import type { Socket } from 'node:net';
import rhea from 'rhea';
import type { Connection, Container, EventContext } from 'rhea';
import { isLoopbackHost } from '../../lib/loopback.js';
import { authorised, resourcePath } from './access.js';
import { amqpError, echoSettleModes, refuse } from './amqp.js';
import { handleCbsRequest } from './cbs.js';
import { handleManagementRequest } from './management.js';
import { defaultRetention, type RetentionPolicy } from './partition.js';
import { openPublishLink, publish } from './publish.js';
import { isReceivePath, openReceiver, pump, removeReceiver } from './receive.js';
import { flushReplies, openReplyLink } from './replies.js';
import { saslServerMechanisms } from './sasl.js';
import type { SharedAccessKey } from './sas.js';
import { connectionState, createState, type EventHubConfig, type StandInState } from './state.js';

export type { EventHubConfig } from './state.js';

/** Options for {@link startEventHubsStandIn}. */
export interface EventHubsStandInOptions {
  /** A loopback address (`127.0.0.1`, `::1` or `localhost`); default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 5672, the port the SDKs assume for emulators. */
  port?: number;
  hubs: readonly EventHubConfig[];
  /** Shared access policies tokens may be signed with. */
  keys: readonly SharedAccessKey[];
  /** Per-partition retention; defaults in {@link defaultRetention}. */
  retention?: Partial<RetentionPolicy>;
}

/** A running stand-in. */
export interface EventHubsStandIn {
  readonly host: string;
  readonly port: number;
  /**
   * A connection string for a configured key, in the emulator form the SDKs understand:
   * `Endpoint=sb://HOST:PORT;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=HUB;UseDevelopmentEmulator=true`.
   * `hubName` defaults to the first configured hub.
   */
  connectionString(keyName: string, hubName?: string): string;
  /** Closes every connection and the listener. */
  stop(): Promise<void>;
}

/** The client attached a sending link: the stand-in receives on it. */
function onReceiverOpen(state: StandInState, context: EventContext): void {
  const link = context.receiver;
  if (!link) return;
  const address = typeof link.target.address === 'string' ? link.target.address : '';
  const path = resourcePath(address).split('/');
  link.set_target(link.target);
  echoSettleModes(link);
  if (path.length === 1 && path[0] === '$cbs') {
    state.inbound.set(link, { kind: 'cbs' });
  } else if (path[path.length - 1] === '$management') {
    state.inbound.set(link, { kind: 'management' });
  } else {
    openPublishLink(state, context.connection, link, path, address);
  }
}

/** The client attached a receiving link: the stand-in sends on it. */
function onSenderOpen(state: StandInState, context: EventContext): void {
  const link = context.sender;
  if (!link) return;
  const address = typeof link.source.address === 'string' ? link.source.address : '';
  const path = resourcePath(address).split('/');
  if (path.length === 1 && (path[0] === '$cbs' || path[0] === '$management')) {
    openReplyLink(state, context.connection, link, address);
  } else if (isReceivePath(path)) {
    openReceiver(state, context.connection, link, path);
  } else {
    refuse(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
  }
}

function onMessage(state: StandInState, context: EventContext): void {
  const link = context.receiver;
  const inbound = link ? state.inbound.get(link) : undefined;
  if (!inbound) return;
  if (inbound.kind === 'publish') {
    publish(context, inbound);
    return;
  }
  const request = context.message;
  context.delivery?.accept();
  if (!request) return;
  if (inbound.kind === 'cbs') handleCbsRequest(state, context.connection, request);
  else handleManagementRequest(state, context.connection, request);
}

/**
 * A claim lasts until its token expires: links that relied on it are then detached, as the
 * service does when a client stops renewing its token (the SDKs renew well before expiry).
 */
function detachExpired(state: StandInState): void {
  for (const [connection, perConnection] of state.connections) {
    for (const [link, need] of [...perConnection.guarded]) {
      if (authorised(state, connection, need.path, need.right)) continue;
      perConnection.guarded.delete(link);
      if (need.receiver) removeReceiver(state, need.receiver);
      link.close(
        amqpError(
          'amqp:unauthorized-access',
          `The token for '${need.path}' has expired; put a new one on $cbs and attach again.`,
        ),
      );
    }
  }
}

function forget(state: StandInState, connection: Connection): void {
  const perConnection = state.connections.get(connection);
  if (!perConnection) return;
  for (const receiver of [...perConnection.receivers]) removeReceiver(state, receiver);
  state.connections.delete(connection);
}

/** Routes rhea's events to the protocol parts. */
function wire(container: Container, state: StandInState): void {
  container.on('connection_open', (context: EventContext) => {
    connectionState(state, context.connection);
  });
  container.on('receiver_open', (context: EventContext) => {
    onReceiverOpen(state, context);
  });
  container.on('sender_open', (context: EventContext) => {
    onSenderOpen(state, context);
  });
  container.on('message', (context: EventContext) => {
    onMessage(state, context);
  });
  container.on('sendable', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    const reply = state.replyLinks.get(link);
    if (reply) flushReplies(reply);
    const receiver = state.activeReceivers.get(link);
    if (receiver) pump(receiver);
  });
  container.on('sender_draining', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    const receiver = state.activeReceivers.get(link);
    if (receiver) pump(receiver);
    // Whatever credit is left cannot be used now: hand it back, as drain asks.
    link.set_drained(true);
  });
  container.on('sender_close', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    state.connections.get(context.connection)?.guarded.delete(link);
    const receiver = state.activeReceivers.get(link);
    if (receiver) removeReceiver(state, receiver);
  });
  container.on('receiver_close', (context: EventContext) => {
    const link = context.receiver;
    if (link) state.connections.get(context.connection)?.guarded.delete(link);
  });
  container.on('connection_close', (context: EventContext) => {
    forget(state, context.connection);
  });
  container.on('disconnected', (context: EventContext) => {
    forget(state, context.connection);
  });
  // Peers' errors (a client detaching with an error, a dropped socket) are theirs to handle;
  // without these listeners rhea would re-emit them as 'error' and crash the process.
  for (const event of [
    'error',
    'connection_error',
    'session_error',
    'sender_error',
    'receiver_error',
  ]) {
    container.on(event, () => undefined);
  }
}

/**
 * Starts the stand-in and resolves once it listens.
 *
 * @example
 * const eh = await startEventHubsStandIn({ port: 0, hubs: [{ name: 'telemetry', partitions: 4 }],
 *   keys: [{ name: 'app', key: 'secret', rights: ['Listen', 'Send'] }] });
 * const producer = new EventHubProducerClient(eh.connectionString('app'));
 */
export async function startEventHubsStandIn(
  options: EventHubsStandInOptions,
): Promise<EventHubsStandIn> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new Error(`The Event Hubs stand-in listens on loopback only, not on '${host}'.`);
  }
  const retention: RetentionPolicy = { ...defaultRetention, ...options.retention };
  const state = createState(options.hubs, options.keys, retention);

  const container = rhea.create_container({ id: 'eventhubs-stand-in' });
  // ANONYMOUS and MSSBCBS: identity comes from the tokens put on $cbs (see sasl.ts). With
  // ANONYMOUS offered, rhea also takes clients that skip SASL (a JS `SharedAccessSignature=`
  // connection string has no user name, so the JS SDK does).
  container.sasl_server_mechanisms = saslServerMechanisms();
  wire(container, state);
  const expiryCheck = setInterval(() => {
    detachExpired(state);
  }, 1_000);
  expiryCheck.unref();

  const sockets = new Set<Socket>();
  const server = container.listen({
    host,
    port: options.port ?? 5672,
    // Publishing links settle deliveries themselves, to reject what cannot be stored.
    receiver_options: { autoaccept: false },
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 5672);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    host,
    port,
    connectionString(keyName: string, hubName?: string): string {
      const key = state.keys.find((k) => k.name === keyName);
      if (!key) throw new Error(`No key named '${keyName}' is configured.`);
      const hub = hubName ?? options.hubs[0]?.name ?? '';
      return `Endpoint=sb://${urlHost}:${port};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key};EntityPath=${hub};UseDevelopmentEmulator=true`;
    },
    async stop(): Promise<void> {
      clearInterval(expiryCheck);
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      for (const connection of state.connections.keys()) {
        try {
          connection.close(amqpError('amqp:connection:forced', 'The stand-in is stopping.'));
        } catch {
          // already gone
        }
      }
      // Give clients a moment to read the close frame, then cut what is left.
      const deadline = Date.now() + 250;
      while (sockets.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
