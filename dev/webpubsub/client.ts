/**
 * The client endpoint of the Web PubSub stand-in: `/client/hubs/{hub}` over WebSocket, with
 * the `json.webpubsub.azure.v1` and `json.reliable.webpubsub.azure.v1` subprotocols (and
 * "simple" clients with no subprotocol, which only receive). What `@azure/web-pubsub-client`
 * 1.1.0 relies on:
 * - the `access_token` query parameter (or a bearer header): an HS256 JWT signed with the
 *   access key, audience the client URL; `sub` is the user id, `role` the permissions and
 *   `webpubsub.group` the groups joined on connect;
 * - a `connected` system message first (with `reconnectionToken` on the reliable protocol);
 * - `joinGroup` / `leaveGroup` need `webpubsub.joinLeaveGroup[.<group>]`, `sendToGroup`
 *   needs `webpubsub.sendToGroup[.<group>]`; each request with an `ackId` gets an `ack`
 *   (`Forbidden`, `BadRequest`, or `Duplicate` for an `ackId` already processed);
 * - reliable connections: every `message` carries `sequenceId`; `sequenceAck` releases them;
 *   after a drop the client reconnects with `awps_connection_id` and
 *   `awps_reconnection_token` and gets every unacknowledged message again, in order; an
 *   unknown or expired session is answered with close code 1008, which ends recovery.
 * - `ping` gets `pong` (the SDK's keep-alive); `event` is acknowledged, handed to `onEvent`
 *   and, when the hub has an event handler for it, forwarded upstream (upstream.ts); `invoke`
 *   is answered as unsupported.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { TokenError, clientClaims, verifyAccessToken } from './auth.js';
import type { Upstream } from './upstream.js';
import {
  CLOSE_SESSION_REMOVED,
  Connection,
  JSON_PROTOCOL,
  RELIABLE_PROTOCOL,
  type ClientProtocol,
  type Hub,
  type Payload,
} from './hub.js';

/** A client `event` request, handed to {@link ClientEndpointOptions.onEvent}. */
export interface ClientEvent {
  hub: string;
  connectionId: string;
  userId: string | undefined;
  event: string;
  payload: Payload;
}

/** What the client endpoint needs from the stand-in. */
export interface ClientEndpointOptions {
  key: Uint8Array;
  hub(name: string): Hub | undefined;
  /** Called for each client `event`. */
  onEvent?: (event: ClientEvent) => void;
  /** Forwards client events to the hubs' event handlers. */
  upstream?: Upstream;
}

/** The WebSocket half of the stand-in, attached to the HTTP server's `upgrade` event. */
export interface ClientEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sockets still open; the stand-in terminates them when it stops. */
  readonly sockets: ReadonlySet<WebSocket>;
}

const clientPathPattern = /^\/client\/hubs\/([^/]+)\/?$/;

/** Picks the subprotocol the service would: reliable first, then plain JSON. */
function chooseProtocol(offered: ReadonlySet<string>): string | undefined {
  if (offered.has(RELIABLE_PROTOCOL)) return RELIABLE_PROTOCOL;
  if (offered.has(JSON_PROTOCOL)) return JSON_PROTOCOL;
  return undefined;
}

function offeredProtocols(req: IncomingMessage): Set<string> {
  const header = req.headers['sec-websocket-protocol'];
  return new Set(
    (header ?? '')
      .split(',')
      .map((protocol) => protocol.trim())
      .filter(Boolean),
  );
}

