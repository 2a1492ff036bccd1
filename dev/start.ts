/**
 * `npm start`: the product on one machine. Ensures MySQL (MYSQL_URL or a private MariaDB),
 * Redis (REDIS_URL or a private redis-server),
 * Cosmos (or its local stand-in), Azurite, the Event Hubs, Web PubSub and Communication Services
 * (email and SMS) stand-ins, applies
 * migrations, seeds demo data into an empty database, serves every declared HTTP function at
 * http://127.0.0.1:PORT/api and runs the timer and Event Hub triggers. Ctrl-C stops
 * everything it started, in the reverse order of starting, within 10 s; MySQL and Azurite
 * data stay in the data folder (`.local/` by default). The app's settings are the settings
 * file and the environment plus what this starts (URLs, endpoints, keys), passed explicitly:
 * the app's services are built from them (lib/services.ts), never from `process.env`.
 */
import { functionDeclarations } from '../functions/registry.js';
import { loadConfig, type Config } from '../lib/config.js';
import {
  httpDeclarations,
  type EventHubFunctionDeclaration,
  type TimerFunctionDeclaration,
} from '../lib/host/declarations.js';
import { createServices, useServices, type Services } from '../lib/services.js';
import { createLocalHttpHost, listen } from './httpHost.js';
import type { DevIssuer } from './issuer.js';
import {
  applyMigrations,
  devIssuerSettings,
  devJwksRoutes,
  ensureLocalCosmos,
  ensureLocalMessaging,
  ensureLocalMysql,
  ensureLocalRedis,
  loadLocalDevIssuer,
  type LocalCosmos,
  type LocalMessaging,
  type LocalMysql,
  type LocalRedis,
} from './localStack.js';
import { metricsPortOf, startMetricsEndpoint, type MetricsEndpoint } from './metrics.js';
import { seedDemoData } from './seed.js';
import { tracingFromSettings } from './tracing.js';
import { startLocalTriggers } from './localTriggers.js';
import { defaultLog, startTimers, type HostLog } from './triggerHost.js';
import { localAppSettings, localSettings } from './settings.js';
import { localWebhookSettings } from './webhookKey.js';

const log = (line: string) => {
  console.log(line);
};

/** `npm start` promises to stop within this; past it, what is left is killed. */
const stopBudgetMs = 9_000;
/** How long a stop waits for function invocations already running to finish. */
const drainMs = 3_000;

interface Started {
  name: string;
  stop: () => Promise<void> | void;
  /** Ends it at once, when the budget has run out (child processes). */
  kill?: () => void;
}

/** What this run has started, in order: stopped in the reverse order. */
const started: Started[] = [];
let stopping = false;

/** Function invocations running now (their promises), so a stop can let them finish. */
const invocations = new Set<Promise<unknown>>();

function tracked<Args extends unknown[], Result>(
  handler: (...args: Args) => Result,
): (...args: Args) => Result {
  return (...args) => {
    const result = handler(...args);
    if (result instanceof Promise) {
      invocations.add(result);
      const done = () => invocations.delete(result);
      result.then(done, done);
    }
    return result;
  };
}

/** Resolves when the running invocations have finished, or after `ms`. */
async function drained(ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...invocations]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Stops everything started so far, last started first, so each service outlives what uses
 * it: the Event Hubs consumer releases its partitions into Azurite before Azurite stops, the
 * pool closes before MariaDB. A failing step is reported in one line and the rest still
 * stop; past the budget, the child processes left are killed. Exits with `exitCode` when all
 * went well, 1 otherwise.
 */
function stopAll(reason: string, exitCode = 0): Promise<never> {
  stopRun ??= stopInOrder(reason, exitCode);
  return stopRun;
}
let stopRun: Promise<never> | undefined;

async function stopInOrder(reason: string, exitCode: number): Promise<never> {
  stopping = true;
  log(`\n${reason}: stopping...`);
  const overdue = setTimeout(() => {
    log(`Stopping took over ${stopBudgetMs / 1000} s; killing what is left.`);
    for (const service of started) service.kill?.();
    process.exit(1);
  }, stopBudgetMs);
  let failed = false;
  for (const service of [...started].reverse()) {
    try {
      await service.stop();
    } catch (error) {
      failed = true;
      log(`Stopping ${service.name} failed: ${messageOf(error)}`);
    }
  }
  clearTimeout(overdue);
  log(failed ? 'Stopped, with the problems above.' : 'Stopped.');
  process.exit(failed ? 1 : exitCode);
}

