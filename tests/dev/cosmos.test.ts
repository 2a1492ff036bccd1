/**
 * The local Cosmos server itself: its certificate (made once, reused, renewed), real TLS
 * handshakes that verify it for 127.0.0.1 and localhost, port 0, and a clean stop.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureCosmosCertificate,
  renewBeforeMs,
  startCosmosServer,
  type CosmosServer,
} from '../../dev/cosmos.js';
import { COSMOS_EMULATOR_KEY, checkCosmos, createCosmosClient } from '../../lib/cosmos/client.js';
import { failure } from '../helpers/failure.js';

let certDir: string;
const started: CosmosServer[] = [];

beforeEach(() => {
  certDir = mkdtempSync(join(tmpdir(), 'sis-cosmos-cert-'));
});
afterEach(async () => {
  for (const server of started.splice(0)) await server.stop();
  rmSync(certDir, { recursive: true, force: true });
});

async function start(port = 0): Promise<CosmosServer> {
  const server = await startCosmosServer({ port, certDir });
  started.push(server);
  return server;
}

/** GET over TLS trusting only `ca`; `servername` is the name the certificate must cover. */
function getJson(
  port: number,
  ca: string,
  servername: string,
  agent: Agent | false = false,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: 'GET',
        ca,
        // Without a server name the address itself is checked (SNI never carries an IP).
        ...(isIP(servername) ? {} : { servername }),
        headers: { host: `${servername}:${port}` },
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => {
      resolve(false);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(true);
      });
    });
  });
}

