/**
 * Webhook signatures after the Standard Webhooks specification (standard-webhooks/
 * standard-webhooks, spec/standard-webhooks.md, "Signature scheme" and "Webhook headers"):
 * the secret is `whsec_` and the base64 of random bytes (24 to 64 of them); the signed
 * content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is HMAC-SHA256 with the
 * decoded secret bytes, sent as `webhook-signature: v1,<base64>`. The timestamp is part of
 * what is signed, so a receiver that refuses old timestamps refuses replays; the id stays
 * the same across retries of one message, so a receiver can also drop repeats.
 */
import { createHmac, randomBytes } from 'node:crypto';

const secretPrefix = 'whsec_';

/** A new signing secret: 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `${secretPrefix}${randomBytes(32).toString('base64')}`;
}

/** The HMAC key of a `whsec_` secret: its decoded bytes. */
function keyOf(secret: string): Buffer {
  if (!secret.startsWith(secretPrefix)) throw new Error('Not a whsec_ webhook secret');
  return Buffer.from(secret.slice(secretPrefix.length), 'base64');
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The Standard Webhooks headers of `body` sent as message `id` at `timestampSeconds`. */
export function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): SignedHeaders {
  // The spec forbids a `.` in the id and timestamp: the content's parts could then shift.
  if (id.includes('.')) throw new Error('A webhook message id must not contain "."');
  const timestamp = String(Math.floor(timestampSeconds));
  const signature = createHmac('sha256', keyOf(secret))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${signature}`,
  };
}