/**
 * A host log that goes quiet once stopping has begun: an invocation cut short by the stop
 * fails against services already stopped, which says nothing about the product.
 */
const hostLog: HostLog = (level, functionName, message) => {
  if (!stopping) defaultLog(level, functionName, message);
};

/** Stops everything on Ctrl-C or SIGTERM, from the first moment: also during start-up. */
function stopOnSignals(): void {
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
}

interface BackingServices {
  mysql: LocalMysql;
  redis: LocalRedis;
  cosmos: LocalCosmos;
  messaging: LocalMessaging;
}

/** The app settings of this run: the file and environment, then what this run starts. */
const settings: Record<string, string | undefined> = localAppSettings();

/** The app's services, built once every setting is known (closed after the HTTP host). */
let appServices: Services | undefined;

/**
 * MySQL, Cosmos, Azurite and the messaging stand-ins, each given or started here; the
 * settings that reach them are added to `settings`.
 */
async function startBackingServices(): Promise<BackingServices> {
  const mysql = await ensureLocalMysql(settings, log);
  settings['MYSQL_URL'] = mysql.url;
  const mysqlServer = mysql.server;
  if (mysqlServer)
    started.push({
      name: 'MariaDB',
      stop: () => mysqlServer.stop(),
      kill: () => {
        mysqlServer.kill();
      },
    });
  const redis = await ensureLocalRedis(settings, log);
  settings['REDIS_URL'] = redis.url;
  const redisServer = redis.server;
  if (redisServer)
    started.push({
      name: 'Redis',
      stop: () => redisServer.stop(),
      kill: () => {
        redisServer.kill();
      },
    });
  const cosmos = await ensureLocalCosmos(settings);
  Object.assign(settings, cosmos.settings);
  const cosmosServer = cosmos.server;
  if (cosmosServer) started.push({ name: 'the Cosmos stand-in', stop: () => cosmosServer.stop() });
  const messaging = await ensureLocalMessaging(settings);
  Object.assign(settings, messaging.settings);
  Object.assign(settings, localWebhookSettings(settings));
  started.push({
    name: 'Azurite and the Event Hubs, Web PubSub and Communication Services stand-ins',
    stop: () => messaging.stop(),
    kill: () => {
      messaging.kill();
    },
  });
  return { mysql, redis, cosmos, messaging };
}

/**
 * The HTTP host on PORT, listening at once so PORT=0 works and the JWKS URL can name the
 * real port; requests wait until `startedUp()` (migrations, demo data). Returns the port.
 */
async function startHttpHost(
  issuer: DevIssuer | undefined,
): Promise<{ port: number; startedUp: () => void }> {
  let startedUp: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    startedUp = resolve;
  });
  const server = createLocalHttpHost({
    declarations: httpDeclarations(functionDeclarations),
    routePrefix: 'api',
    ready,
    extraRoutes: devJwksRoutes(issuer),
  });
  const port = await listen(server, localSettings(settings).port);
  if (issuer) Object.assign(settings, devIssuerSettings(issuer, port));
  // Links in alert emails and SMS lead to this host's dashboard unless set otherwise.
  settings['APP_PUBLIC_URL'] ||= `http://127.0.0.1:${port}`;
  started.push({
    name: 'the app services (MySQL pool, Cosmos and Web PubSub clients)',
    stop: () => appServices?.close(),
  });
  // Stopped before the services it uses, although it listened first (requests wait for start-up).
  started.push({
    name: 'the HTTP host',
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  });
  return { port, startedUp };
}

/** The timer and Event Hub triggers, their invocations tracked so a stop can drain them. */
async function startTriggers(messaging: LocalMessaging): Promise<void> {
  const timers = startTimers(
    functionDeclarations
      .filter((d): d is TimerFunctionDeclaration => d.kind === 'timer')
      .map((d) => ({ ...d, handler: tracked(d.handler) })),
    hostLog,
  );
  started.push({
    name: 'the timers',
    stop: async () => {
      await timers.stop();
      await drained(drainMs);
    },
  });
  const triggers = await startLocalTriggers(
    functionDeclarations
      .filter((d): d is EventHubFunctionDeclaration => d.kind === 'eventHub')
      .map((d) => ({ ...d, handler: tracked(d.handler) })),
    {
      connectionString: settings['EventHubConnection'] ?? '',
      settings,
      storage: messaging.storage,
      checkpointContainer: 'eventhub-checkpoints',
      // The in-memory stand-in is a new hub at every start: checkpoints kept in Azurite from
      // the last run name offsets it does not have, which it refuses as the service does.
      newHub: messaging.eventHubs !== undefined,
      log: hostLog,
    },
  );
  started.push({
    name: 'the Event Hub trigger',
    // Batches already in the function finish first (what they wrote is checkpointed); then
    // the consumer stops and gives its partitions up, in Azurite, which is still running.
    stop: async () => {
      await drained(drainMs);
      await triggers.stop();
    },
  });
}

