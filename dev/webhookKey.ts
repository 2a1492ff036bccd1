/**
 * The local key-encryption key of webhook secrets (lib/fanout/webhookSecrets.ts
 * `keyFileWrapper`): created once, 32 random bytes in base64, readable by its owner only.
 * `npm start` keeps it in the data folder, tests in a temporary one. Losing it makes the
 * secrets sealed under it unreadable (their webhooks then fail to sign and get disabled), so
 * an existing file is never replaced.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Settings } from '../lib/config.js';
import { localSettings } from './settings.js';

/** Creates the key file at `path` unless it exists; answers `path`. */
export function ensureWebhookKeyFile(path: string): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return path;
}

/**
 * The webhook settings of the local stack: the key file in the data folder, and loopback
 * deliveries allowed (so a receiver on this machine can get them). None when the settings
 * name a Key Vault key or a key file already.
 */
export function localWebhookSettings(settings: Settings): Record<string, string> {
  if (settings['WEBHOOK_SECRET_KEY_ID'] || settings['WEBHOOK_SECRET_KEY_FILE']) return {};
  const file = join(localSettings(settings).dataDir, 'webhook-secrets.key');
  return {
    WEBHOOK_SECRET_KEY_FILE: ensureWebhookKeyFile(file),
    WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true',
  };
}