describe('startCosmosServer', () => {
  it('binds port 0 to a free port and reports it', async () => {
    const server = await start(0);
    expect(server.port).toBeGreaterThan(0);
    expect(server.endpoint).toBe(`https://127.0.0.1:${server.port}/`);
    expect(readFileSync(server.caCertFile, 'utf8')).toBe(server.caCertPem);
    expect(await canListen(server.port)).toBe(false);
  });

  it('serves a certificate that verifies for 127.0.0.1 and localhost', async () => {
    const server = await start();
    const cert = new X509Certificate(server.caCertPem);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.ca).toBe(false);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + renewBeforeMs);
    // Real handshakes with the default identity check, trusting only this certificate.
    const byIp = await getJson(server.port, server.caCertPem, '127.0.0.1');
    expect(byIp.status).toBe(200);
    expect(byIp.body.writableLocations[0].databaseAccountEndpoint).toBe(server.endpoint);
    expect((await getJson(server.port, server.caCertPem, 'localhost')).status).toBe(200);
    // A name the certificate does not cover is refused.
    const error = await failure(getJson(server.port, server.caCertPem, 'example.com'));
    expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('reuses the certificate across restarts, and keeps no data', async () => {
    const first = await start();
    const keyFile = join(certDir, 'key.pem');
    const before = statSync(keyFile);
    expect(before.mode & 0o077).toBe(0);
    const client = createCosmosClient({
      endpoint: first.endpoint,
      key: COSMOS_EMULATOR_KEY,
      caCertPem: first.caCertPem,
    });
    await client.databases.create({ id: 'before-restart' });
    client.dispose();
    await first.stop();

    const second = await start(first.port);
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(statSync(keyFile).mtimeMs).toBe(before.mtimeMs);
    const again = createCosmosClient({
      endpoint: second.endpoint,
      key: COSMOS_EMULATOR_KEY,
      caCertPem: second.caCertPem,
    });
    try {
      // In memory only: the database did not survive the restart.
      const error = await failure(checkCosmos(again, 'before-restart'));
      expect(error).toMatchObject({ code: 404 });
    } finally {
      again.dispose();
    }
  });

  it('stop() frees the port, even with a keep-alive connection open, and is idempotent', async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true, ca: server.caCertPem });
    try {
      const response = await getJson(server.port, server.caCertPem, '127.0.0.1', agent);
      expect(response.status).toBe(200);
      // The connection stays open in the agent's pool.
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
      // And one with a request half sent, which close() alone would wait for.
      const halfSent = connect({
        host: '127.0.0.1',
        port: server.port,
        ca: server.caCertPem,
        servername: 'localhost',
      });
      await once(halfSent, 'secureConnect');
      halfSent.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // The server resets it (ECONNRESET here): all that matters is that it ends.
      halfSent.on('error', () => undefined);
      const closed = new Promise((resolve) => halfSent.once('close', resolve));
      await server.stop();
      await server.stop();
      await closed;
      expect(await canListen(server.port)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('refuses a port in use and a non-loopback address', async () => {
    const server = await start();
    expect(await failure(startCosmosServer({ port: server.port, certDir }))).toMatchObject({
      code: 'EADDRINUSE',
    });
    await expect(startCosmosServer({ port: 0, certDir, host: '0.0.0.0' })).rejects.toThrow(
      /loopback/,
    );
  });
});

describe('ensureCosmosCertificate', () => {
  it('generates once, then reuses', async () => {
    const first = await ensureCosmosCertificate(certDir);
    expect(first.generated).toBe(true);
    const second = await ensureCosmosCertificate(certDir);
    expect(second.generated).toBe(false);
    expect(second.certPem).toBe(first.certPem);
    expect(second.keyPem).toBe(first.keyPem);
  });

  it('renews a certificate that is close to expiry or expired', async () => {
    const first = await ensureCosmosCertificate(certDir);
    const validTo = new Date(new X509Certificate(first.certPem).validTo).getTime();
    const stillFine = await ensureCosmosCertificate(
      certDir,
      '127.0.0.1',
      new Date(validTo - renewBeforeMs - 24 * 3600_000),
    );
    expect(stillFine.generated).toBe(false);
    const nearExpiry = new Date(validTo - renewBeforeMs + 24 * 3600_000);
    const renewed = await ensureCosmosCertificate(certDir, '127.0.0.1', nearExpiry);
    expect(renewed.generated).toBe(true);
    expect(renewed.certPem).not.toBe(first.certPem);
    expect(readFileSync(renewed.certFile, 'utf8')).toBe(renewed.certPem);

    const renewedValidTo = new Date(new X509Certificate(renewed.certPem).validTo).getTime();
    const afterExpiry = new Date(renewedValidTo + 1000);
    const expired = await ensureCosmosCertificate(certDir, '127.0.0.1', afterExpiry);
    expect(expired.generated).toBe(true);
    expect(new Date(new X509Certificate(expired.certPem).validTo).getTime()).toBeGreaterThan(
      afterExpiry.getTime() + renewBeforeMs,
    );
  });

  it('replaces an expired certificate found on disk when the server starts', async () => {
    const old = await generate([{ name: 'commonName', value: 'old' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date('2020-01-01T00:00:00Z'),
      notAfterDate: new Date('2021-01-01T00:00:00Z'),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    writeFileSync(join(certDir, 'cert.pem'), old.cert);
    writeFileSync(join(certDir, 'key.pem'), old.private, { mode: 0o600 });
    const server = await start();
    expect(server.caCertPem).not.toBe(old.cert);
    expect((await getJson(server.port, server.caCertPem, '127.0.0.1')).status).toBe(200);
  });

  it('replaces a certificate that does not cover 127.0.0.1 or does not match its key', async () => {
    const elsewhere = await generate([{ name: 'commonName', value: 'elsewhere' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'example.com' }] }],
    });
    writeFileSync(join(certDir, 'cert.pem'), elsewhere.cert);
    writeFileSync(join(certDir, 'key.pem'), elsewhere.private, { mode: 0o600 });
    const covered = await ensureCosmosCertificate(certDir);
    expect(covered.generated).toBe(true);
    expect(new X509Certificate(covered.certPem).checkIP('127.0.0.1')).toBe('127.0.0.1');

    writeFileSync(join(certDir, 'key.pem'), elsewhere.private, { mode: 0o600 });
    const rematched = await ensureCosmosCertificate(certDir);
    expect(rematched.generated).toBe(true);
    expect(rematched.keyPem).not.toBe(elsewhere.private);
  });
});
