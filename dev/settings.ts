/**
 * Settings for the local stack. Values come from the environment first, then
 * `local.settings.json` (yours, git-ignored), then `local.settings.example.json`, the same
 * file shape the Functions Core Tools read. Empty values mean "use the local default":
 * an empty MYSQL_URL starts a private MariaDB, empty AUTH_* settings use the dev issuer.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Settings } from '../lib/config.js';

/** The project's root folder (works from `dev/` and from `dist/dev/`). */
export const projectRoot = (() => {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('package.json not found above dev/');
    dir = parent;
  }
  return dir;
})();

const settingsFileSchema = z.object({ Values: z.record(z.string(), z.string()).default({}) });

/** Reads the settings file's `Values`; empty strings are dropped so they mean "default". */
export function readSettingsFile(root = projectRoot): Record<string, string> {
  for (const name of ['local.settings.json', 'local.settings.example.json']) {
    const file = resolve(root, name);
    if (!existsSync(file)) continue;
    const parsed = settingsFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success)
      throw new Error(`${name} has no valid "Values" object: ${parsed.error.message}`);
    return Object.fromEntries(
      Object.entries(parsed.data.Values).filter(([, value]) => value !== ''),
    );
  }
  return {};
}

/**
 * The settings the local stack starts from: the settings file's values, overridden by the
 * environment wherever it sets one (empty means unset). Nothing is written back to the
 * environment: the stack adds what it starts (endpoints, keys) to this record and builds the
 * app's services from it (lib/services.ts).
 */
export function localAppSettings(
  root = projectRoot,
  env: Settings = process.env,
): Record<string, string> {
  const given = Object.entries(env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
  );
  return { ...readSettingsFile(root), ...Object.fromEntries(given) };
}

/** Settings only the local stack reads, from `settings` (default: `localAppSettings()`). */
export function localSettings(settings: Settings = localAppSettings()) {
  const dataDir = resolve(projectRoot, settings['LOCAL_DATA_DIR'] || '.local');
  const port = Number(settings['PORT'] || 7071);
  const mysqlPort = Number(settings['LOCAL_MYSQL_PORT'] || 3307);
  const redisPort = Number(settings['LOCAL_REDIS_PORT'] || 6380);
  const cosmosPort = Number(settings['LOCAL_COSMOS_PORT'] || 8081);
  const eventHubsPort = Number(settings['LOCAL_EVENTHUBS_PORT'] || 5672);
  const webPubSubPort = Number(settings['LOCAL_WEBPUBSUB_PORT'] || 8080);
  const communicationPort = Number(settings['LOCAL_COMMUNICATION_PORT'] || 8090);
  const [azuriteBlob = NaN, azuriteQueue = NaN, azuriteTable = NaN] = (
    settings['LOCAL_AZURITE_PORTS'] || '10000,10001,10002'
  )
    .split(',')
    .map(Number);
  for (const [name, value] of [
    ['PORT', port],
    ['LOCAL_MYSQL_PORT', mysqlPort],
    ['LOCAL_REDIS_PORT', redisPort],
    ['LOCAL_COSMOS_PORT', cosmosPort],
    ['LOCAL_EVENTHUBS_PORT', eventHubsPort],
    ['LOCAL_WEBPUBSUB_PORT', webPubSubPort],
    ['LOCAL_COMMUNICATION_PORT', communicationPort],
    ['LOCAL_AZURITE_PORTS', azuriteBlob],
    ['LOCAL_AZURITE_PORTS', azuriteQueue],
    ['LOCAL_AZURITE_PORTS', azuriteTable],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535)
      throw new Error(`${name} must be a port number`);
  }
  return {
    dataDir,
    port,
    mysqlPort,
    redisPort,
    cosmosPort,
    eventHubsPort,
    webPubSubPort,
    communicationPort,
    azuritePorts: { blob: azuriteBlob, queue: azuriteQueue, table: azuriteTable },
  };
}
