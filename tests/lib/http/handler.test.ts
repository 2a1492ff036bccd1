/**
 * The frame of authenticated routes (lib/http/handler.ts) with an operation that prefetches:
 * its prefetch starts with the rate limit's count, but what it returns runs only for a request
 * the limit allows; a limited request is answered 429 and served nothing. Counted in the test
 * run's Redis, with the real authenticator and a token of the test issuer.
 */
import { describe, expect, it } from 'vitest';
import { HttpRequest, InvocationContext } from '../../../lib/host/azureFunctions.js';
import { protectedHandler } from '../../../lib/http/handler.js';
import { useAppSettings } from '../../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../../helpers/auth.js';
import { useTestDatabase } from '../../helpers/database.js';

useTestDatabase();
const issuer = useTestIssuer();
useAppSettings(() => ({
  RATE_LIMITS: JSON.stringify({ reads: { limit: 2, windowSeconds: 600 } }),
}));
const tokens = useTokens(issuer, {
  reader: [['Technician'], 'frame-reader'],
  roleless: [[], 'frame-roleless'],
});

/** What each stage of the operation saw, in order. */
const stages: string[] = [];
const handler = protectedHandler({
  GET: {
    prefetch: (request) => {
      const id = request.params['id'] ?? '';
      if (id === 'bad') throw new Error('refused in prefetch');
      stages.push(`prefetch ${id}`);
      return () => {
        stages.push(`run ${id}`);
        return Promise.resolve({ status: 200, body: id });
      };
    },
  },
});

async function get(token: string, id: string) {
  const request = new HttpRequest({
    method: 'GET',
    url: `http://127.0.0.1/api/frame/${id}`,
    headers: { authorization: `Bearer ${token}` },
    params: { id },
  });
  return handler(request, new InvocationContext({ functionName: 'frame-item' }));
}

describe('protectedHandler with a prefetching operation', () => {
  it('runs what the prefetch returned only for requests the limit allows', async () => {
    expect((await get(tokens.reader, 'a')).status).toBe(200);
    expect((await get(tokens.reader, 'b')).status).toBe(200);
    const limited = await get(tokens.reader, 'c');
    expect(limited.status).toBe(429);
    expect(stages).toEqual(['prefetch a', 'run a', 'prefetch b', 'run b', 'prefetch c']);
  });

  it('counts and checks roles before answering an error the prefetch threw', async () => {
    stages.length = 0;
    // Without a role: 403, not the prefetch's error; the request was counted.
    expect((await get(tokens.roleless, 'bad')).status).toBe(403);
    expect((await get(tokens.roleless, 'x')).status).toBe(403);
    expect((await get(tokens.roleless, 'bad')).status).toBe(429);
    expect(stages).toEqual(['prefetch x']);
  });
});
