/**
 * Starts one local Cosmos DB server (the stand-in from dev/cosmos.ts) for the whole test run,
 * on a free loopback port with a certificate generated into a temp folder. Each test file
 * then creates its own database (tests/helpers/cosmos.ts) and trusts only this certificate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCosmosServer, type CosmosServer } from '../../dev/cosmos.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `https://127.0.0.1:PORT/` */
    cosmosEndpoint: string;
    /** The server's self-signed certificate (PEM), the one certificate clients may trust. */
    cosmosCaCertPem: string;
  }
}

let server: CosmosServer | undefined;
let certDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  certDir = mkdtempSync(join(tmpdir(), 'sis-test-cosmos-'));
  server = await startCosmosServer({ port: 0, certDir });
  project.provide('cosmosEndpoint', server.endpoint);
  project.provide('cosmosCaCertPem', server.caCertPem);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
}
