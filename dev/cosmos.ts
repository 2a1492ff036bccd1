/**
 * The local Cosmos DB stand-in: `@vercel/cosmosdb-server` over HTTPS on loopback, with a
 * fresh self-signed certificate of our own. The package ships a certificate that expired in
 * 2021 and names no host, so no client can verify it; instead of turning verification off we
 * generate one for 127.0.0.1 (and `localhost`) into `certDir` once, reuse it on later starts
 * (regenerated when expired, within 30 days of expiry, not covering the host, or not
 * matching its key) and the app pins exactly that certificate (`lib/cosmos/client.ts`).
 *
 * What it keeps: everything lives in the memory of this process. Nothing is written to
 * disk and nothing survives `stop()` or a restart: every database, container and item is
 * gone. Only the certificate persists (in `certDir`). Callers that need containers run
 * `ensureTelemetryContainers` after each start.
 *
 * What it does, checked against its source (1.0.1) and in `tests/lib/cosmos/client.test.ts`
 * through the real `@azure/cosmos` SDK:
 * - databases and containers: create, read, replace (same partition key), delete,
 *   `createIfNotExists`; unique key policies.
 * - items: create (409 on a duplicate id within a partition), point read (404 when missing
 *   or asked under another partition key), upsert, replace, delete and patch, each honouring
 *   `accessCondition: { type: 'IfMatch', condition: etag }` with 412 on a stale ETag. The
 *   ETag check and the write happen in one synchronous step, so concurrent conditional
 *   writes serialise: exactly one wins. An upsert with IfMatch on an item that does not exist
 *   creates it (as Cosmos DB does): IfMatch does not guard against a deleted item; use
 *   `create` (409) to insert-if-absent. ETags are opaque strings (unquoted UUIDs here,
 *   quoted in Azure): compare them, never parse them.
 * - patch: `set`, `add`, `replace`, `remove`, `incr`, `move`, at most 10 operations, and a
 *   conditional patch (`condition: 'from c where ...'`, 412 when false).
 * - SQL (via `@zeit/cosmosdb-query`): WHERE, parameters, ORDER BY (several fields only with a
 *   matching composite index, as in Cosmos DB), TOP, ARRAY_CONTAINS, `VALUE COUNT(1)`,
 *   cross-partition queries and continuation paging (`maxItemCount`).
 *
 * Known gaps (verified); correctness must not depend on these locally:
 * - transactional batch is NOT atomic: operations apply one by one and, when one fails, the
 *   earlier ones stay written (the rest report 424). Patch is not accepted inside a batch.
 * - the change feed stops after the first read: it returns the current items once, then 304
 *   (nothing) on every later read, even after new writes.
 * - no TTL: `defaultTtl` and `ttl` are stored but nothing ever expires.
 * - replacing a container (a new default TTL or indexing policy, as `ensureContainers` does
 *   when settings change) drops every item in it.
 * - queries ignore the `partitionKey` request option and return items from every partition:
 *   always also filter on the partition key path in WHERE.
 * - no GROUP BY and no OFFSET ... LIMIT (400 syntax error).
 * - partition key values are compared as text: `1` and `"1"` are the same partition.
 *   Hierarchical (multi-path) partition keys are not supported.
 * - no authentication at all: any key, any Entra token, or none is accepted; hence loopback
 *   only. No request units (every charge is 1), no 429 throttling, no session consistency,
 *   no item size limit.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import { isIPv4, type Socket } from 'node:net';
import { join } from 'node:path';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { isLoopbackHost } from '../lib/loopback.js';
import { generate } from 'selfsigned';

export interface CosmosServerOptions {
  /** Loopback port; 0 picks a free one (see `port` in the result). */
  port: number;
  /** Where the certificate and its key live (git-ignored `.local/...`, or a temp dir). */
  certDir: string;
  /** An IPv4 loopback address; default 127.0.0.1. */
  host?: string;
  /** Sees every request as it arrives (the benchmark counts writes here, at the server). */
  onRequest?: (request: IncomingMessage) => void;
}

export interface CosmosServer {
  /** `https://127.0.0.1:PORT/` */
  endpoint: string;
  /** The bound port. */
  port: number;
  /** The server's self-signed certificate: the only one a local client should trust. */
  caCertPem: string;
  /** The same certificate on disk (for curl `--cacert`, `NODE_EXTRA_CA_CERTS`, ...). */
  caCertFile: string;
  /** Closes the server and every open connection; all data is lost. Idempotent. */
  stop(): Promise<void>;
}

