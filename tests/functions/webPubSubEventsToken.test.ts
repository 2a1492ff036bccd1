/**
 * The event handler as in Azure: the hub's event handler has managed-identity `auth`, so the
 * stand-in sends `Authorization: Bearer <token>` with every event, the token minted by the
 * dev issuer for the Web PubSub identity (`oid`) and the events audience, served over a real
 * JWKS; the app, given the WEBPUBSUB_EVENTS_* settings, verifies it with lib/auth.ts. A
 * technician's real client then gets its position stored; requests with a token for another
 * audience, of another principal, expired, signed by another key or with none are refused
 * (401) although their ce-signature is right, so the refusals are the token's.
 */
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDevIssuer } from '../../dev/issuer.js';
import { connectionSignatures } from '../../lib/api/webPubSubEvents.js';
import { call } from '../helpers/api.js';
import { useApiHost } from '../helpers/apiHost.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { adminFixtures } from '../helpers/fixtures.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin'], 'admin-wps-token'],
  tech: [['Technician'], 'tech-wps-token'],
});
const { createEquipment, createTechnician } = adminFixtures(tokens);

/** The Web PubSub resource's identity and the audience its tokens are issued for. */
const webPubSubPrincipal = '11111111-2222-3333-4444-555555555555';
const eventsAudience = 'api://sis-webpubsub-events';
/** A token as Entra issues it to the Web PubSub identity for `audience`. */
const serviceToken = (
  audience = eventsAudience,
  oid = webPubSubPrincipal,
  expiresIn = '10m',
): Promise<string> => issuer.issuer.sign({ sub: oid, oid, audience }, expiresIn);

useAppSettings(() => ({
  WEBPUBSUB_EVENTS_AUDIENCE: eventsAudience,
  WEBPUBSUB_EVENTS_ISSUER: issuer.issuer.issuer,
  WEBPUBSUB_EVENTS_JWKS_URI: issuer.jwksUri,
  WEBPUBSUB_EVENTS_PRINCIPAL_ID: webPubSubPrincipal,
}));

const apiHost = useApiHost();
const handlerUrl = () => `${apiHost.base()}/webpubsub/events`;
const asked: string[] = [];
const webPubSub = useAppWebPubSub({
  eventHandler: () => ({
    urlTemplate: handlerUrl(),
    userEventPattern: 'location',
    auth: { type: 'ManagedIdentity', managedIdentity: { resource: eventsAudience } },
  }),
  upstreamTokens: (resource) => {
    asked.push(resource);
    return serviceToken(resource);
  },
});

const machineAt = { latitude: 48.8566, longitude: 2.3522 };
let machineId = 0;
let technicianId = 0;
beforeAll(async () => {
  machineId = (await createEquipment(machineAt)).id;
  technicianId = (await createTechnician({ externalId: 'tech-wps-token' })).id;
  // The endpoint tests' sender: positions of one technician are refused when too frequent.
  await createTechnician({ externalId: 'tech-wps-token-direct' });
});

describe('the location client event with a managed-identity token', () => {
  it('stores a position the stand-in forwards with the Web PubSub identity’s token', async () => {
    const negotiated = await call('POST', '/api/negotiate', { token: tokens.tech });
    expect(negotiated.status, negotiated.text).toBe(200);
    const client = new WebPubSubClient(negotiated.body.url as string, { autoReconnect: false });
    const answers: unknown[] = [];
    client.on('server-message', (event) => answers.push(event.message.data));
    await client.start();
    try {
      await client.sendEvent(
        'location',
        { latitude: 48.8666, longitude: 2.3522, accuracy: 10, time: new Date().toISOString() },
        'json',
      );
      await expect.poll(() => answers.length).toBe(1);
      expect(answers[0]).toEqual({ type: 'location.result', stored: true });
      expect(asked).toEqual([eventsAudience]);
    } finally {
      client.stop();
    }
    const nearest = await call('GET', `/api/equipment/${machineId}/nearest-technicians`, {
      token: tokens.admin,
    });
    expect(nearest.body.technicians[0]?.technicianId).toBe(technicianId);
  });
});

describe('the event handler endpoint with WEBPUBSUB_EVENTS_* set', () => {
  const post = (authorization: string | undefined) =>
    fetch(handlerUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-type': 'azure.webpubsub.user.location',
        'ce-hub': webPubSub.hub,
        'ce-connectionid': 'some-connection',
        'ce-userid': 'tech-wps-token-direct',
        'ce-eventname': 'location',
        // Right, so that only the token decides.
        'ce-signature': connectionSignatures('some-connection', [webPubSub.accessKey])[0] ?? '',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify({ ...machineAt, accuracy: 5, time: new Date().toISOString() }),
    });

  it('takes the Web PubSub identity’s token for the events audience', async () => {
    const answer = await post(`Bearer ${await serviceToken()}`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ type: 'location.result', stored: true });
  });

  it('refuses a missing, misaddressed, foreign, expired or wrongly signed token', async () => {
    const otherKeyDir = mkdtempSync(join(tmpdir(), 'sis-test-issuer-'));
    try {
      const otherKey = await loadDevIssuer(otherKeyDir, { issuer: issuer.issuer.issuer });
      const refused = {
        none: undefined,
        notBearer: `Basic ${Buffer.from('a:b').toString('base64')}`,
        // A user's token: right issuer and key, but the API's audience and no such principal.
        userToken: `Bearer ${tokens.tech}`,
        wrongAudience: `Bearer ${await serviceToken('api://something-else')}`,
        wrongPrincipal: `Bearer ${await serviceToken(eventsAudience, '99999999-0000-0000-0000-000000000000')}`,
        expired: `Bearer ${await serviceToken(eventsAudience, webPubSubPrincipal, '-5 minutes')}`,
        otherKey: `Bearer ${await otherKey.sign({ sub: webPubSubPrincipal, oid: webPubSubPrincipal, audience: eventsAudience })}`,
        // The right claims under `alg: none`, without a signature.
        unsigned: `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${(await serviceToken()).split('.')[1]}.`,
      };
      for (const [name, authorization] of Object.entries(refused)) {
        const answer = await post(authorization);
        expect(answer.status, name).toBe(401);
      }
    } finally {
      rmSync(otherKeyDir, { recursive: true, force: true });
    }
  });
});
