/**
 * The one place the app's services are built: every client, store and deliverer, from the
 * validated settings, in one function (`createServices`), the way the Azure SDK's core builds
 * its HTTP pipeline from client options in one function (`createPipelineFromOptions`,
 * Azure/azure-sdk-for-js sdk/core/core-rest-pipeline/src/createPipelineFromOptions.ts).
 *
 * Each member is built at its first use and then kept, and reads only its own sections of
 * the settings, so a cold start pays for what the invoked function needs (the HTTP API never
 * validates Cosmos settings or connects to Cosmos). A member whose settings are invalid
 * throws a `ConfigError` naming them every time it is asked for, and builds once they are
 * fixed (a test's, or the next process's).
 *
 * The app has one set per process (`getServices`, from the process's settings); handlers get
 * it with each call (lib/http/handler.ts, `withServices`). Tests, benchmarks and the local
 * stack build theirs from explicit settings and install it with `useServices`.
 */
import type { CosmosClient, Database } from '@azure/cosmos';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { Pool } from 'mysql2/promise';
import {
  createAuthenticator,
  createServiceCallerVerifier,
  type Authenticator,
  type ServiceCallerVerifier,
} from './auth.js';
import {
  processConfig,
  sectionsOf,
  type Config,
  type ConfigSections,
  type Section,
} from './config.js';
import { checkCosmos, cosmosClientFor } from './cosmos/client.js';
import { cosmosSettingsFrom } from './cosmos/settings.js';
import { assignedUserIds, pushAudienceByPreferences } from './fanout/audience.js';
import { createAlertChannels } from './fanout/channels.js';
import {
  communicationConnection,
  createEmailSender,
  createSmsSender,
} from './fanout/communication.js';
import { mysqlContactDirectory } from './fanout/contacts.js';
import { AlertDeliverer } from './fanout/deliverer.js';
import { CosmosDeliveryLog } from './fanout/deliveryLog.js';
import { AlertEscalator } from './fanout/escalator.js';
import { AlertOutbox } from './fanout/outbox.js';
import { createPushSender } from './fanout/push.js';
import { EquipmentStatusPublisher } from './fanout/status.js';
import { WebhookSender } from './fanout/webhooks.js';
import { keyFileWrapper, keyVaultWrapper, WebhookSecretStore } from './fanout/webhookSecrets.js';
import { nearestTechniciansForAlerts } from './fanout/nearbyTechnicians.js';
import { createWebPubSubClient, webPubSubSender } from './fanout/webPubSub.js';
import type { HealthCheck } from './health.js';
import { createRateLimits, parseRateLimits, type RateLimits } from './http/rateLimits.js';
import { createAppPool, replicaConfig } from './mysql/pool.js';
import { equipmentSchema, type Equipment } from './api/schemas.js';
import { mysqlWebhookRegistry, type WebhookApiContext } from './api/webhooks.js';
import { azureCredential } from './identity.js';
import { redisConnection, redisUnavailable, type RedisConnection } from './redis/client.js';
import { technicianLocations, type TechnicianLocations } from './redis/locations.js';
import { snapshotCache, type SnapshotCache } from './redis/snapshotCache.js';
import {
  equipmentCacheDefaults,
  versionedCache,
  type VersionedCache,
} from './redis/versionedCache.js';
import { fleetMachinesSchema, type FleetMachine } from './api/fleet.js';
import { CosmosTelemetryStore } from './telemetry/cosmosStore.js';
import {
  equipmentSilences,
  equipmentStatuses,
  equipmentTypes,
  maintenanceLookup,
  mysqlEquipmentIds,
  registryLookup,
  rulesLookup,
  silenceLookup,
} from './telemetry/equipmentLookups.js';
import { readEquipmentThresholds } from './telemetry/equipmentThresholds.js';
import {
  createHubProbe,
  type HubLag,
  type HubPartitions,
  type HubProbe,
} from './telemetry/hubProbe.js';
import {
  createTelemetryProcessor,
  type MaintenanceLookup,
  type PipelineFanOut,
  type RegistryLookup,
  type RulesLookup,
  type SilenceLookup,
  type TelemetryProcessor,
} from './telemetry/processor.js';
import {
  detectOffline,
  presenceRecorder,
  type OfflineReport,
} from './telemetry/offlineDetector.js';
import { changeEquipmentStatus, offlineEquipment } from './telemetry/offlineEquipment.js';
import { defaultFutureToleranceMs } from './telemetry/reading.js';
import { parseSeverityRules } from './telemetry/severity.js';