/** Refuses an upgrade with a plain HTTP response, as the service does before the handshake. */
function refuse(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n` +
      message,
  );
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Decodes a client-sent payload; undefined when `dataType` and `data` do not fit together. */
function readClientPayload(message: Record<string, unknown>): Payload | undefined {
  const { dataType, data } = message;
  switch (dataType) {
    case 'json':
      return data === undefined ? undefined : { dataType: 'json', data };
    case 'text':
      return typeof data === 'string' ? { dataType: 'text', data } : undefined;
    case 'binary':
      return typeof data === 'string'
        ? { dataType: 'binary', data: Buffer.from(data, 'base64') }
        : undefined;
    default:
      return undefined;
  }
}

function isValidGroup(group: unknown): group is string {
  return (
    typeof group === 'string' && group.length > 0 && group.length <= 1024 && !/^\s+$/.test(group)
  );
}

/** Whether the connection holds `role` for all groups or for `group` specifically. */
function permits(connection: Connection, role: string, group: string): boolean {
  return connection.roles.has(role) || connection.roles.has(`${role}.${group}`);
}

/** Why a request failed, as its `ack` reports it. */
interface RequestError {
  name: string;
  message: string;
}

/** A client request, decoded from one text frame. */
type ClientMessage = Record<string, unknown>;

/** The frame's JSON object; undefined for what the service would not read as a request. */
function parseFrame(data: RawData, isBinary: boolean): ClientMessage | undefined {
  if (isBinary) return undefined;
  let parsed: unknown;
  try {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return parsed as ClientMessage;
}

/**
 * Runs `action` and acknowledges its outcome when the request has an `ackId`, unless that
 * ackId was already processed (the client resending): then the ack says `Duplicate`.
 */
function runAcknowledged(
  connection: Connection,
  message: ClientMessage,
  action: () => RequestError | undefined,
): void {
  const ackId = typeof message.ackId === 'number' ? message.ackId : undefined;
  const ack = (error: RequestError | undefined) => {
    if (ackId === undefined) return;
    if (!error) connection.markProcessed(ackId);
    connection.sendControl({ type: 'ack', ackId, success: !error, ...(error ? { error } : {}) });
  };
  if (ackId !== undefined && connection.isDuplicate(ackId)) {
    ack({ name: 'Duplicate', message: `Message with ack-id: ${ackId} has been processed` });
    return;
  }
  ack(action());
}

/** `joinGroup` / `leaveGroup`: needs `webpubsub.joinLeaveGroup[.<group>]`. */
function joinOrLeaveGroup(
  connection: Connection,
  message: ClientMessage,
  joining: boolean,
): RequestError | undefined {
  const group = message.group;
  if (!isValidGroup(group)) return { name: 'BadRequest', message: 'Invalid group name.' };
  if (!permits(connection, 'webpubsub.joinLeaveGroup', group)) {
    return {
      name: 'Forbidden',
      message: `The connection has no permission to ${joining ? 'join' : 'leave'} group ${group}.`,
    };
  }
  if (joining) connection.hub.join(connection, group);
  else connection.hub.leave(connection, group);
  return undefined;
}

/** `sendToGroup`: needs `webpubsub.sendToGroup[.<group>]`; `noEcho` skips the sender. */
function sendToGroup(connection: Connection, message: ClientMessage): RequestError | undefined {
  const group = message.group;
  if (!isValidGroup(group)) return { name: 'BadRequest', message: 'Invalid group name.' };
  if (!permits(connection, 'webpubsub.sendToGroup', group)) {
    return {
      name: 'Forbidden',
      message: `The connection has no permission to send to group ${group}.`,
    };
  }
  const payload = readClientPayload(message);
  if (!payload) return { name: 'BadRequest', message: 'Invalid dataType or data.' };
  const origin = {
    from: 'group' as const,
    group,
    ...(connection.userId === undefined ? {} : { fromUserId: connection.userId }),
  };
  for (const member of connection.hub.groupMembers(group)) {
    if (message.noEcho === true && member === connection) continue;
    member.deliver(origin, payload);
  }
  return undefined;
}

/** `event`: handed to `onEvent` and forwarded to the hub's event handler, if it has one. */
function forwardEvent(
  connection: Connection,
  message: ClientMessage,
  options: ClientEndpointOptions,
): RequestError | undefined {
  const payload = readClientPayload(message);
  if (typeof message.event !== 'string' || !payload) {
    return { name: 'BadRequest', message: 'Invalid event, dataType or data.' };
  }
  options.onEvent?.({
    hub: connection.hub.name,
    connectionId: connection.id,
    userId: connection.userId,
    event: message.event,
    payload,
  });
  options.upstream?.forward(connection, message.event, payload);
  return undefined;
}

/** `invoke`: answered as unsupported, since nothing upstream could answer it. */
function refuseInvoke(connection: Connection, message: ClientMessage): void {
  connection.sendControl({
    type: 'invokeResponse',
    invocationId: message.invocationId,
    success: false,
    error: { name: 'NotSupported', message: 'The stand-in has no upstream to invoke.' },
  });
}

/** Handles one frame from a JSON-subprotocol client: one function per request type. */
function handleFrame(
  connection: Connection,
  data: RawData,
  isBinary: boolean,
  options: ClientEndpointOptions,
): void {
  // Simple clients' frames would go to an upstream event handler; there is none here.
  if (connection.protocol === 'none') return;
  const message = parseFrame(data, isBinary);
  if (!message) return;
  switch (message.type) {
    case 'joinGroup':
    case 'leaveGroup':
      runAcknowledged(connection, message, () =>
        joinOrLeaveGroup(connection, message, message.type === 'joinGroup'),
      );
      return;
    case 'sendToGroup':
      runAcknowledged(connection, message, () => sendToGroup(connection, message));
      return;
    case 'event':
      runAcknowledged(connection, message, () => forwardEvent(connection, message, options));
      return;
    case 'sequenceAck':
      if (typeof message.sequenceId === 'number') {
        connection.acknowledgeSequence(message.sequenceId);
      }
      return;
    case 'ping':
      connection.sendControl({ type: 'pong' });
      return;
    case 'invoke':
      refuseInvoke(connection, message);
      return;
    default:
      // Unknown request types are ignored, as the service ignores what it does not know.
      return;
  }
}

/** Creates the client endpoint. */
export function createClientEndpoint(options: ClientEndpointOptions): ClientEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => chooseProtocol(protocols) ?? false,
  });

  function bind(connection: Connection, socket: WebSocket): void {
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      // Frames from a socket replaced by a recovery must not act on the session any more.
      if (connection.socket === socket) handleFrame(connection, data, isBinary, options);
    });
    socket.on('close', () => {
      connection.detach(socket);
    });
    connection.attach(socket);
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const pathMatch = clientPathPattern.exec(url.pathname);
    let hubName: string;
    try {
      hubName = decodeURIComponent(pathMatch?.[1] ?? '');
    } catch {
      hubName = '';
    }
    const hub = hubName ? options.hub(hubName) : undefined;
    if (!pathMatch || !hub) {
      refuse(socket, 404, 'No such hub.');
      return;
    }
    const offered = offeredProtocols(req);
    const chosen = chooseProtocol(offered);
    if (offered.size > 0 && !chosen) {
      refuse(socket, 400, 'Unsupported subprotocol.');
      return;
    }
    const protocol: ClientProtocol =
      chosen === RELIABLE_PROTOCOL ? 'reliable' : chosen === JSON_PROTOCOL ? 'json' : 'none';

    const recoverId = url.searchParams.get('awps_connection_id');
    if (recoverId !== null) {
      const token = url.searchParams.get('awps_reconnection_token') ?? '';
      const session = hub.connections.get(recoverId);
      const valid =
        session?.protocol === 'reliable' &&
        protocol === 'reliable' &&
        session.reconnectionToken !== undefined &&
        sameSecret(session.reconnectionToken, token);
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (valid) {
          bind(session, ws);
        } else {
          // Close (not refuse) so the client sees 1008 and stops trying to recover.
          ws.on('error', () => undefined);
          ws.close(CLOSE_SESSION_REMOVED, 'The connection session does not exist.');
        }
      });
      return;
    }

    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = url.searchParams.get('access_token') ?? bearer;
    if (!token) {
      refuse(socket, 401, 'An access token is required.');
      return;
    }
    let claims;
    try {
      const audience = new URL(url.pathname.replace(/\/+$/, ''), url.origin);
      claims = clientClaims(await verifyAccessToken(token, options.key, audience));
    } catch (error) {
      refuse(socket, 401, error instanceof TokenError ? error.message : 'Invalid access token.');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(
        hub,
        randomBytes(18).toString('base64url'),
        claims.userId,
        claims.roles,
        protocol,
      );
      hub.add(connection, claims.groups.filter(isValidGroup));
      bind(connection, ws);
    });
  }

  return {
    sockets: wss.clients,
    handleUpgrade(req, socket, head) {
      upgrade(req, socket, head).catch((error: unknown) => {
        console.error('[webpubsub] upgrade failed', error);
        refuse(socket, 500, 'Unexpected error.');
      });
    },
  };
}
