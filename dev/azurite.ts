/**
 * Azurite (the storage emulator, an npm package) for the local stack: blob, queue and table
 * endpoints on loopback, data kept in a folder. It backs `AzureWebJobsStorage` and the Event
 * Hubs checkpoint store, exactly as a storage account does in Azure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';

/** Azurite's published development account (not a secret; it only works against Azurite). */
export const devStorageAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export interface AzuriteOptions {
  dataDir: string;
  /** Blob, queue and table ports; 0 is not supported by Azurite, pick free ones. */
  ports: { blob: number; queue: number; table: number };
  host?: string;
}

export interface Azurite {
  connectionString: string;
  blobEndpoint: string;
  /** Stops Azurite (SIGTERM), killing it when that takes over 3 s. */
  stop(): Promise<void>;
  /** Kills Azurite at once (SIGKILL): for when there is no time left to stop it. */
  kill(): void;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** Starts Azurite from the project's own dependency and waits until all three ports answer. */
export async function startAzurite(options: AzuriteOptions): Promise<Azurite> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  const log = openSync(join(options.dataDir, 'azurite.log'), 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      entry,
      '--location',
      options.dataDir,
      '--blobHost',
      host,
      '--blobPort',
      String(options.ports.blob),
      '--queueHost',
      host,
      '--queuePort',
      String(options.ports.queue),
      '--tableHost',
      host,
      '--tablePort',
      String(options.ports.table),
      '--skipApiVersionCheck',
      '--disableProductStyleUrl',
      // Azurite sends usage telemetry unless told not to; flushing it on shutdown, with no
      // way out of a sandbox, held SIGTERM up past the stop budget (azurite
      // src/common/Telemetry.ts, `TraceStopEvent` in src/azurite.ts `shutdown`).
      '--disableTelemetry',
    ],
    // A process group of its own: Ctrl-C in a terminal signals the whole foreground group,
    // and Azurite must outlive the Event Hubs consumer that checkpoints into it (it releases
    // its partitions there when it stops). Its owner stops it; if the owner exits without
    // doing so, the hook below does.
    { stdio: ['ignore', log, log], detached: true },
  );
  closeSync(log);
  const state = { exited: false };
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      state.exited = true;
      process.off('exit', stopOnExit);
      resolve();
    });
  });
  const deadline = Date.now() + 30_000;
  for (const port of Object.values(options.ports)) {
    while (!(await reachable(host, port))) {
      if (state.exited)
        throw new Error(
          `Azurite exited during start-up; see ${join(options.dataDir, 'azurite.log')}`,
        );
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Azurite did not listen on ${host}:${port} within 30 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const base = (port: number) => `http://${host}:${port}/${devStorageAccount.name}`;
  return {
    blobEndpoint: base(options.ports.blob),
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devStorageAccount.name};AccountKey=${devStorageAccount.key};` +
      `BlobEndpoint=${base(options.ports.blob)};QueueEndpoint=${base(options.ports.queue)};` +
      `TableEndpoint=${base(options.ports.table)};`,
    stop: async () => {
      if (state.exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exit;
      clearTimeout(timer);
    },
    kill: () => {
      if (!state.exited) child.kill('SIGKILL');
    },
  };
}
