/**
 * Brings up what the API needs on one machine, in the order the local host, `npm run
 * migrate` and `npm run token` share: settings, MySQL (given or private MariaDB), the dev
 * token issuer, and migrations. Each step takes the app settings so far (`localAppSettings`)
 * and answers with the settings it adds (the URL, endpoint or keys of what it started); the
 * caller builds the app's services from the whole (lib/services.ts). Nothing here writes
 * the process environment.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSection, type Settings } from '../lib/config.js';
import {
  COSMOS_EMULATOR_KEY,
  cosmosClientFor,
  ensureTelemetryContainers,
} from '../lib/cosmos/client.js';
import { cosmosSettingsFrom } from '../lib/cosmos/settings.js';
import { startAzurite, type Azurite } from './azurite.js';
import { startCosmosServer, type CosmosServer } from './cosmos.js';
import {
  startEventHubsStandIn,
  type EventHubsStandIn,
  type EventHubsStandInOptions,
} from './eventhubs/index.js';
import {
  startWebPubSubStandIn,
  type EventHandlerSettings,
  type WebPubSubStandIn,
} from './webpubsub/index.js';
import { startCommunicationStandIn, type CommunicationStandIn } from './communication/index.js';
import { migrate } from '../lib/mysql/migrations.js';
import type { Pool } from 'mysql2/promise';
import type { LocalHttpHostOptions } from './httpHost.js';
import { loadDevIssuer, type DevIssuer } from './issuer.js';
import { ensureDatabase, startMariaDb, type MariaDbServer } from './mariadb.js';
import { unusedPort } from './ports.js';
import { startRedis, type RedisServer } from './redis.js';
import { localAppSettings, localSettings } from './settings.js';

export interface LocalMysql {
  url: string;
  /** The private server, when this process started one. */
  server?: MariaDbServer;
}

/**
 * MYSQL_URL of `settings` when set; otherwise a private MariaDB in the data folder with
 * database `sis` (its URL is then the app's MYSQL_URL).
 */
export async function ensureLocalMysql(
  settings: Settings = localAppSettings(),
  log: (line: string) => void = console.log,
): Promise<LocalMysql> {
  const given = settings['MYSQL_URL'];
  if (given) return { url: given };
  const { dataDir, mysqlPort } = localSettings(settings);
  return startPrivateMysql({
    dataDir: join(dataDir, 'mariadb'),
    port: mysqlPort,
    database: 'sis',
    log,
  });
}

/** A private MariaDB in `dataDir` with `database` created; its URL names the database. */
export async function startPrivateMysql(options: {
  dataDir: string;
  port: number;
  database: string;
  log: (line: string) => void;
}): Promise<Required<LocalMysql>> {
  const server = await startMariaDb({
    dataDir: options.dataDir,
    port: options.port,
    log: options.log,
  });
  await ensureDatabase(server.url, options.database);
  return { url: `${server.url}${options.database}`, server };
}

export interface LocalRedis {
  url: string;
  /** The private server, when this process started one. */
  server?: RedisServer;
}

/**
 * REDIS_URL of `settings` when set; otherwise a private `redis-server` on LOCAL_REDIS_PORT
 * (a free port when 0), in memory only (its URL is then the app's REDIS_URL).
 */
export async function ensureLocalRedis(
  settings: Settings = localAppSettings(),
  log: (line: string) => void = console.log,
): Promise<LocalRedis> {
  const given = settings['REDIS_URL'];
  if (given) return { url: given };
  const { dataDir, redisPort } = localSettings(settings);
  const server = await startRedis({
    dataDir: join(dataDir, 'redis'),
    // redis-server cannot pick a port itself (port 0 turns TCP off).
    port: redisPort === 0 ? await unusedPort() : redisPort,
    log,
  });
  return { url: server.url, server };
}

