/**
 * The webhook secret store: envelope encryption, so no signing secret sits in MySQL as
 * plaintext. Each secret is encrypted with AES-256-GCM under a data key of its own; the data
 * key is stored only wrapped by a key-encryption key that never leaves its keeper: a Key
 * Vault key in Azure (wrapKey/unwrapKey run inside Key Vault, reached with the app's managed
 * identity), a local key file on a developer's machine and in tests. A database dump alone
 * therefore reveals no secret.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { TokenCredential } from '@azure/identity';
import type { CryptographyClient } from '@azure/keyvault-keys';

/** A secret as stored: its ciphertext and the data key that opens it, wrapped. */
export interface SealedSecret {
  /** 12-byte IV, 16-byte GCM tag, then the encrypted secret. */
  ciphertext: Buffer;
  /** The data key, wrapped by the key-encryption key. */
  wrappedKey: Buffer;
  /** Which key-encryption key (and version) wrapped it: what unwrapping asks for. */
  keyId: string;
}

/** A key-encryption key's keeper: wraps data keys, and unwraps what it wrapped. */
export interface KeyWrapper {
  wrap(dataKey: Buffer): Promise<{ wrappedKey: Buffer; keyId: string }>;
  unwrap(wrappedKey: Buffer, keyId: string): Promise<Buffer>;
}

const ivBytes = 12;
const tagBytes = 16;
/** Bound to every ciphertext, so a sealed value from another purpose cannot pass for one. */
const associatedData = Buffer.from('sis:webhook-secret:v1');

function seal(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData);
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), encrypted]);
}

function open(key: Buffer, sealed: Buffer): Buffer {
  const iv = sealed.subarray(0, ivBytes);
  const tag = sealed.subarray(ivBytes, ivBytes + tagBytes);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(associatedData);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(ivBytes + tagBytes)), decipher.final()]);
}

/** Opened secrets kept in memory, so a burst of deliveries does not call Key Vault each time. */
const openedCacheLimit = 500;

export class WebhookSecretStore {
  private readonly opened = new Map<string, Promise<string>>();

  constructor(private readonly keys: KeyWrapper) {}

  async seal(secret: string): Promise<SealedSecret> {
    const dataKey = randomBytes(32);
    try {
      const { wrappedKey, keyId } = await this.keys.wrap(dataKey);
      return { ciphertext: seal(dataKey, Buffer.from(secret, 'utf8')), wrappedKey, keyId };
    } finally {
      dataKey.fill(0);
    }
  }

  open(sealed: SealedSecret): Promise<string> {
    const cacheKey = sealed.ciphertext.toString('base64');
    let secret = this.opened.get(cacheKey);
    if (!secret) {
      secret = this.keys.unwrap(sealed.wrappedKey, sealed.keyId).then((dataKey) => {
        try {
          return open(dataKey, sealed.ciphertext).toString('utf8');
        } finally {
          dataKey.fill(0);
        }
      });
      // A failure (Key Vault briefly down) is not kept: the next delivery asks again.
      secret.catch(() => this.opened.delete(cacheKey));
      if (this.opened.size >= openedCacheLimit) {
        const oldest = this.opened.keys().next();
        if (!oldest.done) this.opened.delete(oldest.value);
      }
      this.opened.set(cacheKey, secret);
    }
    return secret;
  }
}

/**
 * The local key-encryption key: 32 random bytes, base64, in a file only its owner may read
 * (created by the local stack and the tests, dev/webhookKey.ts). Its id names the file's
 * fingerprint, so secrets sealed under another key file are reported as such.
 */
export function keyFileWrapper(path: string): KeyWrapper {
  let loaded: Promise<{ key: Buffer; keyId: string }> | undefined;
  const load = () =>
    (loaded ??= (async () => {
      const info = await stat(path);
      if ((info.mode & 0o077) !== 0) {
        throw new Error(
          `WEBHOOK_SECRET_KEY_FILE: ${path} may be read by others; allow its owner only (chmod 600)`,
        );
      }
      const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
      if (key.length !== 32) {
        throw new Error(`WEBHOOK_SECRET_KEY_FILE: ${path} does not hold a 32-byte base64 key`);
      }
      const fingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
      return { key, keyId: `file:${fingerprint}` };
    })().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
  return {
    async wrap(dataKey) {
      const { key, keyId } = await load();
      return { wrappedKey: seal(key, dataKey), keyId };
    },
    async unwrap(wrappedKey, keyId) {
      const { key, keyId: current } = await load();
      if (keyId !== current) {
        throw new Error(`Webhook secret sealed under key ${keyId}, but the key file is ${current}`);
      }
      return open(key, wrappedKey);
    },
  };
}

/** How long the key's current version is used before asking again (rotation shows up then). */
const currentVersionMs = 3_600_000;

/**
 * RSA-OAEP-256 wrapping with a Key Vault RSA key (`keyId`: its versionless identifier).
 * Wrapping names the key's current version explicitly, so the recorded id names the version
 * that wrapped, and unwrapping asks for that version: rotating the key leaves older secrets
 * readable. (Given a versionless id, CryptographyClient answers that same versionless id as
 * `keyID`, not the version used: RemoteCryptographyProvider.getKeyID,
 * Azure/azure-sdk-for-js sdk/keyvault/keyvault-keys/src/cryptography/remoteCryptographyProvider.ts.)
 * RSA-OAEP-256 runs in Key Vault (the SDK's local RSA provider does not offer it), with the
 * data actions keys/read, keys/wrap and keys/unwrap: the "Key Vault Crypto Service
 * Encryption User" role. Client: Azure/azure-sdk-for-js
 * sdk/keyvault/keyvault-keys/src/cryptographyClient.ts.
 */
export function keyVaultWrapper(keyId: string, credential: TokenCredential): KeyWrapper {
  type KeyVaultKeys = typeof import('@azure/keyvault-keys');
  // Loaded at the first wrap or unwrap, so a cold start of the other functions skips it.
  let sdk: Promise<KeyVaultKeys> | undefined;
  const load = () => (sdk ??= import('@azure/keyvault-keys'));
  const clients = new Map<string, CryptographyClient>();
  const client = async (versionedId: string) => {
    const { CryptographyClient } = await load();
    let found = clients.get(versionedId);
    if (!found) {
      found = new CryptographyClient(versionedId, credential);
      clients.set(versionedId, found);
    }
    return found;
  };
  let current: { id: string; until: number } | undefined;
  const currentVersion = async (): Promise<string> => {
    if (current && current.until > Date.now()) return current.id;
    const { KeyClient, parseKeyVaultKeyIdentifier } = await load();
    const { vaultUrl, name } = parseKeyVaultKeyIdentifier(keyId);
    const key = await new KeyClient(vaultUrl, credential).getKey(name);
    if (!key.id) throw new Error(`Key Vault answered no id for key ${name}`);
    current = { id: key.id, until: Date.now() + currentVersionMs };
    return key.id;
  };
  return {
    async wrap(dataKey) {
      const versionedId = await currentVersion();
      const result = await (await client(versionedId)).wrapKey('RSA-OAEP-256', dataKey);
      return { wrappedKey: Buffer.from(result.result), keyId: versionedId };
    },
    async unwrap(wrappedKey, wrappedWith) {
      const result = await (await client(wrappedWith)).unwrapKey('RSA-OAEP-256', wrappedKey);
      return Buffer.from(result.result);
    },
  };
}
