/**
 * Shared pieces of the Web PubSub stand-in conformance tests: a stand-in per test file,
 * service and SDK clients that are all stopped afterwards, a raw `ws` client that records
 * every frame (for exact wire shapes), and bounded waits.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import {
  WebPubSubClient,
  type OnGroupDataMessageArgs,
  type OnServerDataMessageArgs,
  type WebPubSubClientOptions,
} from '@azure/web-pubsub-client';
import WebSocket from 'ws';
import {
  startWebPubSubStandIn,
  type WebPubSubStandIn,
  type WebPubSubStandInOptions,
} from '../../../dev/webpubsub/index.js';

export const accessKey = 'test-access-key-0123456789abcdefghijklmnopqrstuvwxyz';
export const hubName = 'sis';

/** Polls `check` until it returns something other than undefined/false, or fails after `ms`. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  what: string,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves after `ms`; used only to show that something does NOT arrive. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A `message` frame of the JSON subprotocols (tests put `{ n }` in most payloads). */
export interface WireMessage {
  type: 'message';
  from: 'server' | 'group';
  group?: string;
  fromUserId?: string;
  dataType: 'json' | 'text' | 'binary';
  data: { n?: number; [key: string]: unknown };
  sequenceId?: number;
}

/** A raw WebSocket client that keeps every frame it receives, parsed when JSON. */
export class RawClient {
  readonly frames: unknown[] = [];
  readonly binaryFrames: Buffer[] = [];
  closeCode: number | undefined;
  closeReason = '';

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      if (isBinary) {
        this.binaryFrames.push(bytes);
        return;
      }
      const text = bytes.toString('utf8');
      try {
        this.frames.push(JSON.parse(text));
      } catch {
        this.frames.push(text);
      }
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Waits for the first frame (after `from`) matching `predicate`. */
  next(predicate: (frame: any) => boolean, what: string, ms = 5000): Promise<any> {
    return waitFor(() => this.frames.find(predicate), what, ms);
  }

  /** The data messages received so far. */
  messages(): WireMessage[] {
    return this.frames.filter((frame: any) => frame?.type === 'message') as WireMessage[];
  }

  waitClosed(ms = 5000): Promise<number> {
    return waitFor(() => this.closeCode, 'the socket to close', ms);
  }
}

/** Opens a raw WebSocket; rejects with the HTTP status when the upgrade is refused. */
export function openRaw(
  url: string,
  protocol?: string,
  headers: Record<string, string> = {},
): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocol ? [protocol] : [], { headers });
    const client = new RawClient(socket);
    socket.once('open', () => {
      resolve(client);
    });
    socket.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode ?? 0}`));
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

/** Everything one test file starts, with a single `cleanup()` for `afterEach`/`afterAll`. */
export class Fixture {
  standIn!: WebPubSubStandIn;
  service!: WebPubSubServiceClient;
  private readonly clients: WebPubSubClient[] = [];
  private readonly raws: RawClient[] = [];

  async start(options: Partial<WebPubSubStandInOptions> = {}): Promise<void> {
    this.standIn = await startWebPubSubStandIn({
      host: '127.0.0.1',
      port: 0,
      hubs: [hubName, 'other'],
      accessKey,
      ...options,
    });
    this.service = this.serviceClient();
  }

  /** The service SDK over plain http, which it only allows when told to. */
  serviceClient(hub = hubName, connectionString = this.standIn.connectionString) {
    return new WebPubSubServiceClient(connectionString, hub, { allowInsecureConnection: true });
  }

  async clientUrl(
    options: { userId?: string; roles?: string[]; groups?: string[] } = {},
  ): Promise<string> {
    return (await this.service.getClientAccessToken(options)).url;
  }

  /** An SDK client that records what it receives; stopped by `cleanup()`. */
  sdkClient(url: string, options: WebPubSubClientOptions = {}) {
    const client = new WebPubSubClient(url, {
      autoReconnect: false,
      // Negative tests expect a failed ack at once, not after the default retries.
      messageRetryOptions: { maxRetries: 0 },
      ...options,
    });
    this.clients.push(client);
    const serverMessages: OnServerDataMessageArgs['message'][] = [];
    const groupMessages: OnGroupDataMessageArgs['message'][] = [];
    client.on('server-message', (event) => serverMessages.push(event.message));
    client.on('group-message', (event) => groupMessages.push(event.message));
    return { client, serverMessages, groupMessages };
  }

  /** Starts an SDK client for a token with the given claims and returns it with its id. */
  async connect(
    claims: { userId?: string; roles?: string[]; groups?: string[] } = {},
    options: WebPubSubClientOptions = {},
  ) {
    const recorded = this.sdkClient(await this.clientUrl(claims), options);
    let connectionId: string | undefined;
    recorded.client.on('connected', (event) => {
      connectionId = event.connectionId;
    });
    await recorded.client.start();
    const id = await waitFor(() => connectionId, 'the connected event');
    return { ...recorded, connectionId: id };
  }

  /** A raw socket, closed by `cleanup()`. */
  async raw(url: string, protocol?: string, headers?: Record<string, string>) {
    const client = await openRaw(url, protocol, headers);
    this.raws.push(client);
    return client;
  }

  /** A raw socket that has received its `connected` message. */
  async rawConnected(
    claims: { userId?: string; roles?: string[]; groups?: string[] } = {},
    protocol = 'json.webpubsub.azure.v1',
  ) {
    const client = await this.raw(await this.clientUrl(claims), protocol);
    const connected = await client.next(
      (frame) => frame?.type === 'system' && frame.event === 'connected',
      'connected',
    );
    return { client, connectionId: connected.connectionId as string, connected };
  }

  async cleanup(): Promise<void> {
    for (const client of this.clients.splice(0)) client.stop();
    for (const raw of this.raws.splice(0)) raw.socket.terminate();
    await this.standIn.stop();
  }
}

/**
 * A TCP proxy in front of the stand-in whose connections the test can cut, to drop a client's
 * WebSocket the way a network failure would (no close frame from either side).
 */
export async function startCuttableProxy(targetPort: number) {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  const server = createServer((inbound) => {
    accepted++;
    const outbound = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const drop = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** Connections the proxy has accepted so far (the SDK's recovery makes a second). */
    get accepted() {
      return accepted;
    },
    /** Destroys every proxied connection. */
    cut(): void {
      for (const [inbound, outbound] of pairs) {
        inbound.destroy();
        outbound.destroy();
      }
      pairs.clear();
    },
    async stop(): Promise<void> {
      this.cut();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
