/**
 * A Cosmos database of the test file's own (tests/helpers/cosmos.ts), with the app's
 * settings (tests/helpers/appServices.ts) pointed at it, so handlers and the pipeline reach
 * it through their own client: endpoint, the emulator key, and the server's certificate
 * written to a file, as locally.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../lib/cosmos/client.js';
import { useAppSettings } from './appServices.js';
import { useTestCosmos, type TestCosmos } from './cosmos.js';

export function useAppCosmos(): TestCosmos {
  const cosmos = useTestCosmos();
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sis-test-cosmos-ca-'));
    writeFileSync(join(dir, 'cosmos.pem'), cosmos.caCertPem);
  });
  useAppSettings(() => ({
    COSMOS__accountEndpoint: cosmos.endpoint,
    COSMOS_KEY: COSMOS_EMULATOR_KEY,
    COSMOS_CA_CERT_FILE: join(dir, 'cosmos.pem'),
    COSMOS_DATABASE: cosmos.databaseId,
  }));
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return cosmos;
}