/** A Redis URL as the banner shows it: without its password. */
function redisShown(url: string): string {
  const shown = new URL(url);
  shown.password = shown.password ? '***' : '';
  return shown.toString();
}

/** What runs where, and how to use it: printed once everything has started. */
function banner(
  services: BackingServices,
  config: Config,
  issuer: DevIssuer | undefined,
  port: number,
  metricsEndpoint: MetricsEndpoint | undefined,
): string {
  const { mysql, redis, cosmos, messaging } = services;
  const { dataDir } = localSettings(settings);
  const base = `http://127.0.0.1:${port}`;
  const mysqlShown = new URL(mysql.url);
  mysqlShown.password = mysqlShown.password ? '***' : '';
  return [
    '',
    'SIS local stack is running',
    `  API          ${base}/api   (health: ${base}/api/health, OpenAPI: ${base}/api/openapi.json)`,
    `  Dashboard    ${base}/api/dashboard/   (sign in with a token from npm run token)`,
    `  MySQL        ${mysqlShown.toString()}${mysql.server ? `  (private MariaDB, data in ${dataDir}/mariadb)` : ''}`,
    `  Redis        ${redisShown(redis.url)}${redis.server ? '  (private redis-server, in memory only)' : ''}`,
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
          `  Event Hubs   amqp://127.0.0.1:${messaging.eventHubs.port}, hub ${config.EVENTHUB_NAME}, 4 partitions (in memory)`,
          `    devices (send only): ${messaging.deviceConnectionString ?? ''}`,
          `    app (listen only):   ${config.EventHubConnection ?? ''}`,
          `    npm run simulate -- --connection-string "${messaging.deviceConnectionString ?? ''}" --devices 20 --interval 1 --duration 60`,
        ]
      : ['  Event Hubs   EventHubConnection']),
    `  Web PubSub   ${messaging.webPubSub ? `${messaging.webPubSub.endpoint} hub sis (in memory)` : 'WEBPUBSUB__endpoint'}`,
    ...(messaging.communication
      ? [
          `  Email, SMS   ${messaging.communication.endpoint} (Communication Services stand-in, in memory), from ${config.EMAIL_SENDER_ADDRESS ?? ''} and ${config.SMS_FROM_NUMBER ?? ''}`,
          `    what was sent: ${messaging.communication.messagesUrl}`,
        ]
      : ['  Email, SMS   COMMUNICATION__endpoint']),
    `  Metrics      ${metricsEndpoint ? `${metricsEndpoint.url}   (Prometheus text; METRICS_PORT=0 turns it off)` : 'off (METRICS_PORT=0)'}`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

/**
 * Console traces (OTEL_TRACES_EXPORTER=console) and the Prometheus endpoint (METRICS_PORT,
 * default 9464; 0: none), before anything records.
 */
async function startMetrics(): Promise<MetricsEndpoint | undefined> {
  const port = metricsPortOf(settings['METRICS_PORT']);
  const tracing = tracingFromSettings(settings['OTEL_TRACES_EXPORTER']);
  if (tracing) started.push({ name: 'tracing', stop: () => tracing.stop() });
  if (port === 0) return undefined;
  const endpoint = await startMetricsEndpoint(port);
  started.push({ name: 'the metrics endpoint', stop: () => endpoint.stop() });
  return endpoint;
}

async function main(): Promise<void> {
  stopOnSignals();
  const metricsEndpoint = await startMetrics();
  const services = await startBackingServices();
  const issuer = await loadLocalDevIssuer(settings);
  const host = await startHttpHost(issuer);
  // Every setting is checked (all problems reported at once) before the database is touched.
  const config = loadConfig(settings);
  appServices = createServices(config);
  // The in-process handlers (HTTP host, timers, trigger) get these services.
  useServices(appServices);
  await applyMigrations(appServices.pool, log);
  if (await seedDemoData(appServices.pool))
    log('Seeded demo data (3 technicians, 200 pieces of equipment).');
  host.startedUp();
  await startTriggers(services.messaging);
  log(banner(services, config, issuer, host.port, metricsEndpoint));
}

main().catch((error: unknown) => {
  if (stopping) return;
  console.error(messageOf(error));
  // What started before the failure stops too.
  void stopAll('Start-up failed', 1);
});
