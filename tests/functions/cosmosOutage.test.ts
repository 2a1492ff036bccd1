/**
 * Cosmos DB hung at the socket level: its endpoint is a loopback server that accepts
 * connections and never answers (no TLS handshake, no bytes). An API route that reads Cosmos
 * answers 503 with Retry-After within COSMOS_REQUEST_TIMEOUT_MS plus generous slack, and
 * health names Cosmos as timed out, while MySQL stays up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../lib/cosmos/client.js';
import { call } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';

useTestDatabase();
const issuer = useTestIssuer();
const requestTimeoutMs = 1000;
/** Not a speed claim: the slack absorbs a loaded machine. */
const boundMs = requestTimeoutMs + 6000;
let silent: Server | undefined;
const sockets = new Set<Socket>();

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent?.listen(0, '127.0.0.1', resolve));
});
useAppSettings(() => ({
  COSMOS__accountEndpoint: `https://127.0.0.1:${(silent?.address() as AddressInfo).port}/`,
  COSMOS_KEY: COSMOS_EMULATOR_KEY,
  COSMOS_DATABASE: 'sis-hung',
  COSMOS_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
}));

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => {
    if (silent)
      silent.close(() => {
        resolve();
      });
    else resolve();
  });
});

describe('Cosmos DB hung', () => {
  it('answers 503 with Retry-After within the bound on a route that reads Cosmos', async () => {
    const token = await issuer.token(['Admin']);
    const results = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const started = performance.now();
        const result = await call('GET', '/api/dead-letters', { token });
        return { result, elapsedMs: performance.now() - started };
      }),
    );
    for (const { result, elapsedMs } of results) {
      expectProblem(result, 503, '/api/dead-letters');
      expect(result.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(result.text).not.toMatch(/127\.0\.0\.1|Timeout Error|sis-hung/);
      expect(elapsedMs).toBeLessThan(boundMs);
    }
  });

  it('reports Cosmos down (timed out) in health, MySQL up, with Retry-After', async () => {
    const result = await call('GET', '/api/health');
    expect(result.status).toBe(503);
    expect(result.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(result.body.checks).toMatchObject({
      mysql: { status: 'up' },
      cosmos: { status: 'down', reason: 'timed out' },
    });
  });
});
