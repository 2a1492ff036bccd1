/**
 * Webhook delivery over real sockets: alerts in the Cosmos server, webhooks in MariaDB with
 * secrets sealed under a real key file, the Web PubSub stand-in for the other duty, and HTTP
 * receivers on loopback. The receivers verify each delivery with a Standard Webhooks verifier
 * written here from the specification (standard-webhooks/standard-webhooks,
 * spec/standard-webhooks.md), not with the product's signer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemDefinition } from '@azure/cosmos';
import { generate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebhookKeyFile } from '../../../dev/webhookKey.js';
import {
  createWebhook,
  mysqlWebhookRegistry,
  type WebhookInput,
} from '../../../lib/api/webhooks.js';
import { assignedUserIds } from '../../../lib/fanout/audience.js';
import { AlertDeliverer } from '../../../lib/fanout/deliverer.js';
import { AlertOutbox } from '../../../lib/fanout/outbox.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import { WebhookSender } from '../../../lib/fanout/webhooks.js';
import { keyFileWrapper, WebhookSecretStore } from '../../../lib/fanout/webhookSecrets.js';
import { applyBreach, type Alert } from '../../../lib/telemetry/alerts.js';
import { documentBody } from '../../../lib/telemetry/cosmosStore.js';
import { defaultSeverityRules, gradeWindow } from '../../../lib/telemetry/severity.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { truncateAll, useTestDatabase } from '../../helpers/database.js';
import { rowHelpers } from '../../helpers/rows.js';
import { Fixture, accessKey, hubName } from '../../dev/webpubsub/helpers.js';

const database = useTestDatabase();
const cosmos = useTestCosmos();
const { rows } = rowHelpers(database);
const webPubSub = new Fixture();
const keyDir = mkdtempSync(join(tmpdir(), 'sis-test-webhook-delivery-'));
const secrets = new WebhookSecretStore(
  keyFileWrapper(ensureWebhookKeyFile(join(keyDir, 'webhooks.key'))),
);
const local = { allowLoopback: true };
const admin = { subject: 'admin-1', roles: new Set(['Admin'] as const) };
const logged: string[] = [];
const disableAfterFailures = 3;

// ---------- a receiver, and a verifier written from the specification ----------

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Statuses to answer, in order; then 200. */
  answers: number[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.statusCode = answers.shift() ?? 200;
      // A redirect names a path of this same receiver, so following it would show here.
      if (response.statusCode >= 300 && response.statusCode < 400)
        response.setHeader('location', '/followed');
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/sis?tenant=7`,
    received,
    answers,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/**
 * Verifies a delivery as the specification tells receivers to: the signed content is
 * `{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256 with the base64-decoded part of
 * the `whsec_` secret, compared in constant time with each `v1,<base64>` signature of the
 * space-separated header; the timestamp must be within `toleranceSeconds` of the receiver's
 * clock (`nowSeconds`), against replays.
 */
function verifyStandardWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string')
    return false;
  if (!/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || signature === undefined) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// ---------- the product under test ----------

function sender(
  policy = local,
  timeoutMs = 2_000,
  store = secrets,
  resolve?: (hostname: string) => Promise<readonly string[]>,
) {
  return new WebhookSender({
    registry: mysqlWebhookRegistry(() => database.pool),
    secrets: store,
    ...(resolve ? { resolve } : {}),
    policy,
    disableAfterFailures,
    timeoutMs,
    maxResponseBytes: 1024,
    log: (message) => logged.push(message),
  });
}

function deliverer(options: { now?: () => number; webhooks?: WebhookSender } = {}) {
  const client = createWebPubSubClient({
    WEBPUBSUB__endpoint: webPubSub.standIn.endpoint,
    WEBPUBSUB_KEY: accessKey,
    WEBPUBSUB_HUB: hubName,
    WEBPUBSUB_TOKEN_MINUTES: 10,
    EQUIPMENT_STATUS_INTERVAL_SECONDS: 0,
  });
  return new AlertDeliverer({
    outbox: new AlertOutbox(cosmos.containers.alerts),
    webPubSub: webPubSubSender(client),
    webhooks: options.webhooks ?? sender(),
    audience: (ids) => assignedUserIds(database.pool, ids),
    log: (message) => logged.push(message),
    sendTimeoutMs: 3_000,
    ...(options.now ? { now: options.now } : {}),
  });
}

async function register(url: string, input: Partial<WebhookInput> = {}) {
  return createWebhook(database.pool, { policy: local, secrets }, admin, {
    url,
    eventTypes: ['alert.raised', 'alert.escalated', 'alert.updated'],
    isActive: true,
    ...input,
  });
}

let windowMinute = 0;
/** A stored alert (raised, or a new version of `latest`) for one window at `temperature`. */
async function raise(equipmentId: string, temperature: number, latest?: Alert): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 1, 0, 5 * windowMinute++);
  const { breaches } = gradeWindow({ temperature }, defaultSeverityRules);
  const breach = breaches[0];
  if (!breach) throw new Error(`temperature ${temperature} is not a breach`);
  const summary = {
    readings: 1,
    metrics: { temperature: { count: 1, min: temperature, max: temperature, mean: temperature } },
  };
  const alert = applyBreach(latest, equipmentId, windowStart, summary, breach);
  if (!alert) throw new Error('no alert');
  await cosmos.containers.alerts.items.upsert(alert);
  return alert;
}

