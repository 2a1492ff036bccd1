/**
 * The stand-in's data-plane REST API through the real `@azure/web-pubsub` service client:
 * access-key JWT checks, sends to all / user / connection / group in every content type,
 * group and user membership, closes, existence checks, permissions and OData filters.
 * Receivers are raw `ws` clients on the JSON subprotocol so the exact frames are checked.
 */
import { RestError } from '@azure/core-rest-pipeline';
import { odata } from '@azure/web-pubsub';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Fixture, accessKey, hubName, sleep, waitFor } from './helpers.js';

const fx = new Fixture();
beforeEach(() => fx.start());
afterEach(() => fx.cleanup());

const key = new TextEncoder().encode(accessKey);

/** Signs a REST token like the SDK does, with overridable claims. */
async function restToken(
  audience: string,
  options: { expiresAt?: number; signingKey?: Uint8Array } = {},
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 3600)
    .sign(options.signingKey ?? key);
}

async function status(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof RestError) return error.statusCode;
    throw error;
  }
}

describe('access-key authentication', () => {
  it('accepts the SDK token and refuses a bad signature with 401', async () => {
    await fx.service.sendToAll({ ok: true });
    const wrongKey = fx.serviceClient(
      hubName,
      fx.standIn.connectionString.replace(accessKey, 'another-key-entirely-0123456789'),
    );
    expect(await status(wrongKey.sendToAll({ ok: false }))).toBe(401);
    expect(await status(wrongKey.group('g').addUser('u'))).toBe(401);
  });

  it('refuses expired tokens, other audiences, missing tokens and alg none', async () => {
    const url = `${fx.standIn.endpoint}/api/hubs/${hubName}/:send?api-version=2024-12-01`;
    const post = async (authorization?: string) =>
      (
        await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(authorization ? { authorization } : {}),
          },
          body: '{}',
        })
      ).status;

    expect(await post(`Bearer ${await restToken(url)}`)).toBe(202);
    // The service compares the audience without the query string.
    expect(await post(`Bearer ${await restToken(url.split('?')[0]!)}`)).toBe(202);
    const expired = await restToken(url, { expiresAt: Math.floor(Date.now() / 1000) - 60 });
    expect(await post(`Bearer ${expired}`)).toBe(401);
    const otherPath = `${fx.standIn.endpoint}/api/hubs/other/:send`;
    expect(await post(`Bearer ${await restToken(otherPath)}`)).toBe(401);
    expect(await post()).toBe(401);
    const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
    const body = Buffer.from(JSON.stringify({ aud: url, exp: 9999999999 })).toString('base64url');
    expect(await post(`Bearer ${header}.${body}.`)).toBe(401);

    const response = await fetch(url, { method: 'POST', body: '{}' });
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.json()).toMatchObject({ code: 'Unauthorized' });
  });

  it('requires api-version, a configured hub, and a known operation', async () => {
    const call = async (path: string, method = 'POST') => {
      const url = `${fx.standIn.endpoint}${path}`;
      return (
        await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${await restToken(url)}`,
            'content-type': 'text/plain',
          },
          body: method === 'POST' ? 'x' : null,
        })
      ).status;
    };
    expect(await call(`/api/hubs/${hubName}/:send`)).toBe(400);
    expect(await call(`/api/hubs/unknown/:send?api-version=2024-12-01`)).toBe(404);
    expect(await call(`/api/hubs/${hubName}/:nothing?api-version=2024-12-01`)).toBe(404);
    expect(await call(`/api/hubs/${hubName}/users/u/groups?api-version=2024-12-01`, 'GET')).toBe(
      405,
    );
    expect((await fetch(`${fx.standIn.endpoint}/api/health`)).status).toBe(200);
  });
});

describe('sending', () => {
  it('sends to all in json, text and binary, honouring excluded connections', async () => {
    const a = await fx.rawConnected({ userId: 'a' });
    const b = await fx.rawConnected({ userId: 'b' });
    await fx.service.sendToAll({ alert: { id: 'x', version: 1 } });
    await fx.service.sendToAll('plain text', { contentType: 'text/plain' });
    await fx.service.sendToAll(Buffer.from([0, 1, 2, 255]));
    await fx.service.sendToAll({ skip: 'b' }, { excludedConnections: [b.connectionId] });

    await waitFor(() => a.client.messages().length === 4, 'four messages at a');
    expect(a.client.messages()).toEqual([
      {
        type: 'message',
        from: 'server',
        dataType: 'json',
        data: { alert: { id: 'x', version: 1 } },
      },
      { type: 'message', from: 'server', dataType: 'text', data: 'plain text' },
      {
        type: 'message',
        from: 'server',
        dataType: 'binary',
        data: Buffer.from([0, 1, 2, 255]).toString('base64'),
      },
      { type: 'message', from: 'server', dataType: 'json', data: { skip: 'b' } },
    ]);
    await waitFor(() => b.client.messages().length === 3, 'three messages at b');
    await sleep(100);
    expect(b.client.messages()).toHaveLength(3);
  });

  it('sends to a user (every connection of theirs) and to one connection', async () => {
    const a1 = await fx.rawConnected({ userId: 'alice' });
    const a2 = await fx.rawConnected({ userId: 'alice' });
    const b = await fx.rawConnected({ userId: 'bob' });
    await fx.service.sendToUser('alice', { to: 'alice' });
    await fx.service.sendToConnection(b.connectionId, 'just you', { contentType: 'text/plain' });
    await fx.service.sendToUser('nobody', { lost: true });
    await fx.service.sendToConnection('no-such-connection', { lost: true });

    for (const alice of [a1, a2]) {
      const message = await alice.client.next((f) => f.type === 'message', 'alice message');
      expect(message).toEqual({
        type: 'message',
        from: 'server',
        dataType: 'json',
        data: { to: 'alice' },
      });
    }
    expect(await b.client.next((f) => f.type === 'message', 'bob message')).toMatchObject({
      dataType: 'text',
      data: 'just you',
    });
    await sleep(100);
    expect(a1.client.messages()).toHaveLength(1);
    expect(b.client.messages()).toHaveLength(1);
  });

  it('filters recipients with OData', async () => {
    const a = await fx.rawConnected({ userId: "o'neil", groups: ['crew'] });
    const b = await fx.rawConnected({ userId: 'bob' });
    const c = await fx.rawConnected({});
    await fx.service.sendToAll({ n: 1 }, { filter: odata`userId eq ${"o'neil"}` });
    await fx.service.sendToAll({ n: 2 }, { filter: "not ('crew' in groups) and userId ne null" });
    await fx.service.sendToAll({ n: 3 }, { filter: `connectionId eq '${c.connectionId}'` });
    await waitFor(() => c.client.messages().length === 1, 'c message');
    await sleep(100);
    expect(a.client.messages().map((m) => m.data.n)).toEqual([1]);
    expect(b.client.messages().map((m) => m.data.n)).toEqual([2]);
    expect(c.client.messages().map((m) => m.data.n)).toEqual([3]);
    expect(await status(fx.service.sendToAll({}, { filter: 'userId eq' }))).toBe(400);
  });

  it('rejects bad JSON, unknown content types and oversized bodies', async () => {
    const url = `${fx.standIn.endpoint}/api/hubs/${hubName}/:send?api-version=2024-12-01`;
    const post = async (contentType: string, body: string | Buffer) =>
      (
        await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${await restToken(url)}`, 'content-type': contentType },
          body,
        })
      ).status;
    expect(await post('application/json', '{not json')).toBe(400);
    expect(await post('application/xml', '<a/>')).toBe(415);
    expect(await post('text/plain', Buffer.alloc(1024 * 1024 + 1, 97))).toBe(413);
  });
});

