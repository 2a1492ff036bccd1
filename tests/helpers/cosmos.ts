/**
 * A Cosmos database of its own for one test file, on the run's local server: created with
 * the telemetry containers before the file's tests, deleted after. The client is the real
 * `@azure/cosmos` SDK, speaking TLS with only the server's certificate trusted.
 */
import { randomBytes } from 'node:crypto';
import type { Container, CosmosClient, Database } from '@azure/cosmos';
import { afterAll, beforeAll, inject } from 'vitest';
import {
  COSMOS_EMULATOR_KEY,
  createCosmosClient,
  ensureTelemetryContainers,
  type CosmosSettings,
  type EnsureContainersOptions,
  type TelemetryContainerId,
} from '../../lib/cosmos/client.js';

export interface TestCosmos {
  /** A client of the test's own (not the app's shared one). */
  client: CosmosClient;
  databaseId: string;
  database: Database;
  containers: Record<TelemetryContainerId, Container>;
  endpoint: string;
  caCertPem: string;
  /** Client settings (`cosmosClientFor`) that reach the same server. */
  settings: CosmosSettings;
}

/** Registers hooks and returns a handle filled in before the first test runs. */
export function useTestCosmos(
  options: EnsureContainersOptions<TelemetryContainerId> = {},
): TestCosmos {
  const handle = {} as TestCosmos;
  let ready = false;
  beforeAll(async () => {
    handle.endpoint = inject('cosmosEndpoint');
    handle.caCertPem = inject('cosmosCaCertPem');
    handle.settings = { mode: 'local', endpoint: handle.endpoint, caCertPem: handle.caCertPem };
    handle.client = createCosmosClient({
      endpoint: handle.endpoint,
      key: COSMOS_EMULATOR_KEY,
      caCertPem: handle.caCertPem,
    });
    handle.databaseId = `sis_test_${randomBytes(6).toString('hex')}`;
    const store = await ensureTelemetryContainers(handle.client, handle.databaseId, options);
    handle.database = store.database;
    handle.containers = store.containers;
    ready = true;
  });
  afterAll(async () => {
    if (ready) {
      await handle.database.delete();
      handle.client.dispose();
    }
  });
  return handle;
}
