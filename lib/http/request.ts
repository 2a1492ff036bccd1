/**
 * Reading untrusted request parts: bodies bounded in size and checked for type, query
 * strings and headers bounded in length. Everything here throws `HttpError` with a clear
 * client-facing message.
 */
import type { HttpRequest } from '@azure/functions';
import { HttpError } from '../errors.js';

/** Largest accepted request body. */
export const maxBodyBytes = 1024 * 1024;
/** Longest header value we look at; longer values are refused rather than parsed. */
export const maxHeaderLength = 8192;

const jsonContentType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** A header value, or undefined; refuses values too long to be honest. */
export function boundedHeader(
  request: HttpRequest,
  name: string,
  maxLength = maxHeaderLength,
): string | undefined {
  const value = request.headers.get(name);
  if (value === null) return undefined;
  if (value.length > maxLength) {
    throw new HttpError(
      'validation',
      `The ${name} header is longer than ${maxLength} characters.`,
      {
        errors: [{ header: name, detail: `At most ${maxLength} characters` }],
      },
    );
  }
  return value;
}

async function readBounded(request: HttpRequest, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError('payload-too-large', `The request body is larger than ${limit} bytes.`);
  const declared = boundedHeader(request, 'content-length', 32);
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit)
    throw tooLarge();
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The request's JSON body: 415 unless declared as JSON, 413 over `limit` bytes, 400 when it
 * is not UTF-8 or not JSON.
 */
export async function readJsonBody(request: HttpRequest, limit = maxBodyBytes): Promise<unknown> {
  const contentType = boundedHeader(request, 'content-type', 256);
  if (!contentType || !jsonContentType.test(contentType)) {
    throw new HttpError('unsupported-media-type', 'Send the body as application/json.', {
      headers: { 'accept-post': 'application/json' },
    });
  }
  const bytes = await readBounded(request, limit);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError('validation', 'The request body is not valid UTF-8.');
  }
  if (text.trim() === '')
    throw new HttpError('validation', 'The request body is empty; send a JSON object.');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? `: ${error.message.slice(0, 200)}` : '';
    throw new HttpError('validation', `The request body is not valid JSON${reason}`);
  }
}

/** The query string as a plain object; a parameter given twice is an error, not a guess. */
export function queryObject(request: HttpRequest): Record<string, string> {
  // No prototype: a `__proto__` parameter becomes an ordinary (unknown, so refused) key.
  const result = Object.create(null) as Record<string, string>;
  for (const [key, value] of request.query.entries()) {
    if (Object.hasOwn(result, key)) {
      throw new HttpError(
        'validation',
        `The query parameter "${key.slice(0, 100)}" is given more than once.`,
        {
          errors: [{ parameter: key.slice(0, 100), detail: 'Given more than once' }],
        },
      );
    }
    result[key] = value;
  }
  return result;
}
