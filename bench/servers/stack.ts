/**
 * The messaging and storage stand-ins the pipeline benchmarks run against, in this process:
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
import { startAzurite, type Azurite } from '../../dev/azurite.js';
import { startCosmosServer } from '../../dev/cosmos.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../dev/eventhubs/index.js';
import { ensureDatabase, startMariaDb } from '../../dev/mariadb.js';
import { seedDemoData } from '../../dev/seed.js';
import { startWebPubSubStandIn, type WebPubSubStandIn } from '../../dev/webpubsub/index.js';
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
  const partitions = options.partitions ?? 4;
  const eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: ['telemetry', ...(options.extraHubs ?? [])].map((name) => ({ name, partitions })),
    keys: [
      { name: 'device', key: 'YmVuY2gtZGV2aWNlLWtleQ==', rights: ['Send'] },
      { name: 'app', key: 'YmVuY2gtYXBwLWtleQ==', rights: ['Listen'] },
    ],
    ...(options.retention ? { retention: options.retention } : {}),
  });
  stops.push(() => eventHubs.stop());
  const azurite = await startAzurite({
    dataDir: join(dir, 'azurite'),
    ports: { blob: await unusedPort(), queue: await unusedPort(), table: await unusedPort() },
  });
  stops.push(() => azurite.stop());
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
  const mariadb = await startMariaDb({
    dataDir: join(dir, 'mariadb'),
    port: await unusedPort(),
    log: () => undefined,
  });
  stops.push(() => mariadb.stop());
  await ensureDatabase(mariadb.url, 'bench');
  const mysqlUrl = `${mariadb.url}bench`;
  const pool = createPool({ uri: mysqlUrl, connectionLimit: 2 });
  try {
    await migrate(pool);
    await seedDemoData(pool, options.equipment);
  } finally {
    await pool.end();
  }
  const accessKey = 'bench-web-pubsub-access-key';
  const webPubSub = await startWebPubSubStandIn({ port: 0, hubs: ['sis'], accessKey });
  stops.push(() => webPubSub.stop());
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
