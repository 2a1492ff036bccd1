/**
 * Azurite (the storage emulator, an npm package) for the local stack: blob, queue and table
 * endpoints on loopback, data kept in a folder. It backs `AzureWebJobsStorage` and the Event
 * Hubs checkpoint store, exactly as a storage account does in Azure.
 */
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startServerProcess } from './serverProcess.js';

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
  const server = await startServerProcess({
    name: 'Azurite',
    command: process.execPath,
    args: [
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
    stdio: ['ignore', log, log],
    ready: async () =>
      (await Promise.all(Object.values(options.ports).map((port) => reachable(host, port)))).every(
        Boolean,
      ),
    limitMs: 30_000,
    pollMs: 100,
    stopGraceMs: 3_000,
    logHint: join(options.dataDir, 'azurite.log'),
  }).finally(() => {
    closeSync(log);
  });
  const base = (port: number) => `http://${host}:${port}/${devStorageAccount.name}`;
  return {
    blobEndpoint: base(options.ports.blob),
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devStorageAccount.name};AccountKey=${devStorageAccount.key};` +
      `BlobEndpoint=${base(options.ports.blob)};QueueEndpoint=${base(options.ports.queue)};` +
      `TableEndpoint=${base(options.ports.table)};`,
    stop: server.stop,
    kill: server.kill,
  };
}
