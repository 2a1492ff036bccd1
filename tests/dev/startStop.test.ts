/**
 * Ctrl-C on `npm start` with every service its own, the private MariaDB included. The host
 * runs as a terminal runs a foreground job (a process group of its own) and the test sends
 * SIGINT to the whole group, as Ctrl-C does: every process of the job gets it, the host's
 * children too. It must then stop what it started in the reverse order of starting, exit 0
 * without a stack trace, and leave none of the processes it started running; once idle and
 * once while the trigger is busy with batches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allLocalEnv, startLocalHost, type RunningHost } from '../helpers/localHost.js';
import { unusedPort } from '../../dev/ports.js';
import { descendantsOf, processes, running } from '../helpers/processes.js';

/** npm start promises to stop within 10 s; the slack keeps a slow machine from failing it. */
const stopBoundMs = 10_000 + 10_000;
const startupLimitMs = 120_000;

/** Every host started here, stopped after the file's tests whatever became of them. */
const hosts: RunningHost[] = [];
let dataDir: string;
let env: Record<string, string>;

/** Ctrl-C: SIGINT to the host's whole process group; resolves with its exit code. */
async function controlC(host: RunningHost): Promise<number | null> {
  process.kill(-(host.child.pid ?? 0), 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`No exit within ${stopBoundMs} ms of Ctrl-C:\n${host.output()}`));
    }, stopBoundMs);
  });
  try {
    return await Promise.race([host.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the host, checks it started MariaDB, Redis and Azurite, stops it with Ctrl-C, checks the stop. */
async function startAndStop(whileRunning: (host: RunningHost) => Promise<void>): Promise<void> {
  const host = await startLocalHost(env, startupLimitMs);
  hosts.push(host);
  const started = descendantsOf(host.child.pid ?? 0);
  expect(started.map((p) => p.command)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/mariadbd|mysqld/),
      expect.stringMatching(/redis-server/),
      expect.stringMatching(/azurite/),
    ]),
  );
  await whileRunning(host);
  expect(await controlC(host), host.output()).toBe(0);
  expect(host.output()).toContain('Stopped.');
  expect(host.errors()).not.toMatch(/Error|\n\s+at /);
  expect(started.filter((p) => running(p.pid))).toEqual([]);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-start-stop-'));
  const azuritePorts = [await unusedPort(), await unusedPort(), await unusedPort()].join(',');
  env = {
    ...allLocalEnv({ dataDir, mysqlUrl: '', azuritePorts }),
    LOCAL_MYSQL_PORT: String(await unusedPort()),
  };
});

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
  // Whatever a failed run left behind in the data folder (the private MariaDB, Azurite).
  for (const leftover of processes().filter((p) => p.command.includes(dataDir)))
    process.kill(leftover.pid, 'SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('Ctrl-C on npm start (dev/start.ts)', () => {
  it('stops everything it started, cleanly, when idle', { timeout: 240_000 }, async () => {
    await startAndStop(() => Promise.resolve());
  });

  it(
    'stops everything it started, cleanly, in the middle of batches',
    { timeout: 240_000 },
    async () => {
      await startAndStop(async (host) => {
        const device = /devices \(send only\): (\S+)/.exec(host.output())?.[1];
        expect(device).toBeDefined();
        const producer = new EventHubProducerClient(device ?? '');
        try {
          const start = Date.parse('2026-04-01T10:00:00Z');
          for (let round = 0; round < 4; round++) {
            const batch = await producer.createBatch();
            for (let i = 0; i < 400; i++) {
              const reading = {
                equipmentId: String((i % 50) + 1),
                timestamp: new Date(start + (round * 400 + i) * 1000).toISOString(),
                temperature: 60 + (i % 40),
              };
              if (!batch.tryAdd({ body: reading })) break;
            }
            await producer.sendBatch(batch);
          }
        } finally {
          await producer.close();
        }
      });
    },
  );
});
