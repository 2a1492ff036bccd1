/**
 * The local key-encryption key of webhook secrets (lib/fanout/webhookSecrets.ts
 * `keyFileWrapper`): created once, 32 random bytes in base64, readable by its owner only.
 * `npm start` keeps it in the data folder, tests in a temporary one. Losing it makes the
 * secrets sealed under it unreadable (their webhooks then fail to sign and get disabled), so
 * an existing file is never replaced.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

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
