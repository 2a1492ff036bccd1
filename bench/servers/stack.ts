/**
 * The messaging and storage stand-ins the pipeline benchmarks run against, in this process,
 * started by the same functions as `npm start`'s (dev/localStack.ts) with explicit settings:
 * Event Hubs (hub `telemetry`, plus any extra hubs), Azurite, the Cosmos server with the
 * telemetry containers in database `bench`, Web PubSub (hub `sis`), and a private MariaDB
 * with the demo fleet's machines 1..N registered (the pipeline dead-letters readings of
 * machines nobody registered). `appEnv` points the app's settings at them. Every server's
 * stop is pushed onto `stops`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CosmosClient, Database } from '@azure/cosmos';
import { createPool } from 'mysql2/promise';
import type { Azurite } from '../../dev/azurite.js';
import { startCosmosServer } from '../../dev/cosmos.js';
import type { EventHubsStandIn } from '../../dev/eventhubs/index.js';
import { startMessagingStandIns, startPrivateMysql } from '../../dev/localStack.js';
import { seedDemoData } from '../../dev/seed.js';
import type { WebPubSubStandIn } from '../../dev/webpubsub/index.js';
import {
  COSMOS_EMULATOR_KEY,
  createCosmosClient,
  ensureTelemetryContainers,
} from '../../lib/cosmos/client.js';
import { migrate } from '../../lib/mysql/migrations.js';
import { unusedPort } from '../../dev/ports.js';

export interface BenchStack {
  eventHubs: EventHubsStandIn;
  azurite: Azurite;
  webPubSub: WebPubSubStandIn;
  /** A client of this process for the Cosmos server, and its `bench` database. */
  cosmosClient: CosmosClient;
  database: Database;
  appEnv: Record<string, string>;
}

export async function startBenchStack(options: {
  dir: string;
  stops: (() => Promise<void>)[];
  partitions?: number;
  extraHubs?: string[];
  /** Machines registered in MySQL, ids 1..N (the simulator's ids). */
  equipment: number;
  retention?: { maxEventsPerPartition: number; maxAgeMs: number };
}): Promise<BenchStack> {
  const { dir, stops } = options;
  const accessKey = 'bench-web-pubsub-access-key';
  const messaging = await startMessagingStandIns({
    azurite: {
      dataDir: join(dir, 'azurite'),
      ports: { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() },
    },
    eventHubs: {
      port: 0,
      hubs: ['telemetry', ...(options.extraHubs ?? [])],
      partitions: options.partitions ?? 4,
      keys: { device: 'YmVuY2gtZGV2aWNlLWtleQ==', app: 'YmVuY2gtYXBwLWtleQ==' },
      ...(options.retention ? { retention: options.retention } : {}),
    },
    webPubSub: { port: 0, hub: 'sis', accessKey },
  });
  stops.push(() => messaging.stop());
  const { azurite, eventHubs, webPubSub } = messaging;
  if (!azurite || !eventHubs || !webPubSub) throw new Error('A messaging stand-in did not start');
  const cosmos = await startCosmosServer({ port: 0, certDir: join(dir, 'cosmos') });
  stops.push(() => cosmos.stop());
  const caFile = join(dir, 'cosmos.pem');
  writeFileSync(caFile, cosmos.caCertPem);
  const client = createCosmosClient({
    endpoint: cosmos.endpoint,
    key: COSMOS_EMULATOR_KEY,
    caCertPem: cosmos.caCertPem,
  });
  stops.push(() => {
    client.dispose();
    return Promise.resolve();
  });
  const { database } = await ensureTelemetryContainers(client, 'bench');
  const mysql = await startPrivateMysql({
    dataDir: join(dir, 'mariadb'),
    port: await unusedPort(),
    database: 'bench',
    log: () => undefined,
  });
  stops.push(() => mysql.server.stop());
  const mysqlUrl = mysql.url;
  const pool = createPool({ uri: mysqlUrl, connectionLimit: 2 });
  try {
    await migrate(pool);
    await seedDemoData(pool, options.equipment);
  } finally {
    await pool.end();
  }
  return {
    eventHubs,
    azurite,
    webPubSub,
    cosmosClient: client,
    database,
    appEnv: {
      COSMOS__accountEndpoint: cosmos.endpoint,
      COSMOS_KEY: COSMOS_EMULATOR_KEY,
      COSMOS_CA_CERT_FILE: caFile,
      COSMOS_DATABASE: 'bench',
      EventHubConnection: eventHubs.connectionString('app', 'telemetry'),
      EVENTHUB_NAME: 'telemetry',
      EVENTHUB_CONSUMER_GROUP: '$Default',
      WEBPUBSUB__endpoint: webPubSub.endpoint,
      WEBPUBSUB_KEY: accessKey,
      WEBPUBSUB_HUB: 'sis',
      MYSQL_URL: mysqlUrl,
    },
  };
}
