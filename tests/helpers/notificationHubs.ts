/**
 * A loopback HTTPS endpoint that plays Azure Notification Hubs' send API for the real
 * `@azure/notification-hubs` client: it checks the SAS authorization header (key name,
 * expiry, HMAC-SHA256 signature over the audience) and records every accepted payload. It
 * can be told to fail the next sends with a status, to test retries.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface RecordedPush {
  hub: string;
  platform: string;
  tags: string;
  headers: Record<string, string>;
  body: string;
}

export interface PushStandIn {
  connectionString: string;
  hubName: string;
  caCertFile: string;
  received: RecordedPush[];
  /** Authorization headers refused so far. */
  refused: number;
  /** Answers the next `count` sends with `status`. */
  failNext(count: number, status: number): void;
  stop(): Promise<void>;
}

function validSignature(header: string, keyName: string, key: string, origin: string): boolean {
  const match = /^SharedAccessSignature (.+)$/.exec(header);
  if (!match?.[1]) return false;
  const fields = new Map(
    match[1].split('&').map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)] as const;
    }),
  );
  const [sr, sig, se, skn] = [
    fields.get('sr'),
    fields.get('sig'),
    fields.get('se'),
    fields.get('skn'),
  ];
  if (!sr || !sig || !se || !skn) return false;
  if (decodeURIComponent(skn) !== keyName) return false;
  if (!(Number(se) > Date.now() / 1000)) return false;
  if (!decodeURIComponent(sr).startsWith(origin.toLowerCase())) return false;
  const expected = createHmac('sha256', key).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startPushStandIn(options: {
  dir: string;
  keyName?: string;
  key?: string;
  hubName?: string;
}): Promise<PushStandIn> {
  const keyName = options.keyName ?? 'DefaultSendSharedAccessSignature';
  const key = options.key ?? 'test-push-key-0123456789';
  const hubName = options.hubName ?? 'sis-push';
  const pems = await generate([{ name: 'commonName', value: 'SIS test Notification Hubs' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const caCertFile = join(options.dir, 'push-ca.pem');
  writeFileSync(caCertFile, pems.cert);
  const failures: number[] = [];
  const handle = { received: [] as RecordedPush[], refused: 0 };
  let origin = '';
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin);
      const path = /^\/([^/]+)\/messages\/$/.exec(url.pathname);
      if (req.method !== 'POST' || !path?.[1]) {
        res.writeHead(404).end();
        return;
      }
      if (!validSignature(req.headers.authorization ?? '', keyName, key, origin)) {
        handle.refused++;
        res.writeHead(401).end('<Error><Code>401</Code><Detail>Unauthorized</Detail></Error>');
        return;
      }
      const failWith = failures.shift();
      if (failWith !== undefined) {
        res.writeHead(failWith).end();
        return;
      }
      handle.received.push({
        hub: decodeURIComponent(path[1]),
        platform: String(req.headers['servicebusnotification-format'] ?? ''),
        tags: String(req.headers['servicebusnotification-tags'] ?? ''),
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([name, value]) => [name, String(value)]),
        ),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res
        .writeHead(201, { location: `${origin}/${path[1]}/messages/${handle.received.length}` })
        .end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `https://127.0.0.1:${port}`;
  return {
    get received() {
      return handle.received;
    },
    get refused() {
      return handle.refused;
    },
    connectionString: `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=${keyName};SharedAccessKey=${key}`,
    hubName,
    caCertFile,
    failNext(count, status) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
