/**
 * `npm start`: the product on one machine. Ensures MySQL (MYSQL_URL or a private MariaDB),
 * Cosmos (or its local stand-in), Azurite, the Event Hubs and Web PubSub stand-ins, applies
 * migrations, seeds demo data into an empty database, serves every declared HTTP function at
 * http://127.0.0.1:PORT/api and runs the timer and Event Hub triggers. Ctrl-C stops
 * everything; MySQL and Azurite data stay in the data folder (`.local/` by default).
 */
import { functionDeclarations } from '../functions/registry.js';
import { getConfig } from '../lib/config.js';
import { closeCosmosClient } from '../lib/cosmos/client.js';
import {
  httpDeclarations,
  type EventHubFunctionDeclaration,
  type TimerFunctionDeclaration,
} from '../lib/host/declarations.js';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { closePool, getPool } from '../lib/mysql/pool.js';
import { createLocalHttpHost, listen } from './httpHost.js';
import {
  applyMigrations,
  devJwksPath,
  ensureLocalCosmos,
  ensureLocalMessaging,
  ensureLocalMysql,
  loadLocalDevIssuer,
  useDevIssuer,
} from './localStack.js';
import { seedDemoData } from './seed.js';
import { hostJsonEventHubs } from './hostJson.js';
import { startEventHubTriggers, startTimers } from './triggerHost.js';
import { localSettings } from './settings.js';

const log = (line: string) => {
  console.log(line);
};

async function main(): Promise<void> {
  const mysql = await ensureLocalMysql(log);
  const cosmos = await ensureLocalCosmos();
  const messaging = await ensureLocalMessaging();
  const { port, dataDir } = localSettings();
  const issuer = await loadLocalDevIssuer();

  // Listen first so PORT=0 works and the JWKS URL can name the real port; requests wait
  // until start-up below has finished.
  let startedUp: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    startedUp = resolve;
  });
  const jwksBody = issuer ? JSON.stringify(issuer.jwks) : undefined;
  const server = createLocalHttpHost({
    declarations: httpDeclarations(functionDeclarations),
    routePrefix: 'api',
    ready,
    extraRoutes: jwksBody
      ? {
          [devJwksPath]: () => ({
            status: 200,
            headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' },
            body: jwksBody,
          }),
        }
      : {},
  });
  const boundPort = await listen(server, port);
  if (issuer) useDevIssuer(issuer, `http://127.0.0.1:${boundPort}${devJwksPath}`);
  const config = getConfig();
  const pool = getPool();
  await applyMigrations(pool, log);
  if (await seedDemoData(pool)) log('Seeded demo data (3 technicians, 200 pieces of equipment).');
  startedUp();

  const timers = startTimers(
    functionDeclarations.filter((d): d is TimerFunctionDeclaration => d.kind === 'timer'),
  );
  const eventHubs = hostJsonEventHubs();
  const checkpoints = new ContainerClient(messaging.storage, 'eventhub-checkpoints');
  await checkpoints.createIfNotExists();
  const triggers = startEventHubTriggers(
    functionDeclarations.filter((d): d is EventHubFunctionDeclaration => d.kind === 'eventHub'),
    {
      connectionString: process.env['EventHubConnection'] ?? '',
      checkpointStore: new BlobCheckpointStore(checkpoints),
      maxEventBatchSize: eventHubs.maxEventBatchSize,
      maxWaitTimeSeconds: eventHubs.maxWaitTimeSeconds,
    },
  );

  const base = `http://127.0.0.1:${boundPort}`;
  const mysqlShown = new URL(mysql.url);
  mysqlShown.password = mysqlShown.password ? '***' : '';
  log(
    [
      '',
      'SIS local stack is running',
      `  API          ${base}/api   (health: ${base}/api/health, OpenAPI: ${base}/api/openapi.json)`,
      `  Dashboard    ${base}/api/dashboard/   (sign in with a token from npm run token)`,
      `  MySQL        ${mysqlShown.toString()}${mysql.server ? `  (private MariaDB, data in ${dataDir}/mariadb)` : ''}`,
      `  Cosmos       ${cosmos.endpoint}${cosmos.server ? '  (local stand-in: in memory, emptied on restart)' : ''}`,
      `  Tokens       ${issuer ? `dev issuer, JWKS at ${config.AUTH_JWKS_URI}` : `issuer ${config.AUTH_ISSUER}`}`,
      ...(issuer
        ? [
            '               npm run token -- --role Admin',
            '               npm run token -- --role Technician --sub tech-alice',
          ]
        : []),
      `  HTTP         ${httpDeclarations(functionDeclarations)
        .map((d) => d.name)
        .join(', ')}`,
      `  Triggers     ${functionDeclarations
        .filter((d) => d.kind !== 'http')
        .map((d) => `${d.name} (${d.kind})`)
        .join(', ')}`,
      `  Azurite      ${messaging.azurite ? `${messaging.azurite.blobEndpoint} (data in ${dataDir}/azurite)` : 'AzureWebJobsStorage'}`,
      ...(messaging.eventHubs
        ? [
            `  Event Hubs   amqp://127.0.0.1:${messaging.eventHubs.port}, hub ${process.env['EVENTHUB_NAME'] || 'telemetry'}, 4 partitions (in memory)`,
            `    devices (send only): ${messaging.deviceConnectionString ?? ''}`,
            `    app (listen only):   ${process.env['EventHubConnection'] ?? ''}`,
            `    npm run simulate -- --connection-string "${messaging.deviceConnectionString ?? ''}" --devices 20 --interval 1 --duration 60`,
          ]
        : ['  Event Hubs   EventHubConnection']),
      `  Web PubSub   ${messaging.webPubSub ? `${messaging.webPubSub.endpoint} hub sis (in memory)` : 'WEBPUBSUB__endpoint'}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping...`);
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    await triggers.stop();
    await timers.stop();
    await messaging.stop();
    await closePool();
    closeCosmosClient();
    await cosmos.server?.stop();
    await mysql.server?.stop();
    log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
