/**
 * A Cosmos database of the test file's own (tests/helpers/cosmos.ts), with the app's
 * settings pointed at it, so handlers and the pipeline reach it through their own client:
 * endpoint, the emulator key, and the server's certificate written to a file, as locally.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../lib/cosmos/client.js';
import { useTestCosmos, type TestCosmos } from './cosmos.js';

export function useAppCosmos(): TestCosmos {
  const cosmos = useTestCosmos();
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sis-test-cosmos-ca-'));
    const caFile = join(dir, 'cosmos.pem');
    writeFileSync(caFile, cosmos.caCertPem);
    process.env['COSMOS__accountEndpoint'] = cosmos.endpoint;
    process.env['COSMOS_KEY'] = COSMOS_EMULATOR_KEY;
    process.env['COSMOS_CA_CERT_FILE'] = caFile;
    process.env['COSMOS_DATABASE'] = cosmos.databaseId;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return cosmos;
}