/** Everything the functions use, each built at its first use (see the module comment). */
export interface Services {
  /** The settings, by section. */
  readonly config: ConfigSections;
  /** Verifies callers (`auth`). */
  readonly authenticate: Authenticator;
  /**
   * Verifies the Web PubSub service's managed-identity token on event handler calls
   * (`webPubSub`, WEBPUBSUB_EVENTS_*); undefined when those settings are not set.
   */
  readonly verifyWebPubSubCaller: ServiceCallerVerifier | undefined;
  /** The bounded MySQL pool of the primary (`mysql`): every write, and reads after one. */
  readonly pool: Pool;
  /**
   * The bounded MySQL pool of the read replica (MYSQL_READ_URL / MYSQL_READ_HOST), or the
   * primary's `pool` when none is set. Replication lags, so only requests that write nothing
   * read here (lib/http/handler.ts `ApiCall.db`).
   */
  readonly readPool: Pool;
  /** The Cosmos DB client (`cosmos`). */
  readonly cosmosClient: CosmosClient;
  /** The pipeline's Cosmos database: aggregates, alerts, dead letters, partition states. */
  readonly telemetryDatabase: Database;
  /** The pipeline's store in that database (`cosmos`, `telemetry`). */
  readonly telemetryStore: CosmosTelemetryStore;
  /** Severity rules per equipment (`telemetry`; per-type overrides read types from MySQL). */
  readonly severityRules: RulesLookup;
  /** Which equipment ids are registered (MySQL, cached). */
  readonly equipmentRegistry: RegistryLookup;
  readonly equipmentMaintenance: MaintenanceLookup;
  /** The silences that may hold each equipment's alerts (MySQL, cached). */
  readonly equipmentSilences: SilenceLookup;
  /** The Web PubSub service client (`webPubSub`). */
  readonly webPubSub: WebPubSubServiceClient;
  /**
   * Delivers alerts to people (Web PubSub, push when configured), and escalates and reminds
   * from its sweep (`escalation`): one per process.
   */
  readonly alertDeliverer: AlertDeliverer;
  /** What the pipeline does after a commit: alert delivery and live equipment status. */
  readonly pipelineFanOut: PipelineFanOut;
  /** The telemetry pipeline: what the Event Hub trigger and the idle timer call. */
  readonly telemetryProcessor: TelemetryProcessor;
  /** One run of offline detection at `nowMs` (lib/telemetry/offlineDetector.ts). */
  readonly detectOffline: (nowMs: number) => Promise<OfflineReport>;
  /** Whether a partition is caught up, asked of Event Hubs (`eventHubs`). */
  readonly hubProbe: HubProbe;
  /** Each partition's lag as the hub sees it (lib/telemetry/hubProbe.ts). */
  readonly hubLag: HubLag;
  /** The hub's partition ids (lib/telemetry/hubProbe.ts), for the operations view. */
  readonly hubPartitions: HubPartitions;
  /** The Redis connection (`redis`): rate limits and shared caches. */
  readonly redis: RedisConnection;
  /** Rate limits shared by every instance through Redis (`redis`, `rateLimits`). */
  readonly rateLimits: RateLimits;
  /**
   * Equipment rows by id, shared by every instance: memory, Redis, then MySQL; every write
   * (through the API, and the offline detector's status changes) records its new version
   * (lib/redis/versionedCache.ts), which also makes `fleetCache` out of date.
   */
  readonly equipmentCache: VersionedCache<Equipment>;
  /**
   * Every machine's compact row for `GET /api/fleet`, shared by every instance: memory,
   * Redis, then MySQL; out of date after any equipment write (`equipmentCache.written`).
   */
  readonly fleetCache: SnapshotCache<FleetMachine[]>;
  /** Technicians' live positions, kept 300 s in Redis (lib/redis/locations.ts). */
  readonly technicianLocations: TechnicianLocations;
  /**
   * Webhooks (`webhooks`): the address rules, the secret store and the sender; store and
   * sender are undefined when no key is configured (webhooks are then off).
   */
  readonly webhooks: WebhookApiContext & { sender: WebhookSender | undefined };
  /** The checks of `/api/health`, by dependency. */
  readonly healthChecks: Readonly<Record<string, HealthCheck>>;
  /** Closes what was built (pool, clients); the services are not used afterwards. */
  close(): Promise<void>;
}

/** Fan-out messages go to the process log (the Functions host collects console output). */
function fanOutLog(message: string): void {
  console.warn(`[fan-out] ${message}`);
}

