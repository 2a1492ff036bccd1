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

/** Copies file settings into `process.env` where the environment does not set them already. */
export function applySettingsFile(root = projectRoot): void {
  for (const [name, value] of Object.entries(readSettingsFile(root))) {
    if (!process.env[name]) process.env[name] = value;
  }
}

/** Settings only the local stack reads. */
export function localSettings() {
  const dataDir = resolve(projectRoot, process.env['LOCAL_DATA_DIR'] || '.local');
  const port = Number(process.env['PORT'] || 7071);
  const mysqlPort = Number(process.env['LOCAL_MYSQL_PORT'] || 3307);
  const cosmosPort = Number(process.env['LOCAL_COSMOS_PORT'] || 8081);
  const eventHubsPort = Number(process.env['LOCAL_EVENTHUBS_PORT'] || 5672);
  const webPubSubPort = Number(process.env['LOCAL_WEBPUBSUB_PORT'] || 8080);
  const [azuriteBlob = NaN, azuriteQueue = NaN, azuriteTable = NaN] = (
    process.env['LOCAL_AZURITE_PORTS'] || '10000,10001,10002'
  )
    .split(',')
    .map(Number);
  for (const [name, value] of [
    ['PORT', port],
    ['LOCAL_MYSQL_PORT', mysqlPort],
    ['LOCAL_COSMOS_PORT', cosmosPort],
    ['LOCAL_EVENTHUBS_PORT', eventHubsPort],
    ['LOCAL_WEBPUBSUB_PORT', webPubSubPort],
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
    cosmosPort,
    eventHubsPort,
    webPubSubPort,
    azuritePorts: { blob: azuriteBlob, queue: azuriteQueue, table: azuriteTable },
  };
}
