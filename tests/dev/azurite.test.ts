/** Azurite for the local stack, and the Event Hubs checkpoint store on it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../dev/azurite.js';
import { unusedPort } from '../../dev/ports.js';

let azurite: Azurite;
let dataDir: string;
let ports: { blob: number; queue: number; table: number };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-test-azurite-'));
  ports = { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() };
  azurite = await startAzurite({ dataDir, ports });
});

afterAll(async () => {
  await azurite.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startAzurite', () => {
  it('keeps Event Hubs checkpoints through the blob checkpoint store, across a restart', async () => {
    const container = new ContainerClient(azurite.connectionString, 'checkpoints');
    await container.createIfNotExists();
    const store = new BlobCheckpointStore(container);
    await store.updateCheckpoint({
      fullyQualifiedNamespace: '127.0.0.1',
      eventHubName: 'telemetry',
      consumerGroup: '$Default',
      partitionId: '2',
      sequenceNumber: 41,
      offset: '4100',
    });
    await azurite.stop();
    azurite = await startAzurite({ dataDir, ports });
    const reopened = new BlobCheckpointStore(
      new ContainerClient(azurite.connectionString, 'checkpoints'),
    );
    const checkpoints = await reopened.listCheckpoints('127.0.0.1', 'telemetry', '$Default');
    expect(checkpoints).toEqual([
      expect.objectContaining({ partitionId: '2', sequenceNumber: 41, offset: '4100' }),
    ]);
  });

  it('names blob, queue and table endpoints on loopback in its connection string', () => {
    expect(azurite.connectionString).toContain(
      `BlobEndpoint=http://127.0.0.1:${ports.blob}/devstoreaccount1;`,
    );
    expect(azurite.connectionString).toContain(
      `QueueEndpoint=http://127.0.0.1:${ports.queue}/devstoreaccount1;`,
    );
    expect(azurite.connectionString).toContain(
      `TableEndpoint=http://127.0.0.1:${ports.table}/devstoreaccount1;`,
    );
  });
});
