/**
 * In-memory state of the Web PubSub stand-in: hubs, their connections, groups and user-group
 * memberships, and delivery of messages to connections in each subprotocol's frame format.
 * Nothing is persisted: a restart forgets every connection, group and membership, as a
 * restarted service would for connections (clients reconnect and rejoin).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

/** The plain JSON subprotocol. */
export const JSON_PROTOCOL = 'json.webpubsub.azure.v1';
/** The reliable JSON subprotocol: sequence ids, sequence acks and connection recovery. */
export const RELIABLE_PROTOCOL = 'json.reliable.webpubsub.azure.v1';

/**
 * How a connection speaks: one of the JSON subprotocols, or `none` for a "simple WebSocket
 * client" (no subprotocol), which receives message payloads as bare frames.
 */
export type ClientProtocol = 'json' | 'reliable' | 'none';

/** A message body with its data type, as carried by REST sends and client `sendToGroup`. */
export type Payload =
  | { dataType: 'json'; data: unknown }
  | { dataType: 'text'; data: string }
  | { dataType: 'binary'; data: Buffer };

/** Where a data message comes from, as the `from` field of a `message` frame says. */
export type Origin = { from: 'server' } | { from: 'group'; group: string; fromUserId?: string };

/** Close code that tells a reliable client its session is gone and recovery is pointless. */
export const CLOSE_SESSION_REMOVED = 1008;

/** Tunables; the defaults follow the service's documented behaviour. */
export interface HubLimits {
  /** How long a dropped reliable connection's session waits for recovery. */
  recoveryWindowMs: number;
  /** Unacknowledged messages a reliable connection may hold before it is dropped. */
  maxUnackedMessages: number;
}

/** Largest `ackId` history kept per connection for duplicate detection. */
const ackHistoryLimit = 10_000;

/** One client connection (for reliable clients: one session, across WebSocket reconnects). */
export class Connection {
  /** Groups this connection is in (names as given, case-sensitive like the service). */
  readonly groups = new Set<string>();
  /** Permissions: the token's roles plus those granted through the REST API. */
  readonly roles: Set<string>;
  /** Secret a reliable client presents to recover this session. */
  readonly reconnectionToken: string | undefined;
  /** The live socket, if any; undefined while a reliable session waits for recovery. */
  socket: WebSocket | undefined;
  private lastSequenceId = 0;
  private readonly unacked: { sequenceId: number; frame: string }[] = [];
  private readonly processedAckIds = new Set<number>();
  private recoveryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly hub: Hub,
    readonly id: string,
    readonly userId: string | undefined,
    roles: Iterable<string>,
    readonly protocol: ClientProtocol,
  ) {
    this.roles = new Set(roles);
    this.reconnectionToken =
      protocol === 'reliable' ? randomBytes(32).toString('base64url') : undefined;
  }

  /** True while the connection belongs to its hub (connected or awaiting recovery). */
  get alive(): boolean {
    return this.hub.connections.get(this.id) === this;
  }

  /** The subprotocol's name as the client asked for it (`ce-subprotocol`); empty for none. */
  get protocolName(): string {
    if (this.protocol === 'none') return '';
    return this.protocol === 'reliable' ? RELIABLE_PROTOCOL : JSON_PROTOCOL;
  }

  /** Messages sent but not yet covered by a sequence ack (reliable connections only). */
  get pendingMessages(): number {
    return this.unacked.length;
  }

  /** The `connected` system message, sent on connect and again after each recovery. */
  connectedFrame(): string {
    return JSON.stringify({
      type: 'system',
      event: 'connected',
      userId: this.userId ?? null,
      connectionId: this.id,
      ...(this.reconnectionToken ? { reconnectionToken: this.reconnectionToken } : {}),
    });
  }

  /** Sends a control frame (ack, pong, system); never buffered for redelivery. */
  sendControl(frame: object): void {
    if (this.protocol === 'none') return;
    this.write(JSON.stringify(frame));
  }

  /**
   * Delivers a data message. Reliable connections number it and keep it until the client's
   * sequence ack covers it, so a recovered session gets everything it missed, in order.
   */
  deliver(origin: Origin, payload: Payload): void {
    if (this.protocol === 'none') {
      // Simple WebSocket clients get the payload itself: text frames for text and JSON,
      // binary frames for binary.
      if (payload.dataType === 'binary') this.write(payload.data);
      else this.write(payload.dataType === 'text' ? payload.data : JSON.stringify(payload.data));
      return;
    }
    const body: Record<string, unknown> = { type: 'message', from: origin.from };
    if (origin.from === 'group') {
      if (origin.fromUserId !== undefined) body.fromUserId = origin.fromUserId;
      body.group = origin.group;
    }
    body.dataType = payload.dataType;
    body.data = payload.dataType === 'binary' ? payload.data.toString('base64') : payload.data;
    if (this.protocol === 'json') {
      this.write(JSON.stringify(body));
      return;
    }
    body.sequenceId = ++this.lastSequenceId;
    const frame = JSON.stringify(body);
    this.unacked.push({ sequenceId: this.lastSequenceId, frame });
    if (this.unacked.length > this.hub.limits.maxUnackedMessages) {
      // The service drops a subscriber that stops acknowledging rather than buffer forever.
      this.close('Too many unacknowledged messages.');
      return;
    }
    this.write(frame);
  }

  /** Forgets every buffered message the client has confirmed (acks are cumulative). */
  acknowledgeSequence(sequenceId: number): void {
    let drop = 0;
    while (drop < this.unacked.length && (this.unacked[drop]?.sequenceId ?? 0) <= sequenceId) {
      drop++;
    }
    this.unacked.splice(0, drop);
  }

  /** Whether `ackId` was already processed successfully (the client is resending). */
  isDuplicate(ackId: number): boolean {
    return this.processedAckIds.has(ackId);
  }

  /** Records a successfully processed `ackId`, bounded so a long session cannot grow it forever. */
  markProcessed(ackId: number): void {
    this.processedAckIds.add(ackId);
    if (this.processedAckIds.size > ackHistoryLimit) {
      const oldest = this.processedAckIds.values().next();
      if (oldest.done !== true) this.processedAckIds.delete(oldest.value);
    }
  }

  /** Attaches a (re)connected socket: cancels the recovery deadline, replays unacked messages. */
  attach(socket: WebSocket): void {
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    const previous = this.socket;
    this.socket = socket;
    // A half-open old socket must not deliver anything out of order after the new one.
    if (previous && previous !== socket) previous.terminate();
    if (this.protocol !== 'none') this.write(this.connectedFrame());
    for (const { frame } of this.unacked) this.write(frame);
  }

  /**
   * The socket went away without the server closing it. A reliable session waits for
   * recovery for a while; anything else is gone at once.
   */
  detach(socket: WebSocket): void {
    if (this.socket !== socket || !this.alive) return;
    this.socket = undefined;
    if (this.protocol !== 'reliable') {
      this.hub.remove(this);
      return;
    }
    this.recoveryTimer = setTimeout(() => {
      this.hub.remove(this);
    }, this.hub.limits.recoveryWindowMs);
    this.recoveryTimer.unref();
  }

  /**
   * Closes the connection from the service side: a `disconnected` system message, then close
   * code 1008 so a reliable client does not try to recover a session that no longer exists.
   */
  close(reason: string, code = CLOSE_SESSION_REMOVED): void {
    const socket = this.socket;
    this.hub.remove(this);
    if (!socket) return;
    this.socket = undefined;
    if (this.protocol !== 'none') {
      this.write(
        JSON.stringify({ type: 'system', event: 'disconnected', message: reason }),
        socket,
      );
    }
    // Close reasons are limited to 123 bytes by RFC 6455.
    socket.close(code, Buffer.from(reason).subarray(0, 123).toString());
  }

  /** Drops timers; used when the whole stand-in stops. */
  dispose(): void {
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
  }

  private write(data: string | Buffer, socket = this.socket): void {
    if (socket?.readyState === WebSocket.OPEN) socket.send(data);
  }
}

