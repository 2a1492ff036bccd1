/**
 * The webhook secret store with a real key file: what it seals holds no trace of the secret,
 * opens to it again, and only under the key that sealed it; the key file is created owner-only
 * and refused when others may read it.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureWebhookKeyFile } from '../../../dev/webhookKey.js';
import { keyFileWrapper, WebhookSecretStore } from '../../../lib/fanout/webhookSecrets.js';
import { newWebhookSecret } from '../../../lib/fanout/webhookSignature.js';

const dir = mkdtempSync(join(tmpdir(), 'sis-test-webhook-key-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the webhook secret store', () => {
  it('creates the key file once, readable by its owner only', () => {
    const file = ensureWebhookKeyFile(join(dir, 'nested', 'a.key'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8');
    expect(Buffer.from(key.trim(), 'base64')).toHaveLength(32);
    ensureWebhookKeyFile(file);
    expect(readFileSync(file, 'utf8')).toBe(key);
  });

  it('seals a secret so nothing stored shows it, and opens it again', async () => {
    const store = new WebhookSecretStore(keyFileWrapper(ensureWebhookKeyFile(join(dir, 'b.key'))));
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const sealed = await store.seal(secret);
    const secretBytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
    for (const stored of [sealed.ciphertext, sealed.wrappedKey, Buffer.from(sealed.keyId)]) {
      expect(stored.includes(Buffer.from(secret))).toBe(false);
      expect(stored.includes(secretBytes)).toBe(false);
    }
    expect(sealed.keyId).toMatch(/^file:[0-9a-f]{16}$/);
    expect(await store.open(sealed)).toBe(secret);
    // A fresh store (another instance) opens it from what is stored alone.
    expect(await new WebhookSecretStore(keyFileWrapper(join(dir, 'b.key'))).open(sealed)).toBe(
      secret,
    );
  });

  it('refuses to open what another key sealed, and tampered ciphertext', async () => {
    const sealed = await new WebhookSecretStore(
      keyFileWrapper(ensureWebhookKeyFile(join(dir, 'c.key'))),
    ).seal(newWebhookSecret());
    const other = new WebhookSecretStore(keyFileWrapper(ensureWebhookKeyFile(join(dir, 'd.key'))));
    await expect(other.open(sealed)).rejects.toThrow(/sealed under key file:/);
    const same = new WebhookSecretStore(keyFileWrapper(join(dir, 'c.key')));
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    await expect(same.open({ ...sealed, ciphertext: tampered })).rejects.toThrow();
  });

  it('refuses a key file others may read', async () => {
    const file = ensureWebhookKeyFile(join(dir, 'e.key'));
    chmodSync(file, 0o644);
    const store = new WebhookSecretStore(keyFileWrapper(file));
    await expect(store.seal(newWebhookSecret())).rejects.toThrow(
      /WEBHOOK_SECRET_KEY_FILE: .* may be read by others/,
    );
  });
});
