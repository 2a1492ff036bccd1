import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../../lib/errors.js';
import { isTransient, withTransientRetry } from '../../../lib/telemetry/retry.js';

const noWait = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('isTransient', () => {
  it.each([
    [{ code: 429 }, true],
    [{ code: 503 }, true],
    [{ statusCode: 408 }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ name: 'TimeoutError' }, true],
    // A hung MySQL's command timeout carries a code no list above names.
    [new DependencyUnavailableError('mysql', { reason: 'timed out' }), true],
    [{ code: 400 }, false],
    [{ code: 404 }, false],
    [{ code: 412 }, false],
    [new Error('bad data'), false],
    ['text', false],
    [null, false],
  ])('%o is transient: %s', (error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });
});

describe('withTransientRetry', () => {
  it('retries transient failures with growing, bounded delays, then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withTransientRetry(
      () => {
        calls++;
        return calls < 3
          ? Promise.reject(Object.assign(new Error('busy'), { code: 429 }))
          : Promise.resolve('done');
      },
      { ...noWait, sleep: (ms) => (delays.push(ms), Promise.resolve()) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it('gives up after its attempts with the last error', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(Object.assign(new Error(`busy ${calls}`), { code: 503 }));
    };
    await expect(
      withTransientRetry(failing, { ...noWait, sleep: () => Promise.resolve() }),
    ).rejects.toThrow('busy 4');
    expect(calls).toBe(4);
  });

  it('does not retry what is not transient', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('a bug'));
    };
    await expect(
      withTransientRetry(failing, { ...noWait, sleep: () => Promise.resolve() }),
    ).rejects.toThrow('a bug');
    expect(calls).toBe(1);
  });
});
