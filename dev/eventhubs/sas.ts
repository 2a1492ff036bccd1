/**
 * Shared Access Signature tokens as Event Hubs issues and checks them:
 * `SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC>&se=<expiry, unix seconds>&skn=<key name>`,
 * where the signature is HMAC-SHA256, keyed with the key string's UTF-8 bytes (not base64-decoded),
 * over `<url-encoded resource>\n<expiry>`. This matches `@azure/core-amqp`'s `createSasTokenProvider`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A right a shared access policy grants, as in the Azure portal. */
export type AccessRight = 'Send' | 'Listen' | 'Manage';

/** A shared access policy: a named key and what it may do. */
export interface SharedAccessKey {
  /** The policy name, sent as `skn` in tokens and `SharedAccessKeyName` in connection strings. */
  name: string;
  /** The key itself (any string; Azure's are 44-character base64, used as-is, not decoded). */
  key: string;
  /** What tokens signed with this key may do. `Manage` implies `Listen` and `Send`, as in Azure. */
  rights: readonly AccessRight[];
}

/** The fields of a parsed token. */
export interface SasTokenFields {
  /** The resource URI, url-decoded. */
  resource: string;
  /** The resource exactly as it appears in the token (url-encoded): what was signed. */
  encodedResource: string;
  /** The signature, url-decoded (base64). */
  signature: string;
  /** Expiry, unix seconds. */
  expiry: number;
  /** Key (policy) name. */
  keyName: string;
}

/** Why a token was refused; `message` follows the service's wording where known. */
export class SasTokenError extends Error {
  override readonly name = 'SasTokenError';
  constructor(
    message: string,
    /** AMQP status code the CBS node answers with. */
    readonly statusCode: 400 | 401,
  ) {
    super(message);
  }
}

/** Splits a `SharedAccessSignature ...` string into its fields, or throws {@link SasTokenError}. */
export function parseSasToken(token: string): SasTokenFields {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) {
    throw new SasTokenError('InvalidToken: the token is not a SharedAccessSignature.', 401);
  }
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined) {
    throw new SasTokenError(
      'InvalidToken: a SharedAccessSignature needs sr, sig, se and skn fields.',
      401,
    );
  }
  const expiry = Number(se);
  if (!Number.isSafeInteger(expiry)) {
    throw new SasTokenError(`InvalidToken: the expiry '${se}' is not a number.`, 401);
  }
  try {
    return {
      resource: decodeURIComponent(sr),
      encodedResource: sr,
      signature: decodeURIComponent(sig),
      expiry,
      keyName: decodeURIComponent(skn),
    };
  } catch {
    throw new SasTokenError('InvalidToken: the token is not properly url-encoded.', 401);
  }
}

/** The HMAC the service expects, base64 (not url-encoded). */
function sign(key: string, encodedResource: string, expiry: number): string {
  return createHmac('sha256', key).update(`${encodedResource}\n${expiry}`).digest('base64');
}

/**
 * Checks a token against the configured keys and the clock; returns the fields and the key that
 * signed it, or throws {@link SasTokenError} (unknown key, bad signature, expired).
 */
export function verifySasToken(
  token: string,
  keys: readonly SharedAccessKey[],
  nowMs: number = Date.now(),
): { fields: SasTokenFields; key: SharedAccessKey } {
  const fields = parseSasToken(token);
  const key = keys.find((k) => k.name === fields.keyName);
  if (!key) {
    // The service does not reveal which keys exist: an unknown name reads as a bad signature.
    throw new SasTokenError('InvalidSignature: The token has an invalid signature.', 401);
  }
  const expected = Buffer.from(sign(key.key, fields.encodedResource, fields.expiry));
  const given = Buffer.from(fields.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new SasTokenError('InvalidSignature: The token has an invalid signature.', 401);
  }
  if (fields.expiry * 1000 <= nowMs) {
    throw new SasTokenError(
      `ExpiredToken: The token is expired. Expiration time: '${new Date(fields.expiry * 1000).toISOString()}'.`,
      401,
    );
  }
  return { fields, key };
}

/**
 * Signs a token the way the SDKs do. Useful for tests and tools that need a token with a chosen
 * expiry (an `AzureSASCredential`).
 */
export function createSasToken(options: {
  resource: string;
  keyName: string;
  key: string;
  /** Expiry, unix seconds. */
  expiry: number;
}): string {
  const encodedResource = encodeURIComponent(options.resource);
  const sig = encodeURIComponent(sign(options.key, encodedResource, options.expiry));
  return `SharedAccessSignature sr=${encodedResource}&sig=${sig}&se=${options.expiry}&skn=${encodeURIComponent(options.keyName)}`;
}

/** The rights a key effectively has (`Manage` implies the others). */
export function effectiveRights(rights: readonly AccessRight[]): Set<AccessRight> {
  const set = new Set(rights);
  if (set.has('Manage')) {
    set.add('Listen');
    set.add('Send');
  }
  return set;
}
