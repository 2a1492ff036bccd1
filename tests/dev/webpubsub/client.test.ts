/**
 * The stand-in's client endpoint through the real `@azure/web-pubsub-client` (reliable and
 * plain JSON protocols) with tokens from `getClientAccessToken`, plus raw `ws` sockets where
 * the exact frames matter: connected, roles for join/leave/send, pre-joined groups, acks,
 * duplicate ack ids, sequence ids and acks, recovery after a dropped connection, keep-alive,
 * simple clients, and refused tokens.
 */
import {
  SendMessageError,
  WebPubSubJsonProtocol,
  WebPubSubJsonReliableProtocol,
} from '@azure/web-pubsub-client';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Fixture,
  accessKey,
  hubName,
  openRaw,
  sleep,
  startCuttableProxy,
  waitFor,
} from './helpers.js';

const fx = new Fixture();
beforeEach(() => fx.start());
afterEach(() => fx.cleanup());

const reliable = 'json.reliable.webpubsub.azure.v1';

/** The failed ack's error name, from the SDK's SendMessageError. */
async function ackError(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof SendMessageError) return error.errorDetail?.name;
    throw error;
  }
}

describe('connecting', () => {
  it('connects with a getClientAccessToken url and gets the connected event', async () => {
    const { client, connectionId } = await fx.connect({ userId: 'tech-alice' });
    const connected: { connectionId: string; userId: string }[] = [];
    client.on('connected', (event) => connected.push(event));
    expect(connectionId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await fx.service.connectionExists(connectionId)).toBe(true);
    expect(await fx.service.userExists('tech-alice')).toBe(true);
    expect(fx.standIn.inspect(hubName)).toEqual([
      expect.objectContaining({ connectionId, userId: 'tech-alice', protocol: 'reliable' }),
    ]);
  });

  it('sends connected first, with a reconnection token only on the reliable protocol', async () => {
    const plain = await fx.rawConnected({ userId: 'u' });
    expect(plain.client.frames[0]).toEqual({
      type: 'system',
      event: 'connected',
      userId: 'u',
      connectionId: plain.connectionId,
    });
    const sure = await fx.rawConnected({}, reliable);
    expect(sure.client.frames[0]).toEqual({
      type: 'system',
      event: 'connected',
      userId: null,
      connectionId: sure.connectionId,
      reconnectionToken: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
    });
  });

  it('refuses expired, wrongly signed, wrong-audience and missing tokens', async () => {
    const base = `${fx.standIn.endpoint.replace('http', 'ws')}/client/hubs/${hubName}`;
    const sign = (claims: { aud: string; exp: number }, key = accessKey) =>
      new SignJWT({ role: ['webpubsub.joinLeaveGroup'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('mallory')
        .setAudience(claims.aud)
        .setExpirationTime(claims.exp)
        .sign(new TextEncoder().encode(key));
    const audience = `${fx.standIn.endpoint}/client/hubs/${hubName}`;
    const now = Math.floor(Date.now() / 1000);

    const good = await sign({ aud: audience, exp: now + 60 });
    (await openRaw(`${base}?access_token=${good}`, reliable)).socket.terminate();
    const expired = await sign({ aud: audience, exp: now - 5 });
    await expect(openRaw(`${base}?access_token=${expired}`, reliable)).rejects.toThrow('HTTP 401');
    const forged = await sign({ aud: audience, exp: now + 60 }, 'not-the-access-key');
    await expect(openRaw(`${base}?access_token=${forged}`, reliable)).rejects.toThrow('HTTP 401');
    const otherHub = await sign({ aud: `${fx.standIn.endpoint}/client/hubs/other`, exp: now + 60 });
    await expect(openRaw(`${base}?access_token=${otherHub}`, reliable)).rejects.toThrow('HTTP 401');
    await expect(openRaw(base, reliable)).rejects.toThrow('HTTP 401');
    await expect(
      openRaw(`${base}?access_token=${good}`, 'protobuf.webpubsub.azure.v1'),
    ).rejects.toThrow('HTTP 400');
    // A bearer header works as well as the query parameter.
    (await openRaw(base, reliable, { authorization: `Bearer ${good}` })).socket.terminate();

    // The SDK surfaces the refusal from start().
    const expiredUrl = (await fx.service.getClientAccessToken({ expirationTimeInMinutes: 0 })).url;
    const { client } = fx.sdkClient(expiredUrl);
    await expect(client.start()).rejects.toThrow();
  });
});

describe('receiving', () => {
  it('receives server messages to all, to the user and to the connection in each data type', async () => {
    const { client, serverMessages, connectionId } = await fx.connect({ userId: 'u1' });
    await fx.service.sendToAll({ type: 'alert.raised', alert: { id: 'a1', version: 1 } });
    await fx.service.sendToUser('u1', 'hello u1', { contentType: 'text/plain' });
    await fx.service.sendToConnection(connectionId, new Uint8Array([9, 8, 7]));
    await waitFor(() => serverMessages.length === 3, 'three server messages');
    expect(serverMessages.map(({ dataType, data }) => ({ dataType, data }))).toEqual([
      { dataType: 'json', data: { type: 'alert.raised', alert: { id: 'a1', version: 1 } } },
      { dataType: 'text', data: 'hello u1' },
      { dataType: 'binary', data: new Uint8Array([9, 8, 7]).buffer },
    ]);
    expect(serverMessages.map((message) => message.sequenceId)).toEqual([1, 2, 3]);
    expect(client).toBeDefined();
  });

  it('joins groups from the token without any role and receives their messages', async () => {
    const { client, groupMessages } = await fx.connect({
      userId: 'tech-bashir',
      groups: ['equipment.3', 'alerts'],
    });
    await fx.service.group('equipment.3').sendToAll({ status: 'ok' });
    await fx.service.group('equipment.4').sendToAll({ status: 'not mine' });
    await fx.service.group('alerts').sendToAll('alert!', { contentType: 'text/plain' });
    await waitFor(() => groupMessages.length === 2, 'two group messages');
    await sleep(100);
    expect(groupMessages.map(({ group, data }) => ({ group, data }))).toEqual([
      { group: 'equipment.3', data: { status: 'ok' } },
      { group: 'alerts', data: 'alert!' },
    ]);
    // Without the role it may not leave the groups it was given either.
    expect(await ackError(client.leaveGroup('alerts'))).toBe('Forbidden');
  });
});

describe('groups and roles', () => {
  it('joins and leaves with webpubsub.joinLeaveGroup', async () => {
    const { client, groupMessages } = await fx.connect({
      userId: 'u',
      roles: ['webpubsub.joinLeaveGroup'],
    });
    const joined = await client.joinGroup('equipment.9');
    expect(joined).toMatchObject({ isDuplicated: false });
    expect(await fx.service.groupExists('equipment.9')).toBe(true);
    await fx.service.group('equipment.9').sendToAll({ n: 1 });
    await waitFor(() => groupMessages.length === 1, 'group message');
    await client.leaveGroup('equipment.9');
    expect(await fx.service.groupExists('equipment.9')).toBe(false);
    await fx.service.group('equipment.9').sendToAll({ n: 2 });
    await sleep(100);
    expect(groupMessages).toHaveLength(1);
  });

  it('limits a group-specific role to that group', async () => {
    const { client } = await fx.connect({
      userId: 'tech',
      roles: ['webpubsub.joinLeaveGroup.equipment.1', 'webpubsub.sendToGroup.equipment.1'],
    });
    await client.joinGroup('equipment.1');
    expect(await ackError(client.joinGroup('equipment.2'))).toBe('Forbidden');
    expect(await fx.service.groupExists('equipment.2')).toBe(false);
    await client.sendToGroup('equipment.1', 'ok', 'text');
    expect(await ackError(client.sendToGroup('equipment.2', 'no', 'text'))).toBe('Forbidden');
  });

  it('refuses joining without any role', async () => {
    const { client } = await fx.connect({ userId: 'viewer' });
    const error = await client.joinGroup('alerts').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendMessageError);
    expect((error as SendMessageError).errorDetail).toEqual({
      name: 'Forbidden',
      message: expect.stringContaining('alerts'),
    });
    expect(await fx.service.groupExists('alerts')).toBe(false);
  });

  it('sends to a group with webpubsub.sendToGroup, echo and noEcho, and refuses without it', async () => {
    const sender = await fx.connect({
      userId: 'sender',
      roles: ['webpubsub.sendToGroup', 'webpubsub.joinLeaveGroup'],
    });
    const listener = await fx.connect({ userId: 'listener', groups: ['room'] });
    await sender.client.joinGroup('room');
    await sender.client.sendToGroup('room', { hi: 1 }, 'json');
    await sender.client.sendToGroup('room', 'quiet', 'text', { noEcho: true });
    await sender.client.sendToGroup('room', new Uint8Array([1, 2]).buffer, 'binary');
    await waitFor(() => listener.groupMessages.length === 3, 'three messages at the listener');
    expect(
      listener.groupMessages.map(({ fromUserId, group, dataType, data }) => ({
        fromUserId,
        group,
        dataType,
        data,
      })),
    ).toEqual([
      { fromUserId: 'sender', group: 'room', dataType: 'json', data: { hi: 1 } },
      { fromUserId: 'sender', group: 'room', dataType: 'text', data: 'quiet' },
      {
        fromUserId: 'sender',
        group: 'room',
        dataType: 'binary',
        data: new Uint8Array([1, 2]).buffer,
      },
    ]);
    await waitFor(() => sender.groupMessages.length === 2, 'echoes at the sender');
    await sleep(100);
    expect(sender.groupMessages.map((message) => message.dataType)).toEqual(['json', 'binary']);

    expect(await ackError(listener.client.sendToGroup('room', 'nope', 'text'))).toBe('Forbidden');
    await sleep(100);
    expect(sender.groupMessages).toHaveLength(2);
  });

  it('works on the plain JSON protocol too', async () => {
    const { client, groupMessages } = await fx.connect(
      { userId: 'plain', roles: ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'] },
      { protocol: WebPubSubJsonProtocol() },
    );
    await client.joinGroup('g');
    await client.sendToGroup('g', { x: 1 }, 'json');
    await waitFor(() => groupMessages.length === 1, 'echo');
    expect(groupMessages[0]).toMatchObject({ group: 'g', data: { x: 1 } });
    expect(groupMessages[0]?.sequenceId).toBeUndefined();
    expect(fx.standIn.inspect(hubName)[0]?.protocol).toBe('json');
  });
});

describe('acks and keep-alive on the wire', () => {
  it('acks requests, reports duplicates and malformed requests, and answers ping', async () => {
    const { client } = await fx.rawConnected({ roles: ['webpubsub.joinLeaveGroup'] }, reliable);
    client.send({ type: 'joinGroup', group: 'g', ackId: 7 });
    client.send({ type: 'joinGroup', group: 'g', ackId: 7 });
    client.send({ type: 'joinGroup', group: '   ', ackId: 8 });
    client.send({ type: 'sendToGroup', group: 'g', ackId: 9, dataType: 'text', data: 'x' });
    client.send({ type: 'event', event: 'hello', ackId: 10, dataType: 'text', data: 'hi' });
    client.send({ type: 'joinGroup', group: 'quiet' });
    client.send({ type: 'ping' });
    await client.next((f) => f.type === 'pong', 'pong');
    await waitFor(() => client.frames.filter((f: any) => f.type === 'ack').length === 5, 'acks');
    expect(client.frames.filter((f: any) => f.type === 'ack')).toEqual([
      { type: 'ack', ackId: 7, success: true },
      {
        type: 'ack',
        ackId: 7,
        success: false,
        error: { name: 'Duplicate', message: 'Message with ack-id: 7 has been processed' },
      },
      {
        type: 'ack',
        ackId: 8,
        success: false,
        error: { name: 'BadRequest', message: expect.any(String) },
      },
      {
        type: 'ack',
        ackId: 9,
        success: false,
        error: { name: 'Forbidden', message: expect.any(String) },
      },
      { type: 'ack', ackId: 10, success: true },
    ]);
    expect(fx.standIn.inspect(hubName)[0]?.groups.sort()).toEqual(['g', 'quiet']);
  });

  it('delivers bare frames to simple clients with no subprotocol', async () => {
    const simple = await fx.raw(await fx.clientUrl({ userId: 's' }));
    await waitFor(() => fx.standIn.inspect(hubName).length === 1, 'the connection');
    await fx.service.sendToAll({ a: 1 });
    await fx.service.sendToAll('text', { contentType: 'text/plain' });
    await fx.service.sendToAll(new Uint8Array([5]));
    await waitFor(() => simple.binaryFrames.length === 1, 'the binary frame');
    expect(simple.frames).toEqual([{ a: 1 }, 'text']);
    expect([...simple.binaryFrames[0]!]).toEqual([5]);
  });
});

describe('reliable protocol', () => {
  it('numbers messages and forgets them once acknowledged', async () => {
    const { client, connectionId } = await fx.rawConnected({ userId: 'r' }, reliable);
    for (let n = 1; n <= 3; n++) await fx.service.sendToConnection(connectionId, { n });
    await waitFor(() => client.messages().length === 3, 'three messages');
    expect(client.messages().map((m) => m.sequenceId)).toEqual([1, 2, 3]);
    expect(fx.standIn.inspect(hubName)[0]?.pendingMessages).toBe(3);
    client.send({ type: 'sequenceAck', sequenceId: 2 });
    await waitFor(() => fx.standIn.inspect(hubName)[0]?.pendingMessages === 1, 'ack of 1..2');
  });

  it('recovers a dropped session and redelivers what was not acknowledged, in order', async () => {
    const first = await fx.rawConnected({ userId: 'r', groups: ['g'] }, reliable);
    const { connectionId, connected } = first;
    await fx.service.group('g').sendToAll({ n: 1 });
    await fx.service.group('g').sendToAll({ n: 2 });
    await waitFor(() => first.client.messages().length === 2, 'two messages');
    first.client.send({ type: 'sequenceAck', sequenceId: 1 });
    await waitFor(() => fx.standIn.inspect(hubName)[0]?.pendingMessages === 1, 'ack of 1');
    first.client.socket.terminate();
    await waitFor(() => fx.standIn.inspect(hubName)[0]?.connected === false, 'the drop');

    // While the session waits it still exists, keeps its groups, and buffers messages.
    expect(await fx.service.connectionExists(connectionId)).toBe(true);
    await fx.service.group('g').sendToAll({ n: 3 });

    const base = `${fx.standIn.endpoint.replace('http', 'ws')}/client/hubs/${hubName}`;
    const wrong = await fx.raw(
      `${base}?awps_connection_id=${connectionId}&awps_reconnection_token=forged`,
      reliable,
    );
    expect(await wrong.waitClosed()).toBe(1008);

    const token = encodeURIComponent(connected.reconnectionToken);
    const second = await fx.raw(
      `${base}?awps_connection_id=${connectionId}&awps_reconnection_token=${token}`,
      reliable,
    );
    await waitFor(() => second.messages().length === 2, 'redelivery');
    expect(second.frames[0]).toEqual(connected);
    expect(second.messages().map((m) => [m.sequenceId, m.data.n])).toEqual([
      [2, 2],
      [3, 3],
    ]);
    await fx.service.sendToAll({ n: 4 });
    await second.next((f) => f.data?.n === 4 && f.sequenceId === 4, 'a new message');
  });

  it('ends a session that is not recovered in time with 1008 on recovery', async () => {
    await fx.cleanup();
    await fx.start({ recoveryWindowMs: 100 });
    const { client, connectionId, connected } = await fx.rawConnected({ userId: 'late' }, reliable);
    client.socket.terminate();
    await waitFor(() => fx.standIn.inspect(hubName).length === 0, 'the session to expire');
    expect(await fx.service.userExists('late')).toBe(false);
    const base = `${fx.standIn.endpoint.replace('http', 'ws')}/client/hubs/${hubName}`;
    const token = encodeURIComponent(connected.reconnectionToken);
    const retry = await fx.raw(
      `${base}?awps_connection_id=${connectionId}&awps_reconnection_token=${token}`,
      reliable,
    );
    expect(await retry.waitClosed()).toBe(1008);
  });

  it('drops a subscriber that stops acknowledging', async () => {
    await fx.cleanup();
    await fx.start({ maxUnackedMessages: 3 });
    const { client } = await fx.rawConnected({ userId: 'slow' }, reliable);
    for (let n = 1; n <= 4; n++) await fx.service.sendToAll({ n });
    expect(await client.waitClosed()).toBe(1008);
    expect(await fx.service.userExists('slow')).toBe(false);
  });

  it('the SDK acknowledges sequence ids and recovers through a cut connection', async () => {
    const proxy = await startCuttableProxy(fx.standIn.port);
    try {
      const viaProxy = fx.serviceClient(
        hubName,
        `Endpoint=http://127.0.0.1:${proxy.port};AccessKey=${accessKey};Version=1.0;`,
      );
      const url = (await viaProxy.getClientAccessToken({ userId: 'mobile', groups: ['g'] })).url;
      const { client, groupMessages } = fx.sdkClient(url, {
        protocol: WebPubSubJsonReliableProtocol(),
      });
      const connections: string[] = [];
      let disconnected = 0;
      client.on('connected', (event) => connections.push(event.connectionId));
      client.on('disconnected', () => disconnected++);
      await client.start();
      await waitFor(() => connections.length === 1, 'connected');

      for (let n = 1; n <= 3; n++) await fx.service.group('g').sendToAll({ n });
      await waitFor(() => groupMessages.length === 3, 'three messages');
      // The SDK acks once a second.
      await waitFor(() => fx.standIn.inspect(hubName)[0]?.pendingMessages === 0, 'acks', 4000);

      proxy.cut();
      // Sent straight to the stand-in while the client's connection is down or recovering.
      for (let n = 4; n <= 5; n++) await fx.service.group('g').sendToAll({ n });
      await waitFor(() => groupMessages.length === 5, 'messages sent during the drop', 8000);
      expect(proxy.accepted).toBe(2);
      expect(groupMessages.map((message) => (message.data as { n: number }).n)).toEqual([
        1, 2, 3, 4, 5,
      ]);
      // Recovered, not reconnected: same connection id, no disconnected event.
      expect(connections).toHaveLength(1);
      expect(disconnected).toBe(0);
      expect(fx.standIn.inspect(hubName)).toEqual([
        expect.objectContaining({ connectionId: connections[0], connected: true }),
      ]);
      client.stop();
    } finally {
      await proxy.stop();
    }
  });
});

describe('closing', () => {
  it('a closed SDK client sees disconnected and does not try to recover', async () => {
    const { client, connectionId } = await fx.connect({ userId: 'bye' });
    let message: string | undefined;
    client.on('disconnected', (event) => {
      message = event.message?.message ?? 'none';
    });
    await fx.service.closeConnection(connectionId, { reason: 'kicked' });
    await waitFor(() => message, 'the disconnected event');
    expect(message).toBe('kicked');
    expect(fx.standIn.inspect(hubName)).toEqual([]);
  });

  it('stopping the stand-in closes clients with 1008', async () => {
    const { client } = await fx.rawConnected({ userId: 'x' }, reliable);
    await fx.standIn.stop();
    expect(await client.waitClosed()).toBe(1008);
    await fx.start();
  });
});
