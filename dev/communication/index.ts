/**
 * The Azure Communication Services stand-in: one loopback HTTP server playing the data plane
 * of a Communication Services resource for the real `@azure/communication-email` EmailClient
 * and `@azure/communication-sms` SmsClient, reached with
 * `endpoint=http://127.0.0.1:PORT/;accesskey=...` (one resource serves both, as in Azure).
 *
 * - Every request must carry the access-key signature exactly as the service checks it
 *   (learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial, and the
 *   signer the SDKs use: Azure/azure-sdk-for-js
 *   sdk/communication/communication-common/src/credential/communicationAccessKeyCredentialPolicy.ts):
 *   `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=S`
 *   where S is base64 HMAC-SHA256, keyed with the base64-decoded access key, of
 *   `VERB\nPATH?QUERY\n<x-ms-date>;<host>;<x-ms-content-sha256>`; the content hash must be the
 *   base64 SHA-256 of the body as received and the date within 15 minutes of now. Anything
 *   else is answered 401 and counted in `refused`.
 * - Email follows the send's long-running operation (Azure/azure-rest-api-specs
 *   specification/communication/data-plane/Email/stable/2025-09-01/CommunicationServicesEmail.json):
 *   `POST /emails:send` answers 202 with `Operation-Location` (and `retry-after`) and status
 *   `Running`; `GET /emails/operations/{id}` answers `Succeeded` from the first poll on. The
 *   client's `Operation-Id` names the operation; a send repeating one names the same
 *   operation and is not sent again (how callers make a retried send idempotent, as
 *   Azure/azure-sdk-for-net#40779 describes).
 * - SMS: `POST /sms` (api-version 2021-03-07) answers 202 with one result per recipient;
 *   a recipient that is not an E.164 number fails alone (`successful: false`, 400).
 *
 * `outage('down')` resets every connection, `outage(503)` answers every request with that
 * status, `outage(null)` ends either; so outage tests run against the real clients. What was
 * accepted is recorded in `emails` and `sms`, and listed, newest last, by
 * `GET /_standin/messages` (no signature: not part of the service's API, for a developer's
 * browser or curl on this machine; `npm start` prints its URL).
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isLoopbackHost } from '../../lib/loopback.js';

/** One email the stand-in accepted. */
export interface RecordedEmail {
  operationId: string;
  senderAddress: string;
  to: string[];
  subject: string;
  plainText: string | undefined;
  html: string | undefined;
}

/** One SMS the stand-in accepted (one per recipient). */
export interface RecordedSms {
  messageId: string;
  from: string;
  to: string;
  message: string;
}

export interface CommunicationStandInOptions {
  /** Loopback address; anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Base64 access key; default a random one. */
  accessKey?: string;
  /** The `retry-after` (seconds) of a running email operation. Default 0. */
  retryAfterSeconds?: number;
}

export interface CommunicationStandIn {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** `GET` lists what was accepted: `{ emails: RecordedEmail[], sms: RecordedSms[] }`. */
  messagesUrl: string;
  accessKey: string;
  /** What the app's COMMUNICATION_CONNECTION setting holds locally. */
  connectionString: string;
  emails: RecordedEmail[];
  sms: RecordedSms[];
  /** Requests refused for their signature. */
  refused: number;
  /** `'down'`: connections are reset; a status: every request gets it; null: normal. */
  outage(mode: 'down' | number | null): void;
  stop(): Promise<void>;
}

/** The service refuses a date more than 15 minutes off (the hmac-header tutorial above). */
const allowedClockSkewMs = 15 * 60_000;
const maxBodyBytes = 10 * 1024 * 1024;
const e164 = /^\+[1-9]\d{6,14}$/;
/** The stand-in's own listing of what it accepted; the service has no such path. */
const messagesPath = '/_standin/messages';

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) resolve(undefined);
      else chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

