/**
 * Positions reported as a Web PubSub client event: a technician's real
 * `@azure/web-pubsub-client`, connected through /api/negotiate, sends the `location` event;
 * the stand-in forwards it, signed, to the app's event handler served over a real loopback
 * HTTP host; the position then shows in nearest-technicians. Forged or unsigned requests are
 * refused, and bad positions or senders who are not active technicians are answered and not
 * stored.
 */
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectionSignatures } from '../../lib/api/webPubSubEvents.js';
import { call } from '../helpers/api.js';
import { useApiHost } from '../helpers/apiHost.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { adminFixtures } from '../helpers/fixtures.js';

useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin'], 'admin-wps'],
  tech: [['Technician'], 'tech-wps'],
  retired: [['Technician'], 'tech-wps-retired'],
});
const { createEquipment, createTechnician } = adminFixtures(tokens);

const apiHost = useApiHost();
const handlerUrl = () => `${apiHost.base()}/webpubsub/events`;
const webPubSub = useAppWebPubSub({
  eventHandler: () => ({
    urlTemplate: handlerUrl(),
    userEventPattern: 'location',
  }),
});

const machineAt = { latitude: 48.8566, longitude: 2.3522 };
let machineId = 0;
let technicianId = 0;
beforeAll(async () => {
  machineId = (await createEquipment(machineAt)).id;
  technicianId = (await createTechnician({ externalId: 'tech-wps', specialization: 'pumps' })).id;
  await createTechnician({ externalId: 'tech-wps-retired', isActive: false });
});

/** A technician's app: connected through /api/negotiate, collecting the server's answers. */
async function technicianApp(token: string) {
  const negotiated = await call('POST', '/api/negotiate', { token });
  expect(negotiated.status, negotiated.text).toBe(200);
  const client = new WebPubSubClient(negotiated.body.url as string, { autoReconnect: false });
  const answers: Record<string, unknown>[] = [];
  client.on('server-message', (event) =>
    answers.push(event.message.data as Record<string, unknown>),
  );
  await client.start();
  const send = async (position: Record<string, unknown>) => {
    const before = answers.length;
    await client.sendEvent('location', position, 'json');
    await expect.poll(() => answers.length).toBeGreaterThan(before);
    return answers[before];
  };
  return { client, send };
}

const nearest = async () =>
  (await call('GET', `/api/equipment/${machineId}/nearest-technicians`, { token: tokens.admin }))
    .body as { technicians: { technicianId: number; distanceKm: number }[] };

describe('the location client event', () => {
  it('stores a technician’s position sent through Web PubSub', async () => {
    const app = await technicianApp(tokens.tech);
    try {
      const bad = await app.send({
        latitude: 123,
        longitude: 2.35,
        accuracy: 5,
        time: new Date().toISOString(),
      });
      expect(bad).toMatchObject({ type: 'location.result', stored: false, status: 400 });
      expect(String(bad?.['detail'])).toContain('#/latitude');
      expect((await nearest()).technicians).toEqual([]);

      const good = await app.send({
        latitude: 48.8666,
        longitude: 2.3522,
        accuracy: 10,
        time: new Date().toISOString(),
      });
      expect(good).toEqual({ type: 'location.result', stored: true });
      const [found] = (await nearest()).technicians;
      expect(found?.technicianId).toBe(technicianId);
      expect(found?.distanceKm).toBeCloseTo(1.11, 1);
    } finally {
      app.client.stop();
    }
  });

  it('ignores, with an answer, positions of inactive technicians', async () => {
    const app = await technicianApp(tokens.retired);
    try {
      const answer = await app.send({ ...machineAt, accuracy: 5, time: new Date().toISOString() });
      expect(answer).toMatchObject({ stored: false, status: 403 });
    } finally {
      app.client.stop();
    }
  });
});

describe('the event handler endpoint', () => {
  const position = { ...machineAt, accuracy: 5, time: new Date().toISOString() };
  const event = (signature: string | undefined) => ({
    'content-type': 'application/json',
    'webhook-request-origin': new URL(webPubSub.standIn.endpoint).host,
    'ce-specversion': '1.0',
    'ce-type': 'azure.webpubsub.user.location',
    'ce-hub': 'sis',
    'ce-connectionid': 'forged-connection',
    'ce-userid': 'tech-wps',
    'ce-eventname': 'location',
    ...(signature === undefined ? {} : { 'ce-signature': signature }),
  });

  it('refuses unsigned and forged requests', async () => {
    for (const signature of [
      undefined,
      'sha256=00',
      connectionSignatures('forged-connection', ['not-the-key'])[0],
      connectionSignatures('another-connection', [webPubSub.accessKey])[0],
    ]) {
      const answer = await fetch(handlerUrl(), {
        method: 'POST',
        headers: event(signature),
        body: JSON.stringify(position),
      });
      expect(answer.status).toBe(401);
    }
    // The same request, signed with the hub's key, is taken: the refusals were the signature's.
    const signed = await fetch(handlerUrl(), {
      method: 'POST',
      headers: event(connectionSignatures('forged-connection', [webPubSub.accessKey])[0]),
      body: JSON.stringify(position),
    });
    expect(signed.status).toBe(200);
    expect(signed.headers.get('ratelimit-policy')).toContain('"writes"');
  });

  it('allows only its own Web PubSub origin in the abuse-protection handshake', async () => {
    const ours = await fetch(handlerUrl(), {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': new URL(webPubSub.standIn.endpoint).host },
    });
    expect(ours.status).toBe(200);
    expect(ours.headers.get('webhook-allowed-origin')).toBe(
      new URL(webPubSub.standIn.endpoint).host,
    );
    const other = await fetch(handlerUrl(), {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'evil.webpubsub.azure.com' },
    });
    expect(other.status).toBe(403);
  });
});
