/**
 * The local host killed with SIGKILL in the middle of a stream and started again: Event Hubs
 * redelivers from the last checkpoint (kept in Azurite), and the aggregates in Cosmos still
 * match what the simulator sent, exactly. The stand-ins and stores live in this process so
 * they outlive the host, as the services do in Azure.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemDefinition } from '@azure/cosmos';
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../dev/azurite.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../dev/eventhubs/index.js';
import { simulate } from '../../dev/simulator.js';
import { closeIdleWindows } from '../../lib/telemetry/processor.js';
import { getTelemetryProcessor } from '../../lib/telemetry/runtime.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useTestDatabase } from '../helpers/database.js';
import { startLocalHost } from '../helpers/localHost.js';
import { unusedPort } from '../helpers/ports.js';

const db = useTestDatabase();
const cosmos = useAppCosmos();
const children: ChildProcess[] = [];
let eventHubs: EventHubsStandIn;
let azurite: Azurite;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sis-e2e-kill-'));
  eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 4 }],
    keys: [
      { name: 'device', key: 'ZGV2aWNlLWtleS1mb3Ita2lsbA==', rights: ['Send'] },
      { name: 'app', key: 'YXBwLWtleS1mb3Ita2lsbA==', rights: ['Listen'] },
    ],
  });
  azurite = await startAzurite({
    dataDir: join(dataDir, 'azurite'),
    ports: { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() },
  });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await eventHubs.stop();
  await azurite.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function hostEnv(): Record<string, string> {
  return {
    LOCAL_DATA_DIR: join(dataDir, 'host'),
    MYSQL_URL: db.url,
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
    AUTH_JWKS_URI: '',
    COSMOS__accountEndpoint: process.env['COSMOS__accountEndpoint'] ?? '',
    COSMOS_KEY: process.env['COSMOS_KEY'] ?? '',
    COSMOS_CA_CERT_FILE: process.env['COSMOS_CA_CERT_FILE'] ?? '',
    COSMOS_DATABASE: cosmos.databaseId,
    AzureWebJobsStorage: azurite.connectionString,
    EventHubConnection: eventHubs.connectionString('app'),
    EVENTHUB_NAME: 'telemetry',
    EVENTHUB_CONSUMER_GROUP: '$Default',
    // Not used here; set so the host starts no stand-in of its own.
    WebPubSubConnectionString: 'Endpoint=http://127.0.0.1:9;AccessKey=dW51c2Vk;Version=1.0;',
  };
}

async function committedEvents(): Promise<number> {
  const { resources } = await cosmos.database
    .container('pipelineState')
    .items.query<ItemDefinition>("SELECT * FROM c WHERE c.type = 'partition-state'")
    .fetchAll();
  return resources.reduce((sum, s) => sum + Number(s['lastSequenceNumber']) + 1, 0);
}

describe('killing the local host mid-stream', () => {
  it('keeps the aggregates equal to the simulator ledger', async () => {
    const first = await startLocalHost(hostEnv(), children);
    const producer = new EventHubProducerClient(eventHubs.connectionString('device'), 'telemetry');
    const sending = simulate(producer, {
      devices: 8,
      intervalSeconds: 0.1,
      durationSeconds: 10,
      anomalyRate: 0.1,
      malformedRate: 0,
      seed: 7,
    });
    // Kill it once it has committed some of the stream, while events are still flowing.
    const killBy = Date.now() + 30_000;
    while ((await committedEvents()) === 0 && Date.now() < killBy) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const beforeKill = await committedEvents();
    expect(beforeKill).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startLocalHost(hostEnv(), children);
    const summary = await sending;
    await producer.close();
    expect(summary.errors).toBe(0);
    expect(beforeKill).toBeLessThan(summary.sent);

    const deadline = Date.now() + 60_000;
    let committed = await committedEvents();
    while (committed < summary.sent && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      committed = await committedEvents();
    }
    expect(committed, second.output()).toBe(summary.sent);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    await closeIdleWindows(getTelemetryProcessor(), Date.now() + 3_600_000, 0);
    const { resources } = await cosmos.database
      .container('aggregates')
      .items.readAll<ItemDefinition>()
      .fetchAll();
    const actual = resources
      .map((a) => {
        const t = (
          a['summary'] as { metrics: { temperature: { count: number; min: number; max: number } } }
        ).metrics.temperature;
        return {
          key: `${String(a['equipmentId'])}@${String(a['windowStart'])}`,
          count: t.count,
          min: t.min,
          max: t.max,
        };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
    const expected = summary.ledger
      .map((e) => ({
        key: `${e.equipmentId}@${e.windowStart}`,
        count: e.count,
        min: e.temperature.min,
        max: e.temperature.max,
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(actual).toEqual(expected);
  }, 180_000);
});
