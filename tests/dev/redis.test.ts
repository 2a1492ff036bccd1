import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../../dev/redis.js';
import { unusedPort } from '../../dev/ports.js';

const dataDir = mkdtempSync(join(tmpdir(), 'sis-redis-test-'));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startRedis', () => {
  it('refuses a port another Redis already answers on, instead of using that one', async () => {
    const port = await unusedPort();
    const first = await startRedis({ dataDir: join(dataDir, 'a'), port, log: () => undefined });
    try {
      await expect(
        startRedis({ dataDir: join(dataDir, 'b'), port, log: () => undefined }),
      ).rejects.toThrow(/already answers on 127\.0\.0\.1:\d+/);
    } finally {
      await first.stop();
    }
  });
});
