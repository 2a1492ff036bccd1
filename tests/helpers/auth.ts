/**
 * A real token issuer for tests: the dev issuer's key pair in a temp folder, its JWKS served
 * over HTTP on loopback, and the app's AUTH_* settings (tests/helpers/appServices.ts) pointed
 * at it. Tokens are verified by
 * the app exactly as in production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadDevIssuer, type DevIssuer } from '../../dev/issuer.js';
import { useAppSettings } from './appServices.js';

export interface TestIssuer {
  issuer: DevIssuer;
  /** A token with the given roles and subject (default subject: `test-admin`). */
  token(roles: readonly string[], sub?: string, expiresIn?: string): Promise<string>;
  /** A token from a different key that claims the same issuer: must be refused. */
  foreignToken(roles: readonly string[], sub?: string): Promise<string>;
  jwksUri: string;
}

export function useTestIssuer(): TestIssuer {
  const handle = {} as TestIssuer;
  let server: Server | undefined;
  const dirs: string[] = [];
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-test-issuer-'));
    const otherDir = mkdtempSync(join(tmpdir(), 'sis-test-issuer-'));
    dirs.push(dir, otherDir);
    const issuer = await loadDevIssuer(dir);
    const foreign = await loadDevIssuer(otherDir);
    const body = JSON.stringify(issuer.jwks);
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    handle.issuer = issuer;
    handle.jwksUri = `http://127.0.0.1:${port}/jwks.json`;
    handle.token = (roles, sub = 'test-admin', expiresIn = '10m') =>
      issuer.sign({ sub, roles }, expiresIn);
    handle.foreignToken = (roles, sub = 'test-admin') => foreign.sign({ sub, roles });
  });
  useAppSettings(() => ({
    AUTH_ISSUER: handle.issuer.issuer,
    AUTH_AUDIENCE: handle.issuer.audience,
    AUTH_JWKS_URI: handle.jwksUri,
  }));
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => {
      if (server)
        server.close(() => {
          resolve();
        });
      else resolve();
    });
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return handle;
}

/** Roles and (optionally) subject of a token; see `TestIssuer.token`. */
export type TokenSpec = readonly [roles: readonly string[], sub?: string];

/**
 * Signs one token per entry before the file's tests run (after `useTestIssuer`'s own setup,
 * so call it after that). The returned object is filled in then; read it inside tests.
 */
export function useTokens<Name extends string>(
  issuer: TestIssuer,
  specs: Readonly<Record<Name, TokenSpec>>,
): Readonly<Record<Name, string>> {
  const tokens = {} as Record<Name, string>;
  beforeAll(async () => {
    for (const [name, [roles, sub]] of Object.entries(specs) as [Name, TokenSpec][]) {
      tokens[name] = await issuer.token(roles, sub);
    }
  });
  return tokens;
}