/** One hub: its connections, groups, and user-group memberships. */
export class Hub {
  readonly connections = new Map<string, Connection>();
  /** Group name → member connections; a group exists while it has members. */
  readonly groups = new Map<string, Set<Connection>>();
  /**
   * User id → groups the REST API added the user to. Like the service, membership belongs to
   * the user, so connections the user opens later join those groups too.
   */
  readonly userGroups = new Map<string, Set<string>>();

  constructor(
    readonly name: string,
    readonly limits: HubLimits,
  ) {}

  /** Registers a new connection and joins it to its token's groups and its user's groups. */
  add(connection: Connection, groups: Iterable<string>): void {
    this.connections.set(connection.id, connection);
    for (const group of groups) this.join(connection, group);
    if (connection.userId !== undefined) {
      for (const group of this.userGroups.get(connection.userId) ?? []) {
        this.join(connection, group);
      }
    }
  }

  /** Forgets a connection and takes it out of every group. */
  remove(connection: Connection): void {
    if (!connection.alive) return;
    this.leaveAll(connection);
    this.connections.delete(connection.id);
    connection.dispose();
  }

  join(connection: Connection, group: string): void {
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Set()));
    members.add(connection);
    connection.groups.add(group);
  }

  leave(connection: Connection, group: string): void {
    const members = this.groups.get(group);
    members?.delete(connection);
    if (members?.size === 0) this.groups.delete(group);
    connection.groups.delete(group);
  }

  leaveAll(connection: Connection): void {
    for (const group of [...connection.groups]) this.leave(connection, group);
  }

  userConnections(userId: string): Connection[] {
    return [...this.connections.values()].filter((connection) => connection.userId === userId);
  }

  addUserToGroup(userId: string, group: string): void {
    let groups = this.userGroups.get(userId);
    if (!groups) this.userGroups.set(userId, (groups = new Set()));
    groups.add(group);
    for (const connection of this.userConnections(userId)) this.join(connection, group);
  }

  removeUserFromGroup(userId: string, group: string): void {
    const groups = this.userGroups.get(userId);
    groups?.delete(group);
    if (groups?.size === 0) this.userGroups.delete(userId);
    for (const connection of this.userConnections(userId)) this.leave(connection, group);
  }

  removeUserFromAllGroups(userId: string): void {
    this.userGroups.delete(userId);
    for (const connection of this.userConnections(userId)) this.leaveAll(connection);
  }

  groupMembers(group: string): Connection[] {
    return [...(this.groups.get(group) ?? [])];
  }
}
