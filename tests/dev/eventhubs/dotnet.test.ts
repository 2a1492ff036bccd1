/**
 * The stand-in against a client nobody here wrote, on another AMQP stack: the official .NET SDK
 * (Azure.Messaging.EventHubs on Microsoft.Azure.Amqp), driven through the small program in
 * tests/dotnet/eventhubs-client. Events cross both ways between it and the JS SDK, partition keys
 * land where the service's hash puts them, and the stand-in refuses it as it refuses the JS SDK.
 *
 * Needs the .NET SDK on PATH (the test fails, it does not skip, without it) and NuGet for the
 * first restore. The build is cached outside the repository, keyed by the project's files.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
} from '@azure/event-hubs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { partitionIndexForKey, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { bodies, fastRetry, keys, receive, startTestStandIn } from './helpers.js';

const projectDir = fileURLToPath(new URL('../../dotnet/eventhubs-client/', import.meta.url));
const projectFiles = ['EventHubsClient.csproj', 'Program.cs', 'packages.lock.json'];
const dotnetEnv = {
  ...process.env,
  DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  DOTNET_NOLOGO: '1',
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
};

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the stand-in answers from this process). */
function run(file: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: dotnetEnv, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(
            error.code === 'ENOENT'
              ? new Error(
                  `'${file}' is not on PATH: this test needs the .NET SDK (dotnet) to build tests/dotnet/eventhubs-client.`,
                )
              : error,
          );
          return;
        }
        resolve({ status: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/**
 * Builds the client once into a cache keyed by the project's files (a second run reuses it),
 * with the lock file enforced, and returns the path of its dll. Builds in a scratch directory
 * renamed into place, so concurrent runs never see half a build and the repo gets no bin/obj.
 */
async function buildClient(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of projectFiles) {
    hash
      .update(name)
      .update('\0')
      .update(await readFile(join(projectDir, name)));
  }
  const cacheRoot =
    process.env.SIS_DOTNET_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sis-dotnet');
  const target = join(cacheRoot, `eventhubs-client-${hash.digest('hex').slice(0, 16)}`);
  const dll = join(target, 'out', 'EventHubsClient.dll');
  if (existsSync(dll)) return dll;

  await mkdir(cacheRoot, { recursive: true });
  const work = await mkdtemp(join(cacheRoot, 'build-'));
  try {
    await mkdir(join(work, 'src'));
    for (const name of projectFiles) {
      await copyFile(join(projectDir, name), join(work, 'src', name));
    }
    const build = await run(
      'dotnet',
      [
        'build',
        join(work, 'src', 'EventHubsClient.csproj'),
        '-c',
        'Release',
        '-o',
        join(work, 'out'),
        '-p:RestoreLockedMode=true',
      ],
      280_000,
    );
    if (build.status !== 0) {
      throw new Error(`dotnet build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
    }
    try {
      await rename(work, target);
    } catch (error) {
      // Another run finished the same build first; its copy is as good as ours.
      if (!existsSync(dll)) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return dll;
}

const refusal = z.object({ error: z.string(), reason: z.string().nullable(), message: z.string() });
const readResult = z.object({
  partition: z.string(),
  events: z.array(
    z.object({
      body: z.string(),
      sequenceNumber: z.number(),
      offset: z.string(),
      partitionKey: z.string().nullable(),
      enqueuedTime: z.number(),
    }),
  ),
});
const propertiesResult = z.object({
  name: z.string(),
  partitionIds: z.array(z.string()),
  partitions: z.array(
    z.object({
      id: z.string(),
      beginningSequenceNumber: z.number(),
      lastEnqueuedSequenceNumber: z.number(),
      lastEnqueuedOffset: z.string(),
      isEmpty: z.boolean(),
    }),
  ),
});

let dll: string;
let standIn: EventHubsStandIn;
let producer: EventHubProducerClient;
let consumer: EventHubConsumerClient;

/** Runs one client command; the output is the last line of stdout, JSON. */
async function dotnet(args: readonly string[]): Promise<{ status: number; output: unknown }> {
  const result = await run('dotnet', [dll, ...args], 60_000);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  let output: unknown;
  try {
    output = JSON.parse(last);
  } catch {
    throw new Error(
      `The .NET client printed no JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { status: result.status, output };
}

/** A command that must succeed, its output checked against `schema`. */
async function succeed<T>(schema: z.ZodType<T>, args: readonly string[]): Promise<T> {
  const { status, output } = await dotnet(args);
  expect(status, JSON.stringify(output)).toBe(0);
  return schema.parse(output);
}

/** A command the stand-in must refuse. */
async function refused(args: readonly string[]): Promise<z.infer<typeof refusal>> {
  const { status, output } = await dotnet(args);
  expect(status, JSON.stringify(output)).toBe(2);
  return refusal.parse(output);
}

/** A key whose partition is not `avoid`, so two sends in one test stay apart. */
function keyOutside(avoid: string): { key: string; partition: string } {
  for (let n = 1; ; n++) {
    const partition = String(partitionIndexForKey(`equipment-${n}`, 4));
    if (partition !== avoid) return { key: `equipment-${n}`, partition };
  }
}

beforeAll(async () => {
  dll = await buildClient();
}, 300_000);

beforeEach(async () => {
  // A fresh stand-in per test: every partition starts empty, so reads from the start see only
  // the test's own events.
  standIn = await startTestStandIn();
  producer = new EventHubProducerClient(standIn.connectionString('app'), fastRetry);
  consumer = new EventHubConsumerClient('$Default', standIn.connectionString('app'), fastRetry);
});

afterEach(async () => {
  await producer.close();
  await consumer.close();
  await standIn.stop();
});

describe('the .NET Event Hubs SDK through the stand-in', () => {
  it('reads hub and partition properties as the JS SDK sees them (a send-only key may)', async () => {
    await producer.sendBatch([{ body: { n: 0 } }, { body: { n: 1 } }], { partitionId: '0' });
    const js = await producer.getPartitionProperties('0');

    const properties = await succeed(propertiesResult, [
      'properties',
      standIn.connectionString('device'),
    ]);
    expect(properties.name).toBe('telemetry');
    expect(properties.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(properties.partitions[0]).toEqual({
      id: '0',
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: js.lastEnqueuedSequenceNumber,
      lastEnqueuedOffset: js.lastEnqueuedOffset,
      isEmpty: false,
    });
    expect(js.lastEnqueuedSequenceNumber).toBe(1);
    expect(properties.partitions.slice(1).map((p) => p.isEmpty)).toEqual([true, true, true]);
  });

  it('reads what the JS SDK sent, to a partition and by partition key', async () => {
    const { key, partition } = keyOutside('1');
    await producer.sendBatch([{ body: { from: 'js', n: 0 } }, { body: { from: 'js', n: 1 } }], {
      partitionId: '1',
    });
    await producer.sendBatch([{ body: { from: 'js', n: 2 } }], { partitionKey: key });
    const jsView = await receive(consumer, '1', earliestEventPosition, 2);

    const direct = await succeed(readResult, ['read', standIn.connectionString('app'), '1', '2']);
    expect(direct.events.map((e) => JSON.parse(e.body) as unknown)).toEqual([
      { from: 'js', n: 0 },
      { from: 'js', n: 1 },
    ]);
    expect(direct.events.map((e) => e.sequenceNumber)).toEqual([0, 1]);
    expect(direct.events.map((e) => e.offset)).toEqual(jsView.events.map((e) => e.offset));
    expect(direct.events.map((e) => e.enqueuedTime)).toEqual(
      jsView.events.map((e) => e.enqueuedTimeUtc.getTime()),
    );
    expect(direct.events.map((e) => e.partitionKey)).toEqual([null, null]);

    const keyed = await succeed(readResult, [
      'read',
      standIn.connectionString('app'),
      partition,
      '1',
    ]);
    expect(keyed.events).toMatchObject([{ body: '{"from":"js","n":2}', partitionKey: key }]);
  });

  it('sends what the JS SDK reads, and a key lands where the JS SDK puts the same key', async () => {
    const { key, partition } = keyOutside('2');
    const connection = standIn.connectionString('device');
    await succeed(z.object({ sent: z.number() }), [
      'send',
      connection,
      'partition',
      '2',
      '{"from":"dotnet","n":0}',
      '{"from":"dotnet","n":1}',
    ]);
    await succeed(z.object({ sent: z.number() }), [
      'send',
      connection,
      'key',
      key,
      '{"from":"dotnet","n":2}',
      '{"from":"dotnet","n":3}',
    ]);
    await producer.sendBatch([{ body: { from: 'js', n: 4 } }], { partitionKey: key });

    const direct = await receive(consumer, '2', earliestEventPosition, 2);
    expect(direct.errors).toEqual([]);
    expect(bodies(direct.events)).toEqual([
      { from: 'dotnet', n: 0 },
      { from: 'dotnet', n: 1 },
    ]);
    expect(direct.events.map((e) => e.partitionKey)).toEqual([undefined, undefined]);

    const keyed = await receive(consumer, partition, earliestEventPosition, 3);
    expect(bodies(keyed.events)).toEqual([
      { from: 'dotnet', n: 2 },
      { from: 'dotnet', n: 3 },
      { from: 'js', n: 4 },
    ]);
    expect(keyed.events.map((e) => e.partitionKey)).toEqual([key, key, key]);
    // Nothing went anywhere else.
    for (const id of ['0', '1', '2', '3'].filter((id) => id !== '2' && id !== partition)) {
      expect((await producer.getPartitionProperties(id)).isEmpty, id).toBe(true);
    }
  });

  it('refuses a send-only key to read, and a wrong key everything', async () => {
    const device = standIn.connectionString('device');
    const notRead = await refused(['read', device, '0', '1']);
    expect(notRead.error).toBe('UnauthorizedAccessException');
    expect(notRead.message).toContain("'Listen' claim(s) are required");

    const wrong = standIn.connectionString('app').replace(keys.app, 'bm90LXRoZS1rZXk=');
    for (const args of [
      ['properties', wrong],
      ['send', wrong, 'partition', '0', '{"from":"nobody"}'],
      ['send', wrong, 'key', 'equipment-1', '{"from":"nobody"}'],
      ['read', wrong, '0', '1'],
    ]) {
      const refusedWrong = await refused(args);
      expect(refusedWrong.error, args[0]).toBe('UnauthorizedAccessException');
    }
    // The put-token refusals name the bad signature, as the service does.
    expect((await refused(['read', wrong, '0', '1'])).message).toContain('InvalidSignature');
    for (const id of ['0', '1', '2', '3']) {
      expect((await producer.getPartitionProperties(id)).isEmpty, id).toBe(true);
    }
  });
});