export interface LocalCosmos {
  endpoint: string;
  /** The stand-in, when this process started one. */
  server?: CosmosServer;
  /** The app settings that reach it (the stand-in's endpoint, key and certificate). */
  settings: Settings;
}

/**
 * COSMOS__accountEndpoint of `settings` when set; otherwise the Cosmos stand-in on
 * LOCAL_COSMOS_PORT with a certificate of its own in the data folder, which only the app's
 * Cosmos client trusts. The database and containers are created when missing either way.
 */
export async function ensureLocalCosmos(
  settings: Settings = localAppSettings(),
): Promise<LocalCosmos> {
  let server: CosmosServer | undefined;
  let added: Settings = {};
  if (!settings['COSMOS__accountEndpoint']) {
    const { dataDir, cosmosPort } = localSettings(settings);
    server = await startCosmosServer({ port: cosmosPort, certDir: join(dataDir, 'cosmos') });
    added = {
      COSMOS__accountEndpoint: server.endpoint,
      COSMOS_KEY: COSMOS_EMULATOR_KEY,
      COSMOS_CA_CERT_FILE: server.caCertFile,
    };
  }
  const cosmos = loadSection('cosmos', { ...settings, ...added });
  const telemetry = loadSection('telemetry', settings);
  // A client of its own for the bootstrap; the app's services make theirs.
  const client = cosmosClientFor(cosmosSettingsFrom(cosmos));
  try {
    await ensureTelemetryContainers(client, cosmos.COSMOS_DATABASE, {
      defaultTtl: { deadLetters: telemetry.DEAD_LETTER_TTL_DAYS * 86_400 },
    });
  } finally {
    client.dispose();
  }
  return {
    endpoint: cosmos.COSMOS__accountEndpoint,
    settings: added,
    ...(server ? { server } : {}),
  };
}

/** Where the local host serves the dev issuer's public keys. */
const devJwksPath = '/.well-known/jwks.json';

/**
 * The route that serves `issuer`'s public keys (its JWKS) at `devJwksPath`, for the local
 * host's `extraRoutes`; none without an issuer.
 */
export function devJwksRoutes(issuer: DevIssuer | undefined): LocalHttpHostOptions['extraRoutes'] {
  if (!issuer) return {};
  const body = JSON.stringify(issuer.jwks);
  return {
    [devJwksPath]: () => ({
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' },
      body,
    }),
  };
}

/** The dev issuer, when AUTH_ISSUER is unset (otherwise the configured issuer is trusted). */
export async function loadLocalDevIssuer(
  settings: Settings = localAppSettings(),
): Promise<DevIssuer | undefined> {
  if (settings['AUTH_ISSUER']) return undefined;
  return loadDevIssuer(join(localSettings(settings).dataDir, 'dev-issuer'));
}

/**
 * The app's AUTH_* settings for the dev issuer, whose JWKS the local host listening on
 * `hostPort` serves (`devJwksRoutes`).
 */
export function devIssuerSettings(issuer: DevIssuer, hostPort: number): Settings {
  return {
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_URI: `http://127.0.0.1:${hostPort}${devJwksPath}`,
  };
}

export async function applyMigrations(
  pool: Pool,
  log: (line: string) => void = console.log,
): Promise<void> {
  const applied = await migrate(pool);
  log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Schema is up to date.');
}

const localKeyNames = ['device', 'app', 'webPubSub', 'communication'] as const;
type LocalKeys = Record<(typeof localKeyNames)[number], string>;

/**
 * Keys of the local stand-ins, generated once into the data folder (git-ignored); a key the
 * file lacks (written before that stand-in existed) is generated and added, the others kept.
 */
function localKeys(dataDir: string): LocalKeys {
  const file = join(dataDir, 'local-keys.json');
  const stored = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalKeys>)
    : {};
  const keys = Object.fromEntries(
    localKeyNames.map((name) => [name, stored[name] ?? randomBytes(32).toString('base64')]),
  ) as LocalKeys;
  if (localKeyNames.some((name) => stored[name] === undefined)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  }
  return keys;
}

