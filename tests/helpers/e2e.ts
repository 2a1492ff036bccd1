/**
 * Shared pieces of the end-to-end tests: the messaging services that outlive the local host
 * (Event Hubs stand-in, Azurite), how far the pipeline has committed, and the comparison of
 * the closed windows in Cosmos with the simulator's ledger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database, ItemDefinition } from '@azure/cosmos';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { startAzurite, type Azurite } from '../../dev/azurite.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../dev/eventhubs/index.js';
import type { LedgerEntry } from '../../dev/simulator.js';
import { startLocalTriggers, type LocalTriggers } from '../../dev/localTriggers.js';
import type { HostLog } from '../../dev/triggerHost.js';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { unusedPort } from '../../dev/ports.js';
import { getServices } from '../../lib/services.js';
import type { AppWebPubSub } from './appWebPubSub.js';
import { allLocalEnv } from './localHost.js';

export interface LocalMessaging {
  eventHubs: EventHubsStandIn;
  azurite: Azurite;
  dataDir: string;
  /**
   * Replaces the Event Hubs stand-in with a new, empty one under the same name, port and
   * keys: a hub deleted and recreated, or a namespace failed over (sequence numbers and
   * offsets start again).
   */
  recreateEventHubs(): Promise<void>;
}

/**
 * Settings for a local host process (tests/helpers/localHost.ts) that uses this test file's
 * services instead of starting its own: its MariaDB database, its Cosmos database, the Event
 * Hubs stand-in and Azurite of `useLocalMessaging`, its Web PubSub stand-in and the test
 * run's Redis (a host killed mid-stream would leave a private one running). So the services
 * outlive the host, as they do in Azure, and several hosts share them. Everything else is
 * `allLocalEnv`'s: a stand-in added to the local stack is started per host, on a free port.
 */
export function sharedServicesHostEnv(options: {
  /** The host's own folder under the messaging data folder. */
  name: string;
  mysqlUrl: string;
  cosmosDatabaseId: string;
  messaging: LocalMessaging;
  webPubSub: AppWebPubSub;
  /** Keeps this file's Redis keys apart from other files' on the shared server. */
  redisKeyPrefix: string;
}): Record<string, string> {
  const { eventHubs, azurite, dataDir } = options.messaging;
  const appCosmos = getServices().config.section('cosmos');
  return {
    ...allLocalEnv({
      dataDir: join(dataDir, options.name),
      mysqlUrl: options.mysqlUrl,
      azuritePorts: '',
    }),
    COSMOS__accountEndpoint: appCosmos.COSMOS__accountEndpoint,
    COSMOS_KEY: appCosmos.COSMOS_KEY ?? '',
    COSMOS_CA_CERT_FILE: appCosmos.COSMOS_CA_CERT_FILE ?? '',
    COSMOS_DATABASE: options.cosmosDatabaseId,
    AzureWebJobsStorage: azurite.connectionString,
    EventHubConnection: eventHubs.connectionString('app'),
    EVENTHUB_NAME: 'telemetry',
    EVENTHUB_CONSUMER_GROUP: '$Default',
    WEBPUBSUB__endpoint: options.webPubSub.standIn.endpoint,
    WEBPUBSUB_KEY: options.webPubSub.accessKey,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: options.redisKeyPrefix,
  };
}

/** Hub `telemetry` (4 partitions, a send-only `device` and a listen-only `app` key) and Azurite. */
export function useLocalMessaging(): LocalMessaging {
  const handle = {} as LocalMessaging;
  const eventHubsOptions = (port: number) => ({
    port,
    hubs: [{ name: 'telemetry', partitions: 4 }],
    keys: [
      { name: 'device', key: 'ZGV2aWNlLWtleS1mb3ItdGVzdHM=', rights: ['Send' as const] },
      { name: 'app', key: 'YXBwLWtleS1mb3ItdGVzdHM=', rights: ['Listen' as const] },
    ],
  });
  handle.recreateEventHubs = async () => {
    const { port } = handle.eventHubs;
    await handle.eventHubs.stop();
    handle.eventHubs = await startEventHubsStandIn(eventHubsOptions(port));
  };
  beforeAll(async () => {
    handle.dataDir = mkdtempSync(join(tmpdir(), 'sis-e2e-'));
    handle.eventHubs = await startEventHubsStandIn(eventHubsOptions(0));
    handle.azurite = await startAzurite({
      dataDir: join(handle.dataDir, 'azurite'),
      ports: { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() },
    });
  });
  afterAll(async () => {
    await handle.eventHubs.stop();
    await handle.azurite.stop();
    rmSync(handle.dataDir, { recursive: true, force: true });
  });
  return handle;
}

export interface IngestTrigger {
  /** Subscribes `ingestTelemetry` (again, after `stop`); its checkpoint container is there. */
  start(): Promise<LocalTriggers>;
  stop(): Promise<void>;
}

/**
 * The Event Hub trigger of `ingestTelemetry` as the local host runs it, on `messaging`'s hub
 * `telemetry` (consumer group `$Default`) with checkpoints in its Azurite, in batches of up
 * to 100 within 1 s; stopped after the file's tests. `log` defaults to warnings and errors.
 */
export function useIngestTrigger(
  messaging: LocalMessaging,
  log: HostLog = (level, name, message) => {
    if (level !== 'information') console.error(name, message);
  },
): IngestTrigger {
  let running: LocalTriggers | undefined;
  const stop = async () => {
    await running?.stop();
    running = undefined;
  };
  afterAll(stop);
  return {
    start: async () => {
      running = await startLocalTriggers([ingestTelemetryFunction], {
        connectionString: messaging.eventHubs.connectionString('app'),
        settings: { EVENTHUB_NAME: 'telemetry', EVENTHUB_CONSUMER_GROUP: '$Default' },
        storage: messaging.azurite.connectionString,
        checkpointContainer: 'checkpoints',
        maxEventBatchSize: 100,
        maxWaitTimeSeconds: 1,
        log,
      });
      return running;
    },
    stop,
  };
}

/** Events the pipeline has committed, over every partition. */
export async function committedEvents(database: Database): Promise<number> {
  const { resources } = await database
    .container('pipelineState')
    .items.query<ItemDefinition>("SELECT * FROM c WHERE c.type = 'partition-state'")
    .fetchAll();
  return resources.reduce((sum, s) => sum + Number(s['lastSequenceNumber']) + 1, 0);
}

/** Waits (bounded) until `count` events are committed; returns how many are. */
export async function waitForCommitted(
  database: Database,
  count: number,
  limitMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + limitMs;
  let committed = await committedEvents(database);
  while (committed < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    committed = await committedEvents(database);
  }
  return committed;
}

/** Every closed window's temperature figures equal what the simulator sent, exactly. */
export async function expectAggregatesMatchLedger(
  database: Database,
  ledger: readonly LedgerEntry[],
): Promise<void> {
  const { resources } = await database
    .container('aggregates')
    .items.readAll<ItemDefinition>()
    .fetchAll();
  const actual = resources
    .map((a) => {
      const { temperature } = (
        a['summary'] as {
          metrics: { temperature: { count: number; min: number; max: number; mean: number } };
        }
      ).metrics;
      return { key: `${String(a['equipmentId'])}@${String(a['windowStart'])}`, ...temperature };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
  const expected = ledger
    .map((e) => ({
      key: `${e.equipmentId}@${e.windowStart}`,
      count: e.count,
      min: e.temperature.min,
      max: e.temperature.max,
      mean: expect.closeTo(e.temperature.sum / e.count, 6),
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
  expect(actual).toEqual(expected);
}
