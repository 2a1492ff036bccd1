import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcessOptions } from '../../dev/serverProcess.js';

/**
 * A "server" that is node running `setup`, then writing its pid to a marker file and idling;
 * it is ready once the marker exists, so its signal handlers are in place by then.
 */
function nodeServer(setup: string, overrides: Partial<ServerProcessOptions> = {}) {
  const marker = join(mkdtempSync(join(tmpdir(), 'server-process-')), 'pid');
  const options: ServerProcessOptions = {
    name: 'test server',
    command: process.execPath,
    args: [
      '-e',
      `${setup}; require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(process.pid)); setInterval(() => {}, 1000)`,
    ],
    stdio: 'ignore',
    ready: () => Promise.resolve(existsSync(marker)),
    limitMs: 10_000,
    pollMs: 20,
    stopGraceMs: 5_000,
    logHint: '/nowhere/server.log',
    ...overrides,
  };
  return { options, pid: () => Number(readFileSync(marker, 'utf8')) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startServerProcess', () => {
  it('names the server and its log when it exits during start-up', async () => {
    const { options } = nodeServer('process.exit(3)');
    await expect(startServerProcess(options)).rejects.toThrow(
      'test server exited during start-up; see /nowhere/server.log',
    );
  });

  it('kills a server that is not ready within its limit, leaving nothing behind', async () => {
    const server = nodeServer('');
    let readyChecks = 0;
    const started = startServerProcess({
      ...server.options,
      limitMs: 1_000,
      // Up (its marker written) but never ready, like a server that hangs while starting.
      ready: async () => {
        readyChecks += 1;
        await server.options.ready();
        return false;
      },
    });
    await expect(started).rejects.toThrow(
      'test server was not ready within 1 s; see /nowhere/server.log',
    );
    expect(readyChecks).toBeGreaterThan(1);
    const pid = server.pid();
    for (let wait = 0; alive(pid) && wait < 100; wait += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(pid)).toBe(false);
  });

  it('stops with SIGTERM, and kills a server that ignores it once the grace has passed', async () => {
    const polite = await startServerProcess(nodeServer('').options);
    await polite.stop();
    expect(polite.child.signalCode).toBe('SIGTERM');

    const stubborn = await startServerProcess(
      nodeServer("process.on('SIGTERM', () => {})", { stopGraceMs: 300 }).options,
    );
    await stubborn.stop();
    expect(stubborn.child.signalCode).toBe('SIGKILL');
    // Idempotent: a second stop resolves at once.
    await stubborn.stop();
  });
});