/** Why the request's signature is not valid, or undefined when it is. */
export function signatureProblem(
  request: Pick<IncomingMessage, 'method' | 'url' | 'headers'>,
  body: Buffer,
  accessKey: string,
  nowMs: number,
): string | undefined {
  const match = /^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(.+)$/.exec(
    request.headers.authorization ?? '',
  );
  if (!match?.[1] || !match[2]) return 'no HMAC-SHA256 authorization';
  const signed = match[1].toLowerCase().split(';');
  for (const required of ['host', 'x-ms-content-sha256'])
    if (!signed.includes(required)) return `${required} is not signed`;
  if (!signed.includes('x-ms-date') && !signed.includes('date')) return 'the date is not signed';
  const values: string[] = [];
  for (const name of signed) {
    const value = request.headers[name];
    if (typeof value !== 'string') return `signed header ${name} is missing`;
    values.push(value);
  }
  const dateHeader = request.headers['x-ms-date'] ?? request.headers.date;
  const date = Date.parse(typeof dateHeader === 'string' ? dateHeader : '');
  if (!Number.isFinite(date) || Math.abs(nowMs - date) > allowedClockSkewMs)
    return 'the request date is missing or more than 15 minutes off';
  const contentHash = createHash('sha256').update(body).digest('base64');
  if (request.headers['x-ms-content-sha256'] !== contentHash) return 'the content hash differs';
  const stringToSign = `${request.method ?? ''}\n${request.url ?? ''}\n${values.join(';')}`;
  const expected = createHmac('sha256', Buffer.from(accessKey, 'base64'))
    .update(stringToSign)
    .digest();
  const given = Buffer.from(match[2], 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'the signature differs';
  return undefined;
}

function send(response: ServerResponse, status: number, body?: unknown, headers = {}): void {
  response.writeHead(status, {
    ...headers,
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
  });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}

function error(response: ServerResponse, status: number, code: string, message: string): void {
  send(response, status, { error: { code, message } }, { 'x-ms-error-code': code });
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

export async function startCommunicationStandIn(
  options: CommunicationStandInOptions = {},
): Promise<CommunicationStandIn> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`The stand-in listens on loopback only, not ${host}`);
  const accessKey = options.accessKey ?? randomBytes(32).toString('base64');
  const retryAfter = String(options.retryAfterSeconds ?? 0);
  const operations = new Map<string, 'Running' | 'Succeeded'>();
  let mode: 'down' | number | null = null;
  const sockets = new Set<Socket>();
  let endpoint = '';

  const handle = {
    emails: [] as RecordedEmail[],
    sms: [] as RecordedSms[],
    refused: 0,
  };

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    if (body === undefined) {
      error(response, 413, 'RequestTooLarge', 'body over 10 MB');
      return;
    }
    if (typeof mode === 'number') {
      error(response, mode, 'ServiceUnavailable', 'told to fail');
      return;
    }
    if (request.method === 'GET' && request.url === messagesPath) {
      send(response, 200, { emails: handle.emails, sms: handle.sms });
      return;
    }
    const problem = signatureProblem(request, body, accessKey, Date.now());
    if (problem) {
      handle.refused++;
      error(response, 401, 'Denied', `Denied by the resource provider: ${problem}`);
      return;
    }
    const url = new URL(request.url ?? '/', endpoint);
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) {
      error(response, 400, 'MissingApiVersion', 'api-version is required');
      return;
    }

    if (request.method === 'POST' && url.pathname === '/emails:send') {
      const message = parseJson(body);
      const content = message?.['content'] as Record<string, unknown> | undefined;
      const recipients = message?.['recipients'] as Record<string, unknown> | undefined;
      const to = Array.isArray(recipients?.['to'])
        ? (recipients['to'] as unknown[]).map((r) =>
            text((r as Record<string, unknown>)['address']),
          )
        : [];
      const senderAddress = text(message?.['senderAddress']);
      const subject = text(content?.['subject']);
      if (!senderAddress || !subject || to.length === 0 || to.some((a) => !a?.includes('@'))) {
        error(response, 400, 'BadRequest', 'senderAddress, subject and to are required');
        return;
      }
      const operationId = request.headers['operation-id'];
      const id = typeof operationId === 'string' && operationId ? operationId : randomUUID();
      if (!operations.has(id)) {
        operations.set(id, 'Running');
        handle.emails.push({
          operationId: id,
          senderAddress,
          to: to.filter((a): a is string => a !== undefined),
          subject,
          plainText: text(content?.['plainText']),
          html: text(content?.['html']),
        });
      }
      send(
        response,
        202,
        { id, status: operations.get(id) },
        {
          'operation-location': `${endpoint}/emails/operations/${id}?api-version=${apiVersion}`,
          'retry-after': retryAfter,
        },
      );
      return;
    }
    const polled = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    if (request.method === 'GET' && polled?.[1]) {
      const id = decodeURIComponent(polled[1]);
      if (!operations.has(id)) {
        error(response, 404, 'NotFound', 'no such operation');
        return;
      }
      operations.set(id, 'Succeeded');
      send(response, 200, { id, status: 'Succeeded' });
      return;
    }
    if (request.method === 'POST' && url.pathname === '/sms') {
      const sendRequest = parseJson(body);
      const from = text(sendRequest?.['from']);
      const message = text(sendRequest?.['message']);
      const recipients = sendRequest?.['smsRecipients'];
      if (!from || !e164.test(from) || message === undefined || !Array.isArray(recipients)) {
        error(response, 400, 'BadRequest', 'from, message and smsRecipients are required');
        return;
      }
      const value = recipients.map((recipient: unknown) => {
        const to = text((recipient as Record<string, unknown>)['to']) ?? '';
        if (!e164.test(to)) {
          return {
            to,
            httpStatusCode: 400,
            successful: false,
            errorMessage: 'Invalid To phone number format.',
          };
        }
        const messageId = `Outgoing_${randomUUID()}_noam`;
        handle.sms.push({ messageId, from, to, message });
        return { to, messageId, httpStatusCode: 202, successful: true };
      });
      send(response, 202, { value });
      return;
    }
    error(response, 404, 'NotFound', `${request.method ?? ''} ${url.pathname}`);
  }

  const server: Server = createServer((request, response) => {
    if (mode === 'down') {
      request.socket.destroy();
      return;
    }
    route(request, response).catch((failure: unknown) => {
      error(response, 500, 'InternalError', String(failure));
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return Object.assign(handle, {
    endpoint,
    messagesUrl: `${endpoint}${messagesPath}`,
    accessKey,
    connectionString: `endpoint=${endpoint}/;accesskey=${accessKey}`,
    outage(next: 'down' | number | null) {
      mode = next;
      // Kept-alive connections would otherwise go on being answered.
      if (next === 'down') for (const socket of sockets) socket.destroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  });
}
