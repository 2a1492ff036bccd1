/**
 * The stand-in's event handlers with the real client SDK and a real loopback upstream: the
 * abuse-protection handshake once per URL, then signed CloudEvents POSTs with the ce-*
 * headers; a JSON answer reaches the client as a server message; a failed answer or a refused
 * handshake drops the connection; events the pattern does not name stay put.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fixture, accessKey, hubName, waitFor } from './helpers.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
/** How the upstream answers: status, and whether it allows the stand-in's origin. */
const behaviour = { status: 200, allowOrigin: true };
let upstream: Server;
let upstreamUrl = '';
const fixture = new Fixture();

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.method === 'OPTIONS') {
        const origin = req.headers['webhook-request-origin'];
        if (behaviour.allowOrigin && typeof origin === 'string') {
          res.setHeader('webhook-allowed-origin', origin);
        }
        res.end();
        return;
      }
      res.statusCode = behaviour.status;
      res.setHeader('content-type', 'application/json');
      const json = req.headers['content-type'] === 'application/json';
      res.end(JSON.stringify({ echoed: json ? (JSON.parse(body) as unknown) : body }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  await fixture.start({
    eventHandlers: {
      [hubName]: { urlTemplate: `${upstreamUrl}/events/{hub}/{event}`, userEventPattern: 'a, b' },
    },
  });
});
afterEach(() => {
  received.length = 0;
  Object.assign(behaviour, { status: 200, allowOrigin: true });
});
afterAll(async () => {
  await fixture.cleanup();
  await new Promise((resolve) => upstream.close(resolve));
});

const posts = () => received.filter((r) => r.method === 'POST');

describe('event handlers', () => {
  it('validates once, then forwards matching events signed, and answers the client', async () => {
    const { client, connectionId, serverMessages } = await fixture.connect({ userId: 'ana' });
    await client.sendEvent('a', { n: 1 }, 'json');
    await client.sendEvent('ignored', { n: 2 }, 'json');
    await client.sendEvent('b', 'two', 'text');
    await waitFor(() => serverMessages.length >= 1 && posts().length === 2, 'two answers');

    const options = received.filter((r) => r.method === 'OPTIONS');
    const origin = new URL(fixture.standIn.endpoint).host;
    expect(options.map((r) => [r.url, r.headers['webhook-request-origin']])).toEqual([
      [`/events/${hubName}/a`, origin],
      [`/events/${hubName}/b`, origin],
    ]);
    const [first, second] = posts();
    // No `auth` in the handler's settings: no token.
    expect(first?.headers.authorization).toBeUndefined();
    const signature = createHmac('sha256', accessKey).update(connectionId).digest('hex');
    expect(first?.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-request-origin': origin,
      'ce-specversion': '1.0',
      'ce-type': 'azure.webpubsub.user.a',
      'ce-source': `/client/${connectionId}`,
      'ce-signature': `sha256=${signature}`,
      'ce-userid': 'ana',
      'ce-connectionid': connectionId,
      'ce-hub': hubName,
      'ce-eventname': 'a',
      'ce-subprotocol': 'json.reliable.webpubsub.azure.v1',
    });
    expect(first?.body).toBe('{"n":1}');
    expect(second?.headers['content-type']).toBe('text/plain');
    expect(second?.body).toBe('two');
    // Answers come back as server messages (the text event's JSON answer too).
    await waitFor(() => serverMessages.length === 2, 'the second answer');
    expect(serverMessages.map((m) => m.data)).toEqual([{ echoed: { n: 1 } }, { echoed: 'two' }]);
  });

  it('drops the connection when the handler fails', async () => {
    behaviour.status = 500;
    const { client } = await fixture.connect({ userId: 'ben' });
    let disconnected = false;
    client.on('disconnected', () => {
      disconnected = true;
    });
    await client.sendEvent('a', { n: 3 }, 'json');
    await waitFor(() => disconnected || undefined, 'the connection dropped');
    expect(posts()).toHaveLength(1);
  });

  it('drops the connection, sending nothing, when the handshake does not allow it', async () => {
    // A new stand-in, so the URL has not been validated before.
    const other = new Fixture();
    await other.start({
      eventHandlers: {
        [hubName]: { urlTemplate: `${upstreamUrl}/refused`, userEventPattern: '*' },
      },
    });
    try {
      behaviour.allowOrigin = false;
      const { client } = await other.connect({ userId: 'cy' });
      let disconnected = false;
      client.on('disconnected', () => {
        disconnected = true;
      });
      await client.sendEvent('a', { n: 4 }, 'json');
      await waitFor(() => disconnected || undefined, 'the connection dropped');
      expect(received.map((r) => r.method)).toEqual(['OPTIONS']);
    } finally {
      await other.cleanup();
    }
  });

  it('sends a managed-identity token for the handler’s audience when the handler has auth', async () => {
    const other = new Fixture();
    const asked: string[] = [];
    await other.start({
      eventHandlers: {
        [hubName]: {
          urlTemplate: `${upstreamUrl}/with-auth`,
          userEventPattern: '*',
          auth: { type: 'ManagedIdentity', managedIdentity: { resource: 'api://events' } },
        },
      },
      upstreamTokens: (resource) => {
        asked.push(resource);
        return Promise.resolve(`token-for-${asked.length}`);
      },
    });
    try {
      const { client, serverMessages } = await other.connect({ userId: 'dee' });
      await client.sendEvent('a', { n: 5 }, 'json');
      await client.sendEvent('a', { n: 6 }, 'json');
      await waitFor(() => serverMessages.length === 2 || undefined, 'two answers');
      // A token per request, asked for the handler's resource (the identity's cache decides
      // whether it is a new one); the handshake carries none.
      expect(asked).toEqual(['api://events', 'api://events']);
      expect(posts().map((r) => r.headers.authorization)).toEqual([
        'Bearer token-for-1',
        'Bearer token-for-2',
      ]);
      expect(received.find((r) => r.method === 'OPTIONS')?.headers.authorization).toBeUndefined();
    } finally {
      await other.cleanup();
    }
  });

  it('refuses to start a handler with auth but no token source', async () => {
    await expect(
      new Fixture().start({
        eventHandlers: {
          [hubName]: {
            urlTemplate: `${upstreamUrl}/with-auth`,
            userEventPattern: '*',
            auth: { type: 'ManagedIdentity', managedIdentity: { resource: 'api://events' } },
          },
        },
      }),
    ).rejects.toThrow(/no token source/);
  });
});
