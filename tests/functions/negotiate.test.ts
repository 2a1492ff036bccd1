/**
 * /api/negotiate and /api/me called in-process with real signed tokens; the URLs they hand
 * out are then used by the real `@azure/web-pubsub-client` against the Web PubSub stand-in,
 * which enforces the token's groups and roles as the service does.
 */
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { decodeJwt } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { assignTechnician, lookalikeSubjects } from '../helpers/audience.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';

const database = useTestDatabase();
const issuer = useTestIssuer();
const webPubSub = useAppWebPubSub();
const tokens = { admin: '', ana: '', stranger: '', noRole: '' };
const clients: WebPubSubClient[] = [];

beforeAll(async () => {
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.ana = await issuer.token(['Technician'], 'tech-ana');
  tokens.stranger = await issuer.token(['Technician'], 'tech-nobody');
  tokens.noRole = await issuer.token([], 'x');
  await assignTechnician(database.pool, 'tech-ana', [11, 12]);
  await assignTechnician(database.pool, 'tech-cy', [13]);
});
afterEach(() => {
  for (const client of clients.splice(0)) client.stop();
});

async function negotiate(token: string, path = '/api/negotiate') {
  const result = await call('POST', path, { token });
  expect(result.status, result.text).toBe(200);
  const {
    url,
    token: accessToken,
    baseUrl,
  } = result.body as Record<'url' | 'token' | 'baseUrl', string>;
  expect(url).toBe(`${baseUrl}?access_token=${accessToken}`);
  return { url, claims: decodeJwt(accessToken) };
}

async function connected(url: string) {
  const client = new WebPubSubClient(url, {
    autoReconnect: false,
    messageRetryOptions: { maxRetries: 0 },
  });
  clients.push(client);
  const groupMessages: unknown[] = [];
  client.on('group-message', (event) => groupMessages.push(event.message.data));
  await client.start();
  return { client, groupMessages };
}

describe('POST /api/negotiate', () => {
  it('gives a technician the groups of their equipment, as themselves, without send rights', async () => {
    const { url, claims } = await negotiate(tokens.ana);
    expect(claims.sub).toBe('tech-ana');
    expect(claims['webpubsub.group']).toEqual(['equipment.11', 'equipment.12']);
    const roles = [claims.role ?? []].flat() as string[];
    expect(roles.sort()).toEqual([
      'webpubsub.joinLeaveGroup.equipment.11',
      'webpubsub.joinLeaveGroup.equipment.12',
    ]);
    expect(roles.some((role) => role.startsWith('webpubsub.sendToGroup'))).toBe(false);
    const lifetime = Number(claims.exp) - Number(claims.iat);
    expect(lifetime).toBeLessThanOrEqual(10 * 60);
    expect(lifetime).toBeGreaterThan(0);

    const { client } = await connected(url);
    // Another machine's group, and sending anywhere, are refused by the service.
    await expect(client.joinGroup('equipment.13')).rejects.toThrow();
    await expect(client.joinGroup('alerts')).rejects.toThrow();
    await expect(client.sendToGroup('equipment.11', { x: 1 }, 'json')).rejects.toThrow();
    // Its own groups it may rejoin.
    await expect(client.joinGroup('equipment.11')).resolves.toBeDefined();
  });

  it('gives an admin the alerts and admins groups and lets them open any machine', async () => {
    const { url, claims } = await negotiate(tokens.admin);
    expect(claims.sub).toBe('admin-ada');
    expect(claims['webpubsub.group']).toEqual(['alerts', 'admins']);
    const { client } = await connected(url);
    await expect(client.joinGroup('equipment.13')).resolves.toBeDefined();
    await expect(client.sendToGroup('alerts', { x: 1 }, 'json')).rejects.toThrow();
  });

  it('receives what the app sends to the pre-joined groups', async () => {
    const { url } = await negotiate(tokens.ana);
    const { groupMessages } = await connected(url);
    const service = webPubSub.standIn;
    expect(service.inspect('sis').length).toBeGreaterThan(0);
    const { getServices } = await import('../../lib/services.js');
    await getServices().webPubSub.group('equipment.12').sendToAll({ hello: 12 });
    await getServices().webPubSub.group('equipment.13').sendToAll({ hello: 13 });
    await expect.poll(() => groupMessages).toEqual([{ hello: 12 }]);
  });

  it('takes the user from the token, never from the query or body', async () => {
    const result = await call('POST', '/api/negotiate?userId=admin-ada&groups=alerts', {
      token: tokens.ana,
      json: { userId: 'admin-ada', groups: ['alerts'] },
    });
    expect(result.status, result.text).toBe(200);
    const claims = decodeJwt(String((result.body as Record<string, string>).token));
    expect(claims.sub).toBe('tech-ana');
    expect(claims['webpubsub.group']).toEqual(['equipment.11', 'equipment.12']);
  });

  it('gives a technician without a technician row nothing to join', async () => {
    const { claims } = await negotiate(tokens.stranger);
    expect(claims['webpubsub.group'] ?? []).toEqual([]);
  });

  it.each(lookalikeSubjects('tech-ana'))(
    'gives a subject that only resembles a technician’s none of their groups (sub %j)',
    async (subject) => {
      const { claims } = await negotiate(await issuer.token(['Technician'], subject));
      expect(claims.sub).toBe(subject);
      expect(claims['webpubsub.group'] ?? []).toEqual([]);
      expect([claims.role ?? []].flat()).toEqual([]);
    },
  );

  it('refuses anonymous (401), roleless (403), and foreign-signed (401) callers', async () => {
    const at = '/api/negotiate';
    expectProblem(await call('POST', at), 401, at);
    expectProblem(await call('POST', at, { token: tokens.noRole }), 403, at);
    expectProblem(await call('POST', at, { token: await issuer.foreignToken(['Admin']) }), 401, at);
  });
});

describe('GET /api/me', () => {
  it('describes a technician and an admin', async () => {
    const ana = await call('GET', '/api/me', { token: tokens.ana });
    expect(ana.status, ana.text).toBe(200);
    expect(ana.body).toEqual({
      subject: 'tech-ana',
      roles: ['Technician'],
      technicianId: expect.any(Number),
      equipmentIds: [11, 12],
    });
    const admin = await call('GET', '/api/me', { token: tokens.admin });
    expect(admin.body).toEqual({
      subject: 'admin-ada',
      roles: ['Admin'],
      technicianId: null,
      equipmentIds: null,
    });
    expectProblem(await call('GET', '/api/me'), 401, '/api/me');
  });

  it.each(lookalikeSubjects('tech-ana'))(
    'links a subject that only resembles a technician’s to no technician (sub %j)',
    async (subject) => {
      const me = await call('GET', '/api/me', {
        token: await issuer.token(['Technician'], subject),
      });
      expect(me.status, me.text).toBe(200);
      expect(me.body).toEqual({
        subject,
        roles: ['Technician'],
        technicianId: null,
        equipmentIds: [],
      });
    },
  );
});
