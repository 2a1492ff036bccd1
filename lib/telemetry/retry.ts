/**
 * Retries inside an invocation for transient infrastructure failures (throttling, timeouts,
 * dropped connections). Bad data never throws, so it never gets here; what is left after
 * these attempts goes to the function's retry policy.
 */
import { DependencyUnavailableError } from '../errors.js';

const transientStatuses = new Set([408, 410, 429, 449, 500, 502, 503, 504]);
const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);

export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  // MySQL or Cosmos down, hung or throttled (lib/errors.ts), whatever the driver's code.
  if (error instanceof DependencyUnavailableError) return true;
  const { code, statusCode, name } = error as {
    code?: unknown;
    statusCode?: unknown;
    name?: unknown;
  };
  if (typeof code === 'number' && transientStatuses.has(code)) return true;
  if (typeof statusCode === 'number' && transientStatuses.has(statusCode)) return true;
  if (typeof code === 'string' && transientCodes.has(code)) return true;
  return name === 'TimeoutError' || name === 'AbortError';
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Seam for tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
}

export const defaultRetry: RetryOptions = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5000 };

export async function withTransientRetry<T>(
  work: () => Promise<T>,
  options: RetryOptions = defaultRetry,
): Promise<T> {
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= options.attempts || !isTransient(error)) throw error;
      // Full jitter: instances that failed together do not retry together.
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.random() * ceiling);
    }
  }
}