/**
 * The send-only device connection string of the local stack's Event Hubs stand-in, when
 * `npm start` has run here (its keys live in the data folder); undefined otherwise.
 */
export function localDeviceConnectionString(
  settings: Settings = localAppSettings(),
): string | undefined {
  const { dataDir, eventHubsPort } = localSettings(settings);
  if (!existsSync(join(dataDir, 'local-keys.json'))) return undefined;
  const hub = settings['EVENTHUB_NAME'] || 'telemetry';
  return (
    `Endpoint=sb://127.0.0.1:${eventHubsPort};SharedAccessKeyName=device;` +
    `SharedAccessKey=${localKeys(dataDir).device};EntityPath=${hub};UseDevelopmentEmulator=true`
  );
}

export interface LocalMessaging {
  /** AzureWebJobsStorage as the app sees it. */
  storage: string;
  /** The app settings that reach what was started here (connection strings, endpoint, key). */
  settings: Settings;
  azurite?: Azurite;
  eventHubs?: EventHubsStandIn;
  /** Send-only connection string for devices (the simulator). */
  deviceConnectionString?: string;
  webPubSub?: WebPubSubStandIn;
  communication?: CommunicationStandIn;
  /** Stops what was started here, in the reverse order of starting. */
  stop(): Promise<void>;
  /** Kills the processes started here (Azurite) at once, for when there is no time left. */
  kill(): void;
}

export interface MessagingStandInOptions {
  /** Azurite, with its data in this folder; omitted, Azurite is not started. */
  azurite?: { dataDir: string; ports: { blob: number; queue: number; table: number } };
  /**
   * The Event Hubs stand-in with these hubs, each with `partitions` partitions, a send-only
   * `device` key and a listen-only `app` key; omitted, it is not started.
   */
  eventHubs?: {
    port: number;
    hubs: readonly string[];
    partitions: number;
    keys: { device: string; app: string };
    retention?: EventHubsStandInOptions['retention'];
  };
  /**
   * The Web PubSub stand-in with this hub (and its event handler, where user events go);
   * omitted, it is not started.
   */
  webPubSub?: {
    port: number;
    hub: string;
    accessKey: string;
    eventHandler?: EventHandlerSettings;
  };
  /** The Communication Services (email and SMS) stand-in; omitted, it is not started. */
  communication?: { port: number; accessKey: string };
}

export type MessagingStandIns = Pick<
  LocalMessaging,
  'azurite' | 'eventHubs' | 'webPubSub' | 'communication' | 'stop' | 'kill'
>;

/**
 * Starts the stand-ins `options` names, in the order Azurite, Event Hubs, Web PubSub,
 * Communication Services. When one fails to start, those already started are stopped before
 * the error is thrown.
 */
export async function startMessagingStandIns(
  options: MessagingStandInOptions,
): Promise<MessagingStandIns> {
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const service of started.reverse()) await service.stop();
  };
  const result: Pick<LocalMessaging, 'azurite' | 'eventHubs' | 'webPubSub' | 'communication'> = {};
  try {
    if (options.azurite) {
      result.azurite = await startAzurite(options.azurite);
      started.push(result.azurite);
    }
    const eventHubs = options.eventHubs;
    if (eventHubs) {
      result.eventHubs = await startEventHubsStandIn({
        port: eventHubs.port,
        hubs: eventHubs.hubs.map((name) => ({ name, partitions: eventHubs.partitions })),
        keys: [
          { name: 'device', key: eventHubs.keys.device, rights: ['Send'] },
          { name: 'app', key: eventHubs.keys.app, rights: ['Listen'] },
        ],
        ...(eventHubs.retention ? { retention: eventHubs.retention } : {}),
      });
      started.push(result.eventHubs);
    }
    if (options.webPubSub) {
      result.webPubSub = await startWebPubSubStandIn({
        port: options.webPubSub.port,
        hubs: [options.webPubSub.hub],
        accessKey: options.webPubSub.accessKey,
        ...(options.webPubSub.eventHandler
          ? { eventHandlers: { [options.webPubSub.hub]: options.webPubSub.eventHandler } }
          : {}),
      });
      started.push(result.webPubSub);
    }
    if (options.communication) {
      result.communication = await startCommunicationStandIn(options.communication);
      started.push(result.communication);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ...result,
    stop,
    kill: () => {
      result.azurite?.kill();
    },
  };
}

