/**
 * The app's services for one test file, built from explicit settings (never the process
 * environment) and installed for the in-process handlers through the app's one seam,
 * `useServices` (lib/services.ts). Each helper that stands up a dependency (a database, an
 * issuer, Cosmos, Web PubSub) contributes that dependency's settings here; a test file adds
 * its own (timeouts, a dashboard folder) the same way. After the file's tests the services
 * are closed (pool, clients) and the previous ones put back.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { configSections, type Settings } from '../../lib/config.js';
import { createServices, useServices, type Services } from '../../lib/services.js';

/**
 * What this file's helpers and tests contributed so far (modules are per test file). Every
 * file starts with the test run's Redis (tests/setup/redis.ts) under a key prefix of its own.
 */
const contributed: Record<string, string | undefined> = {
  REDIS_URL: inject('redisUrl'),
  REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:`,
};
let installed: Services | undefined;
let restore: (() => void) | undefined;
let cleanupRegistered = false;

/**
 * Adds `settings()` (read before the file's tests, after the hooks registered earlier) to the
 * app's settings for this file, and installs services built from everything contributed so
 * far. Services build nothing until used, so rebuilding them per contribution is free.
 */
export function useAppSettings(settings: () => Settings): void {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    afterAll(closeAppServices);
  }
  beforeAll(async () => {
    Object.assign(contributed, settings());
    const previous = installed;
    installed = createServices(configSections(contributed));
    const undo = useServices(installed);
    restore ??= undo;
    await previous?.close();
  });
}

/**
 * Closes this file's services and puts back the previous ones; done after the file's tests,
 * and earlier by a helper that must not pull a dependency away under an open pool.
 */
export async function closeAppServices(): Promise<void> {
  restore?.();
  restore = undefined;
  const closing = installed;
  installed = undefined;
  await closing?.close();
}

/**
 * Replaces this file's services with freshly built ones from the same settings: what a new
 * Functions worker would start with, so nothing cached in the old ones (lookups) carries over.
 */
export async function renewAppServices(): Promise<void> {
  if (!installed) throw new Error('No app services yet: call useAppSettings first');
  const previous = installed;
  installed = createServices(configSections(contributed));
  useServices(installed);
  await previous.close();
}

/** The services installed for this file's handlers (after the helpers' hooks have run). */
export function appServices(): Services {
  if (!installed) throw new Error('No app services yet: call useAppSettings first');
  return installed;
}