async function stored(alert: Alert): Promise<Alert> {
  const { resource } = await cosmos.containers.alerts
    .item(alert.id, alert.equipmentId)
    .read<ItemDefinition>();
  if (!resource) throw new Error(`alert ${alert.id} is missing`);
  return documentBody(resource) as Alert;
}

const receivers: Receiver[] = [];
async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

beforeAll(async () => {
  await webPubSub.start({ hubs: [hubName] });
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  // Truncating reuses webhook ids: alerts still owed to the old ones must go too.
  const { resources } = await cosmos.containers.alerts.items
    .query<{ id: string; equipmentId: string }>('SELECT c.id, c.equipmentId FROM c')
    .fetchAll();
  for (const item of resources)
    await cosmos.containers.alerts.item(item.id, item.equipmentId).delete();
  await truncateAll(database.pool);
  logged.length = 0;
});
afterAll(async () => {
  await webPubSub.cleanup();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('webhook deliveries', () => {
  it('reach a loopback receiver once per event, signed so that the secret verifies them', async () => {
    const hook = await receiver();
    const created = await register(hook.url);
    const raised = await raise('201', 78);
    expect(raised.delivery?.pending).toContain('webhooks');

    expect(await deliverer().deliverWritten([raised])).toEqual({ delivered: 1, pending: 0 });
    expect(hook.received).toHaveLength(1);
    const first = hook.received[0] as Received;
    const nowSeconds = Math.floor(Date.now() / 1000);
    expect(verifyStandardWebhook(created.secret, first.headers, first.body, nowSeconds)).toBe(true);
    expect(first.headers['content-type']).toBe('application/json');
    const payload = JSON.parse(first.body) as {
      type: string;
      timestamp: string;
      data: { alert: { id: string; version: number; delivery?: unknown } };
    };
    expect(payload).toMatchObject({
      type: 'alert.raised',
      data: { alert: { id: raised.id, version: 1 } },
    });
    expect(payload.data.alert.delivery).toBeUndefined();

    // Delivered versions are never sent again, by the writer or by the sweep.
    const after = await stored(raised);
    expect(after.delivery?.pending).toEqual([]);
    await deliverer().deliverWritten([after]);
    await deliverer({ now: () => Date.now() + 3_600_000 }).sweep();
    expect(hook.received).toHaveLength(1);

    // The next event is one more delivery, with an id of its own.
    const escalated = await raise('201', 120, after);
    await deliverer().deliverWritten([escalated]);
    expect(hook.received).toHaveLength(2);
    const second = hook.received[1] as Received;
    expect(JSON.parse(second.body)).toMatchObject({ type: 'alert.escalated' });
    expect(second.headers['webhook-id']).not.toBe(first.headers['webhook-id']);
    expect(verifyStandardWebhook(created.secret, second.headers, second.body, nowSeconds)).toBe(
      true,
    );
    expect(JSON.stringify([logged, hook.received])).not.toContain(created.secret);
  });

  it('fails verification for a replay, a changed body or another secret', async () => {
    const hook = await receiver();
    const created = await register(hook.url);
    const other = await register(hook.url);
    await deliverer().deliverWritten([await raise('202', 95)]);
    expect(hook.received).toHaveLength(2);
    const delivery = hook.received.find((r) => {
      // Each webhook's delivery is signed with its own secret.
      return verifyStandardWebhook(
        created.secret,
        r.headers,
        r.body,
        Number(r.headers['webhook-timestamp']),
      );
    }) as Received;
    const sentAt = Number(delivery.headers['webhook-timestamp']);
    expect(verifyStandardWebhook(created.secret, delivery.headers, delivery.body, sentAt)).toBe(
      true,
    );
    // The same request replayed an hour later: its timestamp is too old.
    expect(
      verifyStandardWebhook(created.secret, delivery.headers, delivery.body, sentAt + 3600),
    ).toBe(false);
    // A fresh timestamp on the old signature: the timestamp is signed, so it does not verify.
    const restamped = { ...delivery.headers, 'webhook-timestamp': String(sentAt + 3600) };
    expect(verifyStandardWebhook(created.secret, restamped, delivery.body, sentAt + 3600)).toBe(
      false,
    );
    expect(
      verifyStandardWebhook(
        created.secret,
        delivery.headers,
        delivery.body.replace('"version":1', '"version":2'),
        sentAt,
      ),
    ).toBe(false);
    expect(verifyStandardWebhook(other.secret, delivery.headers, delivery.body, sentAt)).toBe(
      false,
    );
  });

  it('goes only to webhooks whose event types and filters match', async () => {
    const hook = await receiver();
    await database.pool.query(
      "INSERT INTO equipment (id, name, type, location, status) VALUES (203, 'Dozer 3', 'Dozer', 'Quarry North', 'Operational')",
    );
    const everything = await register(hook.url);
    await register(hook.url, { severities: ['critical'] });
    const dozers = await register(hook.url, {
      equipmentTypes: ['Dozer'],
      locations: ['Quarry North'],
    });
    await register(hook.url, { equipmentTypes: ['Excavator'] });
    await register(hook.url, { locations: ['Harbour'] });
    await register(hook.url, { eventTypes: ['alert.cleared'] });
    await register(hook.url, { isActive: false });

    const alert = await raise('203', 78);
    expect(alert.severity).toBe('medium');
    await deliverer().deliverWritten([alert]);
    const delivered = (await stored(alert)).delivery;
    expect(delivered?.pending).toEqual([]);
    expect(hook.received).toHaveLength(2);
    const bySecret = [everything, dozers].map(
      (w) =>
        hook.received.filter((r) =>
          verifyStandardWebhook(
            w.secret,
            r.headers,
            r.body,
            Number(r.headers['webhook-timestamp']),
          ),
        ).length,
    );
    expect(bySecret).toEqual([1, 1]);
  });

  it('retries a receiver answering 500 from the sweep, then disables the webhook with the reason', async () => {
    const hook = await receiver();
    hook.answers.push(500, 500, 500, 500, 500);
    const created = await register(hook.url);
    let clock = Date.now();
    const run = deliverer({ now: () => clock });
    const alert = await raise('204', 95);

    expect(await run.deliverWritten([alert])).toEqual({ delivered: 0, pending: 1 });
    expect((await stored(alert)).delivery?.pending).toEqual([`webhook:${created.id}`]);
    expect(hook.received).toHaveLength(1);
    // The webPubSub duty arrived and is not owed again; only the webhook is retried.
    clock += 60_000;
    expect(await run.sweep()).toEqual({ delivered: 0, pending: 1 });
    expect(hook.received).toHaveLength(2);
    let [row] = await rows('SELECT is_active, disabled_reason FROM webhooks WHERE id = ?', [
      created.id,
    ]);
    expect(row).toMatchObject({ is_active: 1, disabled_reason: null });

    // The third failure in a row reaches the limit: disabled, and nothing more is owed to it.
    clock += 600_000;
    expect(await run.sweep()).toEqual({ delivered: 1, pending: 0 });
    expect(hook.received).toHaveLength(disableAfterFailures);
    // Every attempt of one message carries the same id, the receiver's idempotency key.
    expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    [row] = await rows(
      'SELECT is_active, disabled_at, disabled_reason, version FROM webhooks WHERE id = ?',
      [created.id],
    );
    expect(row).toMatchObject({ is_active: 0, version: 2 });
    expect(row?.['disabled_at']).toBeInstanceOf(Date);
    expect(String(row?.['disabled_reason'])).toBe(
      '3 deliveries in a row failed; the last: The receiver answered 500',
    );
    const events = await rows(
      "SELECT event_type, actor FROM change_events WHERE aggregate = 'webhook' ORDER BY id",
    );
    expect(events.at(-1)).toMatchObject({
      event_type: 'WebhookUpdated',
      actor: 'system:webhook-delivery',
    });
    expect(logged.join('\n')).toContain(`Webhook ${created.id} (`);
    expect(logged.join('\n')).not.toContain(created.secret);

    // Disabled: later alerts do not go to it.
    clock += 600_000;
    await run.deliverWritten([await raise('204', 120, await stored(alert))]);
    expect(hook.received).toHaveLength(disableAfterFailures);
  });

  it('ends the run of failures with a success', async () => {
    const hook = await receiver();
    // Two failures, a success, two failures: never three in a row.
    hook.answers.push(500, 503, 200, 500, 502);
    const created = await register(hook.url);
    let clock = Date.now();
    const run = deliverer({ now: () => clock });
    let alert = await raise('205', 95);
    await run.deliverWritten([alert]);
    clock += 600_000;
    await run.sweep();
    clock += 600_000;
    expect(await run.sweep()).toEqual({ delivered: 1, pending: 0 });
    expect(await rows('SELECT * FROM webhook_failures')).toEqual([]);
    alert = await raise('205', 120, await stored(alert));
    await run.deliverWritten([alert]);
    clock += 600_000;
    await run.sweep();
    expect(hook.received).toHaveLength(5);
    const [row] = await rows('SELECT is_active FROM webhooks WHERE id = ?', [created.id]);
    expect(row).toMatchObject({ is_active: 1 });
    expect(await rows('SELECT consecutive_failures FROM webhook_failures')).toEqual([
      { consecutive_failures: 2 },
    ]);
  });

  it('checks the address again at delivery: a URL allowed at registration may be refused later', async () => {
    const hook = await receiver();
    const created = await register(hook.url.replace('127.0.0.1', 'localhost'));
    // The same webhook delivered under the Azure policy: localhost resolves to loopback.
    const strict = deliverer({ webhooks: sender({ allowLoopback: false }) });
    const alert = await raise('206', 95);
    expect(await strict.deliverWritten([alert])).toEqual({ delivered: 0, pending: 1 });
    expect(hook.received).toHaveLength(0);
    expect(logged.join('\n')).toMatch(/Expected a URL with https/);
    const [failures] = await rows('SELECT consecutive_failures, last_error FROM webhook_failures');
    expect(failures).toMatchObject({ consecutive_failures: 1 });
    expect(created.isActive).toBe(true);
  });

  it('does not follow redirects, and a 410 Gone disables the webhook at once', async () => {
    const hook = await receiver();
    hook.answers.push(307, 410);
    const created = await register(hook.url);
    let clock = Date.now();
    const run = deliverer({ now: () => clock });
    const alert = await raise('207', 95);
    await run.deliverWritten([alert]);
    expect(logged.join('\n')).toContain('redirects are not followed');
    clock += 600_000;
    expect(await run.sweep()).toEqual({ delivered: 1, pending: 0 });
    expect(hook.received.map((r) => r.path)).toEqual([
      '/hooks/sis?tenant=7',
      '/hooks/sis?tenant=7',
    ]);
    const [row] = await rows('SELECT is_active, disabled_reason FROM webhooks WHERE id = ?', [
      created.id,
    ]);
    expect(row).toMatchObject({ is_active: 0, disabled_reason: 'The receiver answered 410 Gone' });
  });

  it('bounds a delivery: a receiver that never answers fails it, an endless answer is cut off', async () => {
    const sockets = new Set<import('node:net').Socket>();
    let endlessBytes = 0;
    const server = createServer((request, response) => {
      request.resume();
      if (request.url?.startsWith('/silent')) return; // never answers
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const more = (): void => {
        while (!response.destroyed && response.write(chunk)) endlessBytes += chunk.length;
        if (!response.destroyed) response.once('drain', more);
      };
      more();
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const silent = await register(`http://127.0.0.1:${port}/silent`);
      const run = deliverer({ webhooks: sender(local, 300) });
      expect(await run.deliverWritten([await raise('208', 78)])).toEqual({
        delivered: 0,
        pending: 1,
      });
      expect(logged.join('\n')).toContain(
        `Webhook ${silent.id} (http://127.0.0.1:${port}/silent): No answer in time`,
      );
      await database.pool.query('UPDATE webhooks SET is_active = FALSE WHERE id = ?', [silent.id]);

      await register(`http://127.0.0.1:${port}/endless`);
      // A 2xx status line: delivered. The client hangs up after 1 KiB of the answer, so the
      // server gets to write little beyond what the sockets buffer; unbounded, it would
      // stream for the whole 2 s time bound (gigabytes over loopback).
      const bounded = deliverer({ webhooks: sender(local, 2_000) });
      expect(await bounded.deliverWritten([await raise('209', 78)])).toEqual({
        delivered: 1,
        pending: 0,
      });
      expect(endlessBytes).toBeLessThan(16 * 1024 * 1024);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  it('keeps a delivery owed, and counts no failure, when its secret cannot be opened', async () => {
    const hook = await receiver();
    const created = await register(hook.url);
    // Another key than the one that sealed the secret: as when Key Vault refuses or is down.
    const otherKey = new WebhookSecretStore(
      keyFileWrapper(ensureWebhookKeyFile(join(keyDir, 'other.key'))),
    );
    const alert = await raise('210', 78);
    const run = deliverer({ webhooks: sender(local, 2_000, otherKey) });
    expect(await run.deliverWritten([alert])).toEqual({ delivered: 0, pending: 1 });
    expect(hook.received).toHaveLength(0);
    expect((await stored(alert)).delivery?.pending).toEqual([`webhook:${created.id}`]);
    expect(await rows('SELECT * FROM webhook_failures')).toEqual([]);
    // With the right key again, the sweep delivers it.
    expect(await deliverer({ now: () => Date.now() + 600_000 }).sweep()).toEqual({
      delivered: 1,
      pending: 0,
    });
    expect(hook.received).toHaveLength(1);
  });

  it('connects to the address it checked, never resolving the name again', async () => {
    const hook = await receiver();
    const port = new URL(hook.url).port;
    // A name no resolver here knows: the connection can only go where the check said.
    const url = `http://rebind.invalid:${port}/hooks/sis`;
    const sealed = await secrets.seal('whsec_' + Buffer.alloc(32, 7).toString('base64'));
    await database.pool.query(
      `INSERT INTO webhooks (url, event_types, secret_ciphertext, secret_wrapped_key, secret_key_id)
       VALUES (?, '["alert.raised"]', ?, ?, ?)`,
      [url, sealed.ciphertext, sealed.wrappedKey, sealed.keyId],
    );
    let answers: readonly string[] = ['127.0.0.1'];
    const resolve = (hostname: string) =>
      hostname === 'rebind.invalid' ? Promise.resolve(answers) : Promise.reject(new Error('?'));
    const run = deliverer({ webhooks: sender(local, 2_000, secrets, resolve) });
    expect(await run.deliverWritten([await raise('211', 78)])).toEqual({
      delivered: 1,
      pending: 0,
    });
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.headers.host).toBe(`rebind.invalid:${port}`);

    // The name now also answers a private address: refused before any connection.
    answers = ['127.0.0.1', '10.0.0.7'];
    expect(await run.deliverWritten([await raise('212', 78)])).toEqual({
      delivered: 0,
      pending: 1,
    });
    expect(hook.received).toHaveLength(1);
    expect(logged.join('\n')).toContain(
      'rebind.invalid resolves to a refused address: 10.0.0.7 is not a public address',
    );
  });

  it('verifies the receiver’s certificate over the pinned connection (no trust, no delivery)', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    let requests = 0;
    const server = createTlsServer({ key: pems.private, cert: pems.cert }, (request, response) => {
      requests++;
      request.resume();
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await register(`https://localhost:${port}/hook`);
      const run = deliverer({
        webhooks: sender(local, 2_000, secrets, () => Promise.resolve(['127.0.0.1'])),
      });
      expect(await run.deliverWritten([await raise('213', 78)])).toEqual({
        delivered: 0,
        pending: 1,
      });
      expect(requests).toBe(0);
      expect(logged.join('\n')).toMatch(/Could not connect: self[- ]signed certificate/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });
});
