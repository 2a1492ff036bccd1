/**
 * Devices to aggregates on one machine, every hop real: the simulator sends through
 * `EventHubProducerClient` to the Event Hubs stand-in over AMQP; the local trigger host
 * receives with `EventHubConsumerClient`, checkpointing in Azurite, and runs the declared
 * `ingestTelemetry` function; the pipeline writes to the local Cosmos server. The closed
 * windows must match the simulator's ledger exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import type { ItemDefinition } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../dev/azurite.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../dev/eventhubs/index.js';
import { simulate } from '../../dev/simulator.js';
import { startEventHubTriggers, type Running } from '../../dev/triggerHost.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { closeIdleWindows } from '../../lib/telemetry/processor.js';
import { getTelemetryProcessor } from '../../lib/telemetry/runtime.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { unusedPort } from '../helpers/ports.js';

const cosmos = useAppCosmos();
let eventHubs: EventHubsStandIn;
let azurite: Azurite;
let triggers: Running | undefined;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-e2e-'));
  eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 4 }],
    keys: [
      { name: 'device', key: 'ZGV2aWNlLWtleS1mb3ItdGVzdHM=', rights: ['Send'] },
      { name: 'app', key: 'YXBwLWtleS1mb3ItdGVzdHM=', rights: ['Listen', 'Send'] },
    ],
  });
  azurite = await startAzurite({
    dataDir,
    ports: { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() },
  });
  process.env['EVENTHUB_NAME'] = 'telemetry';
  process.env['EVENTHUB_CONSUMER_GROUP'] = '$Default';
});

afterAll(async () => {
  await triggers?.stop();
  await eventHubs.stop();
  await azurite.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the pipeline on one machine', () => {
  it('turns simulated readings into aggregates that match the ledger', async () => {
    const checkpoints = new ContainerClient(azurite.connectionString, 'checkpoints');
    await checkpoints.createIfNotExists();
    triggers = startEventHubTriggers([ingestTelemetryFunction], {
      connectionString: eventHubs.connectionString('app'),
      checkpointStore: new BlobCheckpointStore(checkpoints),
      maxEventBatchSize: 100,
      maxWaitTimeSeconds: 1,
      log: (level, name, message) => {
        if (level !== 'information') console.error(name, message);
      },
    });

    const producer = new EventHubProducerClient(eventHubs.connectionString('device'), 'telemetry');
    const summary = await simulate(producer, {
      devices: 6,
      intervalSeconds: 0.25,
      durationSeconds: 3,
      anomalyRate: 0,
      malformedRate: 0,
      seed: 42,
    });
    await producer.close();
    expect(summary.errors).toBe(0);

    // Wait (bounded) until every event is committed by the pipeline.
    const state = cosmos.database.container('pipelineState');
    const deadline = Date.now() + 60_000;
    let committed = 0;
    while (Date.now() < deadline) {
      const { resources } = await state.items
        .query<ItemDefinition>("SELECT * FROM c WHERE c.type = 'partition-state'")
        .fetchAll();
      committed = resources.reduce((sum, s) => sum + Number(s['lastSequenceNumber']) + 1, 0);
      if (committed >= summary.sent) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(committed).toBe(summary.sent);

    // The stream has stopped: the idle timer closes every window.
    await closeIdleWindows(getTelemetryProcessor(), Date.now() + 3_600_000, 0);
    const { resources: aggregates } = await cosmos.database
      .container('aggregates')
      .items.readAll<ItemDefinition>()
      .fetchAll();
    const actual = aggregates
      .map((a) => {
        const temperature = (
          a['summary'] as {
            metrics: { temperature: { count: number; min: number; max: number; mean: number } };
          }
        ).metrics.temperature;
        return { key: `${String(a['equipmentId'])}@${String(a['windowStart'])}`, ...temperature };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
    const expected = summary.ledger
      .map((e) => ({
        key: `${e.equipmentId}@${e.windowStart}`,
        count: e.count,
        min: e.temperature.min,
        max: e.temperature.max,
        mean: expect.closeTo(e.temperature.sum / e.count, 6),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(actual).toEqual(expected);
  }, 120_000);
});
