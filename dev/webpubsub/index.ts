/**
 * The Azure Web PubSub stand-in: one loopback HTTP server that serves the data-plane REST API
 * (`/api/hubs/...`, used by `@azure/web-pubsub`) and the client WebSocket endpoint
 * (`/client/hubs/{hub}`, used by `@azure/web-pubsub-client`), so the real SDKs run unchanged
 * against `Endpoint=http://127.0.0.1:PORT;AccessKey=...;Version=1.0;`.
 *
 * What it keeps: everything in memory. Stopping it closes every client with code 1008
 * ("session removed", so reliable clients reconnect afresh instead of trying to recover a
 * session that is gone) and forgets all connections, groups and user-group memberships.
 *
 * Event handlers: a hub given an event handler (`eventHandlers`) gets its clients' user
 * events forwarded as the service forwards them (upstream.ts), with a managed-identity
 * bearer token from `upstreamTokens` when the handler has `auth`; system events are not sent.
 *
 * Not supported (refused or ignored, never silently faked): the protobuf subprotocols, MQTT
 * and Socket.IO clients, system events to event handlers, `invoke`, client streams and group state, message TTLs, and paging of
 * `listConnections` (one page holds every member).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost } from '../../lib/loopback.js';
import { hmacKey } from './auth.js';
import { createClientEndpoint, type ClientEvent } from './client.js';
import { Hub, type HubLimits } from './hub.js';
import { handleRest } from './rest.js';
import { Upstream, type EventHandlerSettings, type UpstreamTokenSource } from './upstream.js';

export type { ClientEvent } from './client.js';
export type { EventHandlerSettings, UpstreamTokenSource } from './upstream.js';
export { JSON_PROTOCOL, RELIABLE_PROTOCOL, type Payload } from './hub.js';

/** Options for {@link startWebPubSubStandIn}. */
export interface WebPubSubStandInOptions {
  /** Loopback address to listen on; anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /**
   * Hubs that exist (case-insensitive, like the service). Omitted: any valid hub name is
   * accepted and created on first use.
   */
  hubs?: string[];
  /** The access key REST tokens and client tokens are signed with. */
  accessKey: string;
  /** How long a dropped reliable session waits for its client to recover. Default 60 s. */
  recoveryWindowMs?: number;
  /** Unacknowledged messages a reliable connection may hold before it is dropped. Default 10 000. */
  maxUnackedMessages?: number;
  /** Receives each client `event` request (also forwarded to the hub's event handler). */
  onEvent?: (event: ClientEvent) => void;
  /**
   * Event handlers by hub name (case-insensitive), as a hub's settings hold them in Azure:
   * matching user events are forwarded there, signed with `accessKey`.
   */
  eventHandlers?: Record<string, EventHandlerSettings>;
  /**
   * Where handlers with `auth` get their bearer tokens: the stand-in of the service's managed
   * identity (in Azure, Entra issues them); required when one has `auth`.
   */
  upstreamTokens?: UpstreamTokenSource;
}

/** A snapshot of one connection, for tests and debugging. */
export interface ConnectionInfo {
  connectionId: string;
  userId: string | undefined;
  protocol: 'json' | 'reliable' | 'none';
  groups: string[];
  roles: string[];
  /** False while a dropped reliable session waits for recovery. */
  connected: boolean;
  /** Reliable connections: messages not yet acknowledged with `sequenceAck`. */
  pendingMessages: number;
}

/** A running stand-in. */
export interface WebPubSubStandIn {
  /** `http://HOST:PORT`, no trailing slash. */
  endpoint: string;
  port: number;
  /** `Endpoint=...;AccessKey=...;Version=1.0;`, what `WebPubSubServiceClient` accepts. */
  connectionString: string;
  /** The connections of `hub` right now (empty for a hub never used). */
  inspect(hub: string): ConnectionInfo[];
  /** Closes every client connection and the server; resolves once the port is free. */
  stop(): Promise<void>;
}

/** How long `stop()` waits for clients to finish the close handshake before cutting them off. */
const closeGraceMs = 1000;

/** Starts the stand-in; resolves once it is listening. */
export async function startWebPubSubStandIn(
  options: WebPubSubStandInOptions,
): Promise<WebPubSubStandIn> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    // The stand-in has no TLS and in-memory secrets only; it must never face a network.
    throw new Error(`The Web PubSub stand-in listens on loopback only, not ${host}.`);
  }
  if (options.accessKey.length === 0) throw new Error('An access key is required.');
  const key = hmacKey(options.accessKey);
  const limits: HubLimits = {
    recoveryWindowMs: options.recoveryWindowMs ?? 60_000,
    maxUnackedMessages: options.maxUnackedMessages ?? 10_000,
  };
  const allowed = options.hubs ? new Set(options.hubs.map((hub) => hub.toLowerCase())) : undefined;
  const hubs = new Map<string, Hub>();
  const hubFor = (name: string): Hub | undefined => {
    const id = name.toLowerCase();
    if (allowed && !allowed.has(id)) return undefined;
    let hub = hubs.get(id);
    if (!hub) hubs.set(id, (hub = new Hub(name, limits)));
    return hub;
  };

  let origin = host;
  const upstream = new Upstream(
    new Map(
      Object.entries(options.eventHandlers ?? {}).map(([hub, handler]) => [
        hub.toLowerCase(),
        handler,
      ]),
    ),
    options.accessKey,
    () => origin,
    options.upstreamTokens,
  );
  const endpointHandler = createClientEndpoint({
    key,
    hub: hubFor,
    upstream,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const server: Server = createServer((req, res) => {
    void handleRest(req, res, { key, hub: hubFor });
  });
  server.on('upgrade', (req, socket, head) => {
    endpointHandler.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  origin = new URL(endpoint).host;

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    connectionString: `Endpoint=${endpoint};AccessKey=${options.accessKey};Version=1.0;`,
    inspect(hub) {
      return [...(hubs.get(hub.toLowerCase())?.connections.values() ?? [])].map((connection) => ({
        connectionId: connection.id,
        userId: connection.userId,
        protocol: connection.protocol,
        groups: [...connection.groups],
        roles: [...connection.roles],
        connected: connection.socket !== undefined,
        pendingMessages: connection.pendingMessages,
      }));
    },
    stop() {
      stopping ??= (async () => {
        for (const hub of hubs.values()) {
          for (const connection of [...hub.connections.values()]) {
            connection.close('The Web PubSub stand-in is stopping.');
          }
        }
        const closed = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        server.closeIdleConnections();
        const deadline = Date.now() + closeGraceMs;
        while (endpointHandler.sockets.size > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        for (const socket of endpointHandler.sockets) socket.terminate();
        server.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}