/** Who local alert emails come from and the number local SMS are sent from, unless set. */
export const localSenders = {
  EMAIL_SENDER_ADDRESS: 'DoNotReply@sis.example.com',
  // A number of the range reserved for fiction (555-01xx), so no real phone is ever named.
  SMS_FROM_NUMBER: '+15555550100',
} as const;

/**
 * Azurite, the Event Hubs stand-in (hub `telemetry`, 4 partitions; a send-only `device` key
 * and a listen-only `app` key), the Web PubSub stand-in (hub `sis`, its `location` events to this host's `/api/webpubsub/events`) and the Communication
 * Services stand-in (email and SMS, with `localSenders` where no sender is set), each unless
 * its setting already points elsewhere (AzureWebJobsStorage, EventHubConnection,
 * WEBPUBSUB__endpoint, COMMUNICATION_CONNECTION or COMMUNICATION__endpoint).
 */
export async function ensureLocalMessaging(
  settings: Settings = localAppSettings(),
): Promise<LocalMessaging> {
  const { dataDir, port, azuritePorts, eventHubsPort, webPubSubPort, communicationPort } =
    localSettings(settings);
  const keys = localKeys(dataDir);
  const storageSetting = settings['AzureWebJobsStorage'];
  const hub = settings['EVENTHUB_NAME'] || 'telemetry';
  const standIns = await startMessagingStandIns({
    ...(!storageSetting || storageSetting === 'UseDevelopmentStorage=true'
      ? { azurite: { dataDir: join(dataDir, 'azurite'), ports: azuritePorts } }
      : {}),
    ...(settings['EventHubConnection']
      ? {}
      : { eventHubs: { port: eventHubsPort, hubs: [hub], partitions: 4, keys } }),
    ...(settings['WEBPUBSUB__endpoint']
      ? {}
      : {
          webPubSub: {
            port: webPubSubPort,
            hub: 'sis',
            accessKey: keys.webPubSub,
            // As bicep/ configures the hub in Azure: the app's handler for `location` events.
            eventHandler: {
              urlTemplate: `http://127.0.0.1:${port}/api/webpubsub/events`,
              userEventPattern: 'location',
            },
          },
        }),
    ...(settings['COMMUNICATION_CONNECTION'] || settings['COMMUNICATION__endpoint']
      ? {}
      : { communication: { port: communicationPort, accessKey: keys.communication } }),
  });
  const added: Record<string, string> = {};
  if (standIns.azurite) added['AzureWebJobsStorage'] = standIns.azurite.connectionString;
  if (standIns.eventHubs) added['EventHubConnection'] = standIns.eventHubs.connectionString('app');
  if (standIns.webPubSub) {
    added['WEBPUBSUB__endpoint'] = standIns.webPubSub.endpoint;
    added['WEBPUBSUB_KEY'] = keys.webPubSub;
  }
  if (standIns.communication) {
    added['COMMUNICATION_CONNECTION'] = standIns.communication.connectionString;
    for (const [name, value] of Object.entries(localSenders))
      if (!settings[name]) added[name] = value;
  }
  return {
    ...standIns,
    ...(standIns.eventHubs
      ? { deviceConnectionString: standIns.eventHubs.connectionString('device') }
      : {}),
    storage: added['AzureWebJobsStorage'] ?? storageSetting ?? '',
    settings: added,
  };
}