export interface CosmosCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  /** True when this call generated it (none, expired, expiring, unusable). */
  generated: boolean;
}

const certFileName = 'cert.pem';
const keyFileName = 'key.pem';
const day = 24 * 60 * 60 * 1000;
/** Lifetime of a generated certificate. */
const validityMs = 365 * day;
/** A certificate closer than this to expiry is replaced at the next start. */
export const renewBeforeMs = 30 * day;

/**
 * The stand-in's host must be loopback, and an IPv4 address: its certificate names the
 * address (`checkIP`) and its endpoint is written `https://HOST:PORT/` without brackets.
 */
function isLoopbackIPv4(host: string): boolean {
  return isIPv4(host) && isLoopbackHost(host);
}

/** Why an existing certificate cannot be reused, or undefined when it can. */
function unusableReason(
  certPem: string,
  keyPem: string,
  host: string,
  now: Date,
): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'key does not match';
  } catch {
    return 'unreadable';
  }
  if (new Date(cert.validFrom).getTime() > now.getTime()) return 'not yet valid';
  if (new Date(cert.validTo).getTime() - now.getTime() < renewBeforeMs)
    return 'expired or expiring';
  if (cert.checkIP(host) === undefined) return `does not cover ${host}`;
  return undefined;
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
function writeAtomically(file: string, content: string, mode: number): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}

/**
 * The certificate for the local Cosmos server: the one in `certDir` when it is still good
 * for `host`, otherwise a new self-signed one (EC P-256, SHA-256, one year, for DNS
 * localhost, IP 127.0.0.1, IP ::1 and `host`). The key is written with mode 0600.
 */
export async function ensureCosmosCertificate(
  certDir: string,
  host = '127.0.0.1',
  now = new Date(),
): Promise<CosmosCertificate> {
  const certFile = join(certDir, certFileName);
  const keyFile = join(certDir, keyFileName);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    const keyPem = readFileSync(keyFile, 'utf8');
    if (unusableReason(certPem, keyPem, host, now) === undefined) {
      return { certPem, keyPem, certFile, keyFile, generated: false };
    }
  }
  const ips = [...new Set(['127.0.0.1', host])];
  const pems = await generate([{ name: 'commonName', value: 'SIS local Cosmos DB' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    // A little slack for clocks that disagree by a few minutes.
    notBeforeDate: new Date(now.getTime() - 5 * 60 * 1000),
    notAfterDate: new Date(now.getTime() + validityMs),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          ...ips.map((ip) => ({ type: 7 as const, ip })),
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  // Key first: a reader that catches the new key with the old certificate sees a mismatch
  // and generates its own, never a certificate whose key it cannot find.
  writeAtomically(keyFile, pems.private, 0o600);
  writeAtomically(certFile, pems.cert, 0o644);
  return { certPem: pems.cert, keyPem: pems.private, certFile, keyFile, generated: true };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      reject(error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address !== 'object') {
        reject(new Error('The Cosmos server did not report a port'));
        return;
      }
      resolve(address.port);
    });
  });
}

/** Starts the stand-in over HTTPS on a loopback address with the certificate from `certDir`. */
export async function startCosmosServer(options: CosmosServerOptions): Promise<CosmosServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackIPv4(host)) {
    // The stand-in accepts every request without authentication.
    throw new Error(
      `The local Cosmos server listens on an IPv4 loopback address only (got ${host}): it does not authenticate requests`,
    );
  }
  const certificate = await ensureCosmosCertificate(options.certDir, host);
  const server = createHttpsServer({
    cert: certificate.certPem,
    key: certificate.keyPem,
    minVersion: 'TLSv1.2',
    // Without this the stand-in answers `connection: close` and every request pays a handshake.
    keepAlive: true,
  });
  // Every accepted socket, from the TCP accept on: `closeAllConnections()` only knows
  // connections that finished the TLS handshake, and one caught mid-handshake or with a
  // request half sent would hold `close()` open.
  if (options.onRequest) server.on('request', options.onRequest);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server, options.port, host);
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `https://${host}:${port}/`,
    port,
    caCertPem: certificate.certPem,
    caCertFile: certificate.certFile,
    stop() {
      stopping ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        for (const socket of sockets) socket.destroy();
      });
      return stopping;
    },
  };
}
