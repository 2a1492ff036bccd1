/**
 * The app's HTTP functions served by the local functions host (dev/httpHost.ts) in this
 * process, on a free loopback port, for tests that need a real URL the stand-ins can call
 * (the Web PubSub event handler). Closed after the file's tests.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { createLocalHttpHost, listen } from '../../dev/httpHost.js';
import { functionDeclarations } from '../../functions/registry.js';
import { httpDeclarations } from '../../lib/host/declarations.js';

/** `base()`: `http://127.0.0.1:PORT/api`, once the host listens (in `beforeAll`). */
export function useApiHost(): { base: () => string } {
  let server: Server | undefined;
  let base = '';
  beforeAll(async () => {
    server = createLocalHttpHost({
      declarations: httpDeclarations(functionDeclarations),
      routePrefix: 'api',
      log: () => undefined,
    });
    base = `http://127.0.0.1:${await listen(server, 0)}/api`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });
  return { base: () => base };
}