describe('groups', () => {
  it('adds and removes connections, sends to the group, checks and lists it', async () => {
    const a = await fx.rawConnected({ userId: 'a' });
    const b = await fx.rawConnected({ userId: 'b' });
    const group = fx.service.group('equipment.7');
    expect(await fx.service.groupExists('equipment.7')).toBe(false);
    await group.addConnection(a.connectionId);
    await group.addConnection(b.connectionId);
    expect(await fx.service.groupExists('equipment.7')).toBe(true);
    const listed = [];
    for await (const member of await group.listConnections()) listed.push(member);
    expect(listed).toEqual(
      expect.arrayContaining([
        { connectionId: a.connectionId, userId: 'a' },
        { connectionId: b.connectionId, userId: 'b' },
      ]),
    );

    await group.sendToAll({ status: 'hot' }, { excludedConnections: [b.connectionId] });
    expect(await a.client.next((f) => f.type === 'message', 'group message')).toEqual({
      type: 'message',
      from: 'group',
      group: 'equipment.7',
      dataType: 'json',
      data: { status: 'hot' },
    });
    await group.removeConnection(a.connectionId);
    await group.sendToAll('second', { contentType: 'text/plain' });
    await b.client.next((f) => f.data === 'second', 'second at b');
    await sleep(100);
    expect(a.client.messages()).toHaveLength(1);
    expect(b.client.messages()).toHaveLength(1);

    await group.removeConnection(b.connectionId);
    expect(await fx.service.groupExists('equipment.7')).toBe(false);
    expect(await status(group.addConnection('no-such-connection'))).toBe(404);
  });

  it('keeps user memberships for connections the user opens later', async () => {
    const early = await fx.rawConnected({ userId: 'tech-alice' });
    await fx.service.group('alerts').addUser('tech-alice');
    await fx.service.group('equipment.1').addUser('tech-alice');
    const late = await fx.rawConnected({ userId: 'tech-alice' });
    await fx.service.group('alerts').sendToAll({ n: 1 });
    for (const connection of [early, late]) {
      await connection.client.next((f) => f.group === 'alerts', 'alerts message');
    }

    await fx.service.group('alerts').removeUser('tech-alice');
    await fx.service.group('alerts').sendToAll({ n: 2 });
    await fx.service.group('equipment.1').sendToAll({ n: 3 });
    await late.client.next((f) => f.data?.n === 3, 'equipment message');
    expect(late.client.messages().map((m) => m.data.n)).toEqual([1, 3]);

    await fx.service.removeUserFromAllGroups('tech-alice');
    expect(await fx.service.groupExists('equipment.1')).toBe(false);
    const later = await fx.rawConnected({ userId: 'tech-alice' });
    await fx.service.group('equipment.1').sendToAll({ n: 4 });
    await sleep(100);
    expect(later.client.messages()).toHaveLength(0);
  });

  it('removes a connection from all groups, and adds/removes by filter', async () => {
    const a = await fx.rawConnected({ userId: 'a', groups: ['g1', 'g2'] });
    const b = await fx.rawConnected({ userId: 'b' });
    expect(await fx.service.groupExists('g1')).toBe(true);
    await fx.service.removeConnectionFromAllGroups(a.connectionId);
    expect(await fx.service.groupExists('g1')).toBe(false);
    expect(await fx.service.groupExists('g2')).toBe(false);

    await fx.service.addConnectionsToGroups(['x', 'y'], "userId eq 'b'");
    await fx.service.group('y').sendToAll({ y: true });
    await b.client.next((f) => f.group === 'y', 'message to y');
    await fx.service.removeConnectionsFromGroups(['y'], "userId eq 'b'");
    expect(await fx.service.groupExists('y')).toBe(false);
    expect(await fx.service.groupExists('x')).toBe(true);
    expect(a.client.messages()).toHaveLength(0);
  });
});