/** Builds the services of `config` (whole, or by section); nothing is built until used. */
export function createServices(config: Config | ConfigSections): Services {
  const settings: ConfigSections = 'section' in config ? config : sectionsOf(config);
  const section = <S extends Section>(name: S) => settings.section(name);
  const built = new Map<keyof Services, unknown>();
  /** The member `name`, built by `build` at its first use; a build that throws is not kept. */
  function once<K extends keyof Services>(name: K, build: () => Services[K]): Services[K] {
    if (!built.has(name)) built.set(name, build());
    // `built` holds each member under its own name.
    return built.get(name) as Services[K];
  }
  let hubProbeClose: (() => Promise<void>) | undefined;
  /** One Event Hubs client for the probe and the lag (created at first use). */
  let hubClient: ReturnType<typeof createHubProbe> | undefined;
  function hub(): ReturnType<typeof createHubProbe> {
    if (!hubClient) {
      hubClient = createHubProbe(section('eventHubs'));
      hubProbeClose = hubClient.close;
    }
    return hubClient;
  }
  /** Whether a read replica is set; invalid MySQL settings are reported by the `mysql` check. */
  function replicaConfigured(): boolean {
    try {
      return replicaConfig(section('mysql')) !== undefined;
    } catch {
      return false;
    }
  }

  const services: Services = {
    config: settings,
    get authenticate() {
      return once('authenticate', () => createAuthenticator(section('auth')));
    },
    get verifyWebPubSubCaller() {
      return once('verifyWebPubSubCaller', () => {
        const config = section('webPubSub');
        if (
          !config.WEBPUBSUB_EVENTS_AUDIENCE ||
          !config.WEBPUBSUB_EVENTS_ISSUER ||
          !config.WEBPUBSUB_EVENTS_JWKS_URI ||
          !config.WEBPUBSUB_EVENTS_PRINCIPAL_ID
        )
          return undefined;
        return createServiceCallerVerifier({
          audience: config.WEBPUBSUB_EVENTS_AUDIENCE,
          issuer: config.WEBPUBSUB_EVENTS_ISSUER,
          jwksUri: config.WEBPUBSUB_EVENTS_JWKS_URI,
          principalId: config.WEBPUBSUB_EVENTS_PRINCIPAL_ID,
        });
      });
    },
    get pool() {
      return once('pool', () => createAppPool(section('mysql')));
    },
    get readPool() {
      return once('readPool', () => {
        const replica = replicaConfig(section('mysql'));
        return replica ? createAppPool(replica, 'replica') : services.pool;
      });
    },
    get cosmosClient() {
      return once('cosmosClient', () => cosmosClientFor(cosmosSettingsFrom(section('cosmos'))));
    },
    get telemetryDatabase() {
      return once('telemetryDatabase', () =>
        services.cosmosClient.database(section('cosmos').COSMOS_DATABASE),
      );
    },
    get telemetryStore() {
      return once('telemetryStore', () => {
        const telemetry = section('telemetry');
        return new CosmosTelemetryStore(services.telemetryDatabase, {
          aggregateTtlSeconds: telemetry.AGGREGATE_TTL_DAYS * 86_400,
          deadLetterTtlSeconds: telemetry.DEAD_LETTER_TTL_DAYS * 86_400,
        });
      });
    },
    get severityRules() {
      return once('severityRules', () =>
        rulesLookup(
          parseSeverityRules(section('telemetry').SEVERITY_RULES),
          // The pool is asked for at the first lookup, not when the services are built.
          {
            types: (ids) => equipmentTypes(services.pool)(ids),
            thresholds: (ids) => readEquipmentThresholds(services.pool, ids),
          },
        ),
      );
    },
    get equipmentMaintenance() {
      return once('equipmentMaintenance', () =>
        // The pool is asked for at the first lookup, as the severity rules' is.
        maintenanceLookup((ids) => equipmentStatuses(services.pool)(ids)),
      );
    },
    get equipmentSilences() {
      return once('equipmentSilences', () =>
        // The pool is asked for at the first lookup, as the severity rules' is.
        silenceLookup((ids, windowEnd) => equipmentSilences(services.pool)(ids, windowEnd)),
      );
    },
    get equipmentRegistry() {
      return once('equipmentRegistry', () =>
        // The pool is asked for at the first lookup, as the severity rules' is.
        registryLookup({
          all: () => mysqlEquipmentIds(services.pool).all(),
          some: (ids) => mysqlEquipmentIds(services.pool).some(ids),
        }),
      );
    },
    get webPubSub() {
      return once('webPubSub', () => createWebPubSubClient(section('webPubSub')));
    },
    get alertDeliverer() {
      return once('alertDeliverer', () => {
        const push = createPushSender(section('push'));
        if (!push)
          console.info(
            '[fan-out] Push notifications are off: NOTIFICATION_HUBS_CONNECTION is not set.',
          );
        const communication = section('communication');
        const connection = communicationConnection(communication);
        const sender = communication.EMAIL_SENDER_ADDRESS;
        const from = communication.SMS_FROM_NUMBER;
        if (connection && !sender)
          throw new Error('EMAIL_SENDER_ADDRESS: required with Communication Services');
        if (!connection)
          console.info(
            '[fan-out] Email and SMS are off: neither COMMUNICATION__endpoint nor COMMUNICATION_CONNECTION is set.',
          );
        else if (!from) console.info('[fan-out] SMS is off: SMS_FROM_NUMBER is not set.');
        const channels =
          connection && sender
            ? createAlertChannels({
                // The pool is asked for at the first send, as the audience's is.
                directory: mysqlContactDirectory(() => services.pool),
                email: createEmailSender(connection, sender),
                sms: from ? createSmsSender(connection, from) : undefined,
                smsSeverities: communication.SMS_SEVERITIES,
                publicUrl: communication.APP_PUBLIC_URL,
              })
            : undefined;
        const outbox = new AlertOutbox(services.telemetryDatabase.container('alerts'));
        return new AlertDeliverer({
          outbox,
          escalator: new AlertEscalator(outbox, section('escalation').ALERT_ESCALATION_POLICY),
          webPubSub: webPubSubSender(services.webPubSub),
          push,
          deliveryLog: new CosmosDeliveryLog(services.telemetryDatabase.container('deliveries')),
          channels,
          webhooks: services.webhooks.sender,
          audience: (equipmentIds) => assignedUserIds(services.pool, equipmentIds),
          pushAudience: pushAudienceByPreferences(() => services.pool),
          nearestTechnicians: nearestTechniciansForAlerts(
            () => services.pool,
            () => services.technicianLocations,
            fanOutLog,
          ),
          log: fanOutLog,
        });
      });
    },
    get pipelineFanOut() {
      return once('pipelineFanOut', () => {
        const status = new EquipmentStatusPublisher({
          webPubSub: webPubSubSender(services.webPubSub),
          readPartials: (partitionId, ids) =>
            services.telemetryStore.readPartials(partitionId, ids),
          intervalMs: section('webPubSub').EQUIPMENT_STATUS_INTERVAL_SECONDS * 1000,
          log: fanOutLog,
        });
        return {
          alertsWritten: async (alerts) => {
            await services.alertDeliverer.deliverWritten(alerts);
          },
          batchCommitted: async (state, partial) => {
            try {
              await status.batchCommitted(state, partial);
            } catch (error) {
              fanOutLog(
                `Equipment status skipped for partition ${state.partitionId}: ${String(error)}`,
              );
            }
          },
        };
      });
    },
    get telemetryProcessor() {
      return once('telemetryProcessor', () =>
        createTelemetryProcessor({
          store: services.telemetryStore,
          fanOut: services.pipelineFanOut,
          settings: {
            allowedLatenessMs: section('telemetry').TELEMETRY_ALLOWED_LATENESS_SECONDS * 1000,
            futureToleranceMs: defaultFutureToleranceMs,
          },
          rules: services.severityRules,
          hysteresis: {
            clearWindows: section('telemetry').ALERT_CLEAR_WINDOWS,
            flapWindowMs: section('telemetry').ALERT_FLAP_MINUTES * 60_000,
          },
          maintenance: services.equipmentMaintenance,
          silences: services.equipmentSilences,
          registry: services.equipmentRegistry,
          presence: presenceRecorder(services.telemetryStore),
        }),
      );
    },
    get detectOffline() {
      return once('detectOffline', () => {
        const options = {
          store: services.telemetryStore,
          timeouts: section('telemetry').OFFLINE_TIMEOUT_MINUTES,
          // The pool is asked for at the first run, as the severity rules' is.
          equipment: (ids: readonly string[]) => offlineEquipment(services.pool)(ids),
          changeStatus: (equipmentId: string, from: string, to: string, since?: string) =>
            changeEquipmentStatus(services.pool, (id, version) =>
              services.equipmentCache.written(id, version),
            )(equipmentId, from, to, since),
          alertsWritten: (alerts: Parameters<PipelineFanOut['alertsWritten']>[0]) =>
            services.pipelineFanOut.alertsWritten(alerts),
          silences: services.equipmentSilences,
        };
        return (nowMs: number) => detectOffline(options, nowMs);
      });
    },
    get hubProbe() {
      return hub().probe;
    },
    get hubLag() {
      return hub().lag;
    },
    get hubPartitions() {
      return hub().partitionIds;
    },
    get redis() {
      return once('redis', () => redisConnection(section('redis')));
    },
    get rateLimits() {
      return once('rateLimits', () =>
        createRateLimits(() => services.redis, parseRateLimits(section('rateLimits').RATE_LIMITS)),
      );
    },
    get equipmentCache() {
      return once('equipmentCache', () => {
        const rows = versionedCache(() => services.redis, {
          name: 'equipment',
          parse: (value) => equipmentSchema.parse(value),
          ...equipmentCacheDefaults,
        });
        // Every equipment write passes here, so the fleet's copies go out of date with the row's.
        return {
          get: (id, load) => rows.get(id, load),
          prefetch: (id) => rows.prefetch(id),
          written: async (id, version) => {
            await Promise.all([rows.written(id, version), services.fleetCache.written()]);
          },
        };
      });
    },
    get fleetCache() {
      return once('fleetCache', () =>
        snapshotCache(() => services.redis, {
          name: 'fleet',
          parse: (value) => fleetMachinesSchema.parse(value),
          ttlSeconds: equipmentCacheDefaults.ttlSeconds,
        }),
      );
    },
    get technicianLocations() {
      return once('technicianLocations', () => technicianLocations(() => services.redis));
    },
    get webhooks() {
      return once('webhooks', () => {
        const config = section('webhooks');
        const policy = { allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK_HTTP };
        const keys = config.WEBHOOK_SECRET_KEY_ID
          ? keyVaultWrapper(
              config.WEBHOOK_SECRET_KEY_ID,
              azureCredential(config.WEBHOOK_SECRET_KEY__clientId),
            )
          : config.WEBHOOK_SECRET_KEY_FILE
            ? keyFileWrapper(config.WEBHOOK_SECRET_KEY_FILE)
            : undefined;
        if (!keys) {
          console.info(
            '[fan-out] Webhooks are off: neither WEBHOOK_SECRET_KEY_ID nor WEBHOOK_SECRET_KEY_FILE is set.',
          );
          return { policy, secrets: undefined, sender: undefined };
        }
        const secrets = new WebhookSecretStore(keys);
        const sender = new WebhookSender({
          // The pool is asked for at the first delivery, as the severity rules' is.
          registry: mysqlWebhookRegistry(() => services.pool),
          secrets,
          policy,
          disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          maxResponseBytes: config.WEBHOOK_MAX_RESPONSE_BYTES,
          log: fanOutLog,
        });
        return { policy, secrets, sender };
      });
    },
    get healthChecks() {
      return once('healthChecks', () => ({
        mysql: async () => {
          await services.pool.query('SELECT 1');
        },
        // Only when a replica is configured: otherwise it is the primary, checked above.
        ...(replicaConfigured() && {
          mysqlReplica: async () => {
            await services.readPool.query('SELECT 1');
          },
        }),
        cosmos: async () => {
          await checkCosmos(services.cosmosClient, section('cosmos').COSMOS_DATABASE);
        },
        redis: async () => {
          // Outside the try: missing settings are reported as such, not as an outage.
          const redis = services.redis;
          try {
            await (await redis.client()).ping();
          } catch (error) {
            throw redisUnavailable(error);
          }
        },
      }));
    },
    async close() {
      const pool = built.get('pool') as Pool | undefined;
      const readPool = built.get('readPool') as Pool | undefined;
      const cosmosClient = built.get('cosmosClient') as CosmosClient | undefined;
      const redis = built.get('redis') as RedisConnection | undefined;
      built.clear();
      cosmosClient?.dispose();
      await Promise.all([
        pool?.end(),
        readPool === pool ? undefined : readPool?.end(),
        hubProbeClose?.(),
        redis?.close(),
      ]);
    },
  };
  return services;
}

let installed: Services | undefined;

/**
 * The services of this process: the installed ones (`useServices`), or else built once from
 * the process's settings (app settings in Azure).
 */
export function getServices(): Services {
  installed ??= createServices(processConfig());
  return installed;
}

/**
 * Installs `services` as this process's (the local stack, a test, a benchmark: whoever built
 * them from explicit settings). Returns a function that puts back what was there before;
 * closing the services stays with whoever built them.
 */
export function useServices(services: Services): () => void {
  const previous = installed;
  installed = services;
  return () => {
    installed = previous;
  };
}

/**
 * A trigger or timer handler that gets the process's services with each call, as the HTTP
 * handlers do (lib/http/handler.ts): asked for at call time, so `useServices` applies.
 */
export function withServices<Args extends unknown[], Result>(
  handler: (services: Services, ...args: Args) => Result,
): (...args: Args) => Result {
  return (...args) => handler(getServices(), ...args);
}