describe('connections and users', () => {
  it('reports existence of connections and users', async () => {
    const a = await fx.rawConnected({ userId: 'exists' });
    expect(await fx.service.connectionExists(a.connectionId)).toBe(true);
    expect(await fx.service.connectionExists('nope')).toBe(false);
    expect(await fx.service.userExists('exists')).toBe(true);
    expect(await fx.service.userExists('missing')).toBe(false);
    // Hubs are separate: the same names do not exist in another hub.
    expect(await fx.serviceClient('other').userExists('exists')).toBe(false);
  });

  it('closes one connection with a disconnected message and close code 1008', async () => {
    const a = await fx.rawConnected({ userId: 'a', groups: ['g'] });
    const b = await fx.rawConnected({ userId: 'b' });
    await fx.service.closeConnection(a.connectionId, { reason: 'maintenance' });
    expect(await a.client.waitClosed()).toBe(1008);
    expect(a.client.frames.at(-1)).toEqual({
      type: 'system',
      event: 'disconnected',
      message: 'maintenance',
    });
    expect(await fx.service.connectionExists(a.connectionId)).toBe(false);
    expect(await fx.service.groupExists('g')).toBe(false);
    expect(await fx.service.connectionExists(b.connectionId)).toBe(true);
    await fx.service.closeConnection('already-gone');
  });

  it('closes a user, a group and everything', async () => {
    const u1 = await fx.rawConnected({ userId: 'u' });
    const u2 = await fx.rawConnected({ userId: 'u' });
    const g = await fx.rawConnected({ userId: 'g', groups: ['room'] });
    const rest = await fx.rawConnected({ userId: 'r' });
    await fx.service.closeUserConnections('u');
    await u1.client.waitClosed();
    await u2.client.waitClosed();
    expect(await fx.service.userExists('u')).toBe(false);
    expect(await fx.service.connectionExists(g.connectionId)).toBe(true);

    await fx.service.group('room').closeAllConnections({ reason: 'room closed' });
    await g.client.waitClosed();
    expect(rest.client.closeCode).toBeUndefined();

    await fx.service.closeAllConnections();
    await rest.client.waitClosed();
    expect(await fx.service.userExists('r')).toBe(false);
  });

  it('grants, checks and revokes permissions', async () => {
    const { client, connectionId } = await fx.connect({ userId: 'p' });
    await expect(client.joinGroup('ops')).rejects.toThrow();
    expect(
      await fx.service.hasPermission(connectionId, 'joinLeaveGroup', { targetName: 'ops' }),
    ).toBe(false);
    await fx.service.grantPermission(connectionId, 'joinLeaveGroup', { targetName: 'ops' });
    expect(
      await fx.service.hasPermission(connectionId, 'joinLeaveGroup', { targetName: 'ops' }),
    ).toBe(true);
    await client.joinGroup('ops');
    expect(await fx.service.groupExists('ops')).toBe(true);
    await fx.service.revokePermission(connectionId, 'joinLeaveGroup', { targetName: 'ops' });
    await expect(client.leaveGroup('ops')).rejects.toThrow();
    expect(await status(fx.service.grantPermission('missing', 'sendToGroup'))).toBe(404);
  });
});
