/**
 * The one way the app builds its Cosmos DB client, the containers it needs, and the health
 * check. A `CosmosClient` holds connection pools and the account's endpoint list, so the
 * process makes one (`cosmosClientFor`, called once by lib/services.ts) and every invocation
 * reuses it.
 *
 * In Azure the client authenticates with Entra ID (a managed identity): no account keys.
 * Locally it talks to the stand-in (`dev/cosmos.ts`) or the official emulator with the
 * emulator's published key, and trusts ONLY the local server's certificate through an
 * `https.Agent({ ca })` handed to the SDK (`agent` in `CosmosClientOptions`). TLS
 * verification is never turned off, for this client or anything else in the process.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import {
  Constants,
  CosmosClient,
  CosmosDiagnostics,
  ErrorResponse,
  PartitionKeyDefinitionVersion,
  PartitionKeyKind,
  type CompositePath,
  type Container,
  type ContainerDefinition,
  type CosmosClientOptions,
  type CosmosHeaders,
  type Database,
  type Plugin,
  type PluginConfig,
} from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import { DEFAULT_COSMOS_REQUEST_TIMEOUT_MS } from '../config.js';
import { DependencyUnavailableError, type UnavailableReason } from '../errors.js';
import { azureCredential as lazyAzureCredential } from '../identity.js';
import { isLoopbackHost } from '../loopback.js';
import { recordCosmosRequest } from '../observability/instruments.js';
import { inSpan, SpanKind } from '../observability/tracing.js';

/**
 * The key every Cosmos DB emulator accepts, published by Microsoft
 * (https://learn.microsoft.com/azure/cosmos-db/emulator). Not a secret; local use only.
 */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CreateCosmosClientOptions {
  /** `https://<account>.documents.azure.com:443/`, or the local server. */
  endpoint: string;
  /** Account key: only for the local emulator / stand-in. Exactly one of key and credential. */
  key?: string;
  /** Entra ID credential (Azure). Exactly one of key and credential. */
  credential?: TokenCredential;
  /**
   * PEM certificate(s) to trust instead of the public CAs: the local server's self-signed
   * certificate. Every other certificate is then refused.
   */
  caCertPem?: string;
  /** How long one request may wait for its answer (default 5 s; the SDK's own is 60 s). */
  requestTimeoutMs?: number | undefined;
  /** Redirect to other regions of a geo-replicated account (default off; see below). */
  endpointDiscovery?: boolean | undefined;
}

/**
 * Bounds each operation so an unavailable Cosmos DB fails fast (@azure/cosmos 4.x sources):
 * - `requestTimeout` aborts one HTTP request and throws `TimeoutError`
 *   (src/request/RequestHandler.ts).
 * - With endpoint discovery on, a timed-out read or query is retried up to 120 times with no
 *   pause and a refused connection (`REQUEST_SEND_ERROR`) up to 120 times a second apart
 *   (src/retry/timeoutFailoverRetryPolicy.ts, endpointDiscoveryRetryPolicy.ts,
 *   retryUtility.ts): minutes, not seconds. Off, each failure surfaces after one attempt.
 *   Turn it on (COSMOS_ENDPOINT_DISCOVERY) only for a geo-replicated account whose readers
 *   should fail over to another region and can wait for it.
 * - Throttling (429) is retried by the SDK for at most `maxWaitTimeInSeconds` in total
 *   (src/retry/resourceThrottleRetryPolicy.ts; default 30 s), here 5 s: the pipeline retries
 *   on its own (lib/telemetry/retry.ts) and an API caller gets a 503 with Retry-After.
 */
function connectionPolicyFor(options: CreateCosmosClientOptions) {
  return {
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_COSMOS_REQUEST_TIMEOUT_MS,
    enableEndpointDiscovery: options.endpointDiscovery ?? false,
    retryOptions: {
      maxRetryAttemptCount: 9,
      fixedRetryIntervalInMilliseconds: 0,
      maxWaitTimeInSeconds: 5,
    },
  };
}

/** A new client from options (the app's comes from settings: `cosmosClientFor`). */
export function createCosmosClient(options: CreateCosmosClientOptions): CosmosClient {
  if (!URL.canParse(options.endpoint)) throw new Error('Cosmos endpoint: expected a URL');
  const url = new URL(options.endpoint);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error('Cosmos endpoint: expected an https URL');
  }
  const hasKey = options.key !== undefined && options.key !== '';
  const hasCredential = options.credential !== undefined;
  if (hasKey === hasCredential) {
    throw new Error('Cosmos client: give exactly one of key (local) or credential (Azure)');
  }
  if (url.protocol === 'http:') {
    // Plain HTTP only to a server on this machine, and never with Entra tokens.
    if (!isLoopbackHost(url.hostname) || hasCredential) {
      throw new Error(
        'Cosmos endpoint: plain http is allowed only to a loopback server with a key',
      );
    }
    if (options.caCertPem !== undefined) {
      throw new Error('Cosmos client: a pinned certificate needs an https endpoint');
    }
  }
  let agent: HttpsAgent | undefined;
  if (options.caCertPem !== undefined) {
    try {
      new X509Certificate(options.caCertPem);
    } catch {
      throw new Error('Cosmos client: the pinned certificate is not a PEM certificate');
    }
    // `ca` replaces the public CA list: only this certificate is trusted. Host names are
    // still checked against its subjectAltName.
    agent = new HttpsAgent({ ca: options.caCertPem, keepAlive: true, minVersion: 'TLSv1.2' });
  }
  const clientOptions: CosmosClientOptions & { plugins: PluginConfig[] } = {
    endpoint: options.endpoint,
    ...(hasKey ? { key: options.key } : { aadCredentials: options.credential }),
    ...(agent ? { agent } : {}),
    connectionPolicy: connectionPolicyFor(options),
    userAgentSuffix: 'sis',
    plugins: [{ on: 'request', plugin: requestMetricsPlugin }],
  };
  return new CosmosClient(clientOptions);
}

/**
 * Records every network request's request charge, time and throttling (sis.cosmos.*), in a
 * client span of its own (a child of the batch or request that made it). A
 * `request` plugin runs once per HTTP request, retries included, around the SDK's own
 * request (Azure/azure-sdk-for-js sdk/cosmosdb/cosmos src/request/RequestHandler.ts
 * `executeRequest` → `executePlugins(..., PluginOn.request)`); `plugins` is a client option
 * the SDK marks @hidden, read by src/ClientContext.ts into each request context. An answer of
 * 400 or more arrives as a thrown error carrying `code` and `headers`.
 */
const requestMetricsPlugin: Plugin<unknown> = (context, _diagnosticNode, next) => {
  const operation = `${context.resourceType ?? 'unknown'}.${context.operationType ?? 'unknown'}`;
  return inSpan(
    `cosmos ${operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'azure.cosmosdb', 'db.operation.name': operation },
    },
    () => measuredRequest(operation, context, next),
  );
};

async function measuredRequest(
  operation: string,
  context: Parameters<Plugin<unknown>>[0],
  next: Parameters<Plugin<unknown>>[2],
): Promise<Awaited<ReturnType<Plugin<unknown>>>> {
  const startedMs = performance.now();
  const charge = (headers: CosmosHeaders | undefined) => {
    const value = Number(headers?.[Constants.HttpHeaders.RequestCharge]);
    return Number.isFinite(value) ? value : undefined;
  };
  try {
    const response = await next(context);
    recordCosmosRequest(
      operation,
      charge(response.headers),
      (performance.now() - startedMs) / 1000,
      false,
    );
    return response;
  } catch (error) {
    const failure = error as { code?: unknown; headers?: CosmosHeaders };
    recordCosmosRequest(
      operation,
      charge(failure.headers),
      (performance.now() - startedMs) / 1000,
      failure.code === 429,
    );
    throw error;
  }
}

const networkCodes = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * An error of a Cosmos DB operation as a `DependencyUnavailableError` when it means Cosmos
 * is unavailable: a timeout, a refused or dropped connection, 503, 408, or throttling left
 * after the SDK's retries. Anything else (404, 409, 412, a bad query) is returned unchanged.
 * The SDK attaches `diagnostics` to every error an operation throws
 * (src/utils/diagnostics.ts `withDiagnostics`), which tells its errors from other SDKs'.
 */
export function cosmosFailure(error: unknown): DependencyUnavailableError | undefined {
  if (!(error instanceof Error)) return undefined;
  if (!((error as { diagnostics?: unknown }).diagnostics instanceof CosmosDiagnostics)) {
    return undefined;
  }
  const code = (error as { code?: unknown }).code;
  const unavailable = (reason: UnavailableReason) =>
    new DependencyUnavailableError('cosmos', { reason, cause: error });
  if (error.name === 'TimeoutError' || code === 408) return unavailable('timed out');
  if (error instanceof ErrorResponse && code === 503) return unavailable('unreachable');
  if (error instanceof ErrorResponse && code === 429) return unavailable('throttled');
  if (typeof code === 'string' && networkCodes.has(code)) return unavailable('unreachable');
  return undefined;
}

/** How the app reaches Cosmos DB; built from app settings by whoever owns them. */
export type CosmosSettings = (
  | {
      /** Azure: Entra ID through a managed identity, never a key. */
      mode: 'azure';
      endpoint: string;
      /**
       * Client id of a user-assigned managed identity. Without it `DefaultAzureCredential`
       * is used: the system-assigned identity in Azure, a developer's sign-in elsewhere.
       */
      managedIdentityClientId?: string | undefined;
    }
  | {
      /** The local stand-in or the official emulator. */
      mode: 'local';
      endpoint: string;
      /** Default: the emulator's well-known key. */
      key?: string | undefined;
      /** The local server's certificate, as PEM text or a file (`caCertPem` wins). */
      caCertPem?: string | undefined;
      caCertFile?: string | undefined;
    }
) & {
  /** See `CreateCosmosClientOptions`. */
  requestTimeoutMs?: number | undefined;
  endpointDiscovery?: boolean | undefined;
};

/** The credential used in Azure mode (`@azure/identity` loads at the first token request). */
export function azureCredential(managedIdentityClientId?: string): TokenCredential {
  return lazyAzureCredential(managedIdentityClientId);
}

/** Client options for settings; reads the certificate file, creates the credential. */
function clientOptionsFor(settings: CosmosSettings): CreateCosmosClientOptions {
  const bounds = {
    requestTimeoutMs: settings.requestTimeoutMs,
    endpointDiscovery: settings.endpointDiscovery,
  };
  if (settings.mode === 'azure') {
    if (new URL(settings.endpoint).protocol !== 'https:') {
      throw new Error('Cosmos endpoint: Azure mode needs an https URL');
    }
    return {
      endpoint: settings.endpoint,
      credential: azureCredential(settings.managedIdentityClientId),
      ...bounds,
    };
  }
  const caCertPem =
    settings.caCertPem ??
    (settings.caCertFile ? readFileSync(settings.caCertFile, 'utf8') : undefined);
  return {
    endpoint: settings.endpoint,
    key: settings.key ?? COSMOS_EMULATOR_KEY,
    ...(caCertPem !== undefined ? { caCertPem } : {}),
    ...bounds,
  };
}

/**
 * A client for settings (lib/services.ts makes the app's one per process: a client holds
 * connection pools and the account's endpoint list, so every invocation reuses it).
 */
export function cosmosClientFor(settings: CosmosSettings): CosmosClient {
  return createCosmosClient(clientOptionsFor(settings));
}

/** A container the app needs. */
export interface CosmosContainerSpec {
  readonly id: string;
  /** A top-level path such as `/equipmentId`. */
  readonly partitionKeyPath: string;
  /**
   * Seconds an item lives after its last write; -1 turns TTL on without a default (items
   * set their own `ttl`); omitted: TTL off. Overridable per call.
   */
  readonly defaultTtl?: number;
  /** Composite indexes, needed for ORDER BY over more than one field. */
  readonly compositeIndexes?: readonly (readonly CompositePath[])[];
}

/** Default lifetime of a dead-letter record: 30 days. */
export const DEFAULT_DEAD_LETTER_TTL_SECONDS = 30 * 24 * 60 * 60;

/** How long a delivery log entry stays after its last attempt: 90 days. */
export const DELIVERY_LOG_TTL_SECONDS = 90 * 24 * 60 * 60;

/**
 * Every container of the telemetry pipeline. Add new ones here; bicep must declare the same
 * (in Azure, Entra data-plane roles cannot create containers, so this only reads them there).
 */
export const telemetryContainers = [
  // TTL on without a default: each aggregate carries its own `ttl` (AGGREGATE_TTL_DAYS).
  { id: 'aggregates', partitionKeyPath: '/equipmentId', defaultTtl: -1 },
  {
    id: 'alerts',
    partitionKeyPath: '/equipmentId',
    // The alert list pages newest first, ties broken by id.
    compositeIndexes: [
      [
        { path: '/raisedAt', order: 'descending' },
        { path: '/id', order: 'descending' },
      ],
    ],
  },
  {
    id: 'deadLetters',
    partitionKeyPath: '/equipmentId',
    defaultTtl: DEFAULT_DEAD_LETTER_TTL_SECONDS,
    compositeIndexes: [
      [
        { path: '/enqueuedTime', order: 'descending' },
        { path: '/id', order: 'descending' },
      ],
    ],
  },
  {
    // The delivery log (lib/fanout/deliveryLog.ts): one partition per alert, listed
    // newest first by first attempt, ties broken by id.
    id: 'deliveries',
    partitionKeyPath: '/alertId',
    defaultTtl: DELIVERY_LOG_TTL_SECONDS,
    compositeIndexes: [
      [
        { path: '/firstAttemptAt', order: 'descending' },
        { path: '/id', order: 'descending' },
      ],
    ],
  },
  // Partition states never expire; batch partials carry their own `ttl`.
  { id: 'pipelineState', partitionKeyPath: '/pk', defaultTtl: -1 },
] as const satisfies readonly CosmosContainerSpec[];

export type TelemetryContainerId = (typeof telemetryContainers)[number]['id'];

export interface EnsureContainersOptions<Id extends string> {
  /** Default TTL per container (seconds, or -1), overriding the spec's; `null` turns it off. */
  defaultTtl?: Partial<Record<Id, number | null>>;
}

export interface CosmosStore<Id extends string> {
  database: Database;
  containers: Record<Id, Container>;
}

function checkTtl(id: string, ttl: number | undefined): void {
  if (ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl === 0 || ttl < -1 || ttl > 2_147_483_647) {
    throw new Error(`Cosmos container ${id}: default TTL must be -1 or 1..2147483647 seconds`);
  }
}

function statusOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** `create...IfNotExists`, tolerating another instance creating it at the same moment. */
async function createIfMissing<T>(create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
    return create();
  }
}

function sameCompositeIndexes(
  actual: readonly (readonly CompositePath[])[] | undefined,
  wanted: readonly (readonly CompositePath[])[] | undefined,
): boolean {
  const normalise = (indexes: readonly (readonly CompositePath[])[] | undefined) =>
    JSON.stringify(
      (indexes ?? []).map((paths) =>
        paths.map((p) => ({ path: p.path, order: p.order.toLowerCase() })),
      ),
    );
  return normalise(actual) === normalise(wanted);
}

/**
 * Creates the database and each container when missing. An existing container with another
 * partition key is an error (a partition key cannot change); a different default TTL or
 * composite index list is brought in line (on the local stand-in that replacement empties
 * the container; see dev/cosmos.ts). Safe to run at every start and from several instances
 * at once.
 */
export async function ensureContainers<const Spec extends CosmosContainerSpec>(
  client: CosmosClient,
  databaseId: string,
  specs: readonly Spec[],
  options: EnsureContainersOptions<Spec['id']> = {},
): Promise<CosmosStore<Spec['id']>> {
  const overrides: Partial<Record<string, number | null>> = options.defaultTtl ?? {};
  const wanted = specs.map((spec) => {
    const override = overrides[spec.id];
    const defaultTtl = override === undefined ? spec.defaultTtl : (override ?? undefined);
    checkTtl(spec.id, defaultTtl);
    if (!/^\/[^/]+$/.test(spec.partitionKeyPath)) {
      throw new Error(`Cosmos container ${spec.id}: partition key must be one top-level path`);
    }
    return { spec, defaultTtl };
  });
  const { database } = await createIfMissing(() =>
    client.databases.createIfNotExists({ id: databaseId }),
  );
  const entries = await Promise.all(
    wanted.map(async ({ spec, defaultTtl }): Promise<[Spec['id'], Container]> => {
      const definition: ContainerDefinition = {
        id: spec.id,
        partitionKey: {
          paths: [spec.partitionKeyPath],
          kind: PartitionKeyKind.Hash,
          version: PartitionKeyDefinitionVersion.V2,
        },
        ...(defaultTtl !== undefined ? { defaultTtl } : {}),
        ...(spec.compositeIndexes
          ? {
              indexingPolicy: {
                compositeIndexes: spec.compositeIndexes.map((paths) =>
                  paths.map((p) => ({ ...p })),
                ),
              },
            }
          : {}),
      };
      const { container, resource } = await createIfMissing(() =>
        database.containers.createIfNotExists(definition),
      );
      if (!resource) throw new Error(`Cosmos container ${spec.id}: no definition returned`);
      const paths = resource.partitionKey?.paths ?? [];
      if (paths.length !== 1 || paths[0] !== spec.partitionKeyPath) {
        throw new Error(
          `Cosmos container ${spec.id} exists with partition key ${paths.join(',') || '(none)'}, ` +
            `not ${spec.partitionKeyPath}; a partition key cannot change: move the data to a new container`,
        );
      }
      const ttlDiffers = resource.defaultTtl !== defaultTtl;
      const indexesDiffer = !sameCompositeIndexes(
        resource.indexingPolicy?.compositeIndexes,
        spec.compositeIndexes,
      );
      if (ttlDiffers || indexesDiffer) {
        // An undefined defaultTtl is left out of the JSON body: TTL off.
        await container.replace({
          ...resource,
          defaultTtl,
          indexingPolicy: {
            ...resource.indexingPolicy,
            compositeIndexes: (spec.compositeIndexes ?? []).map((p) => p.map((i) => ({ ...i }))),
          },
        });
      }
      return [spec.id, container];
    }),
  );
  return {
    database,
    containers: Object.fromEntries(entries) as Record<Spec['id'], Container>,
  };
}

/** The telemetry pipeline's database and containers (`telemetryContainers`). */
export function ensureTelemetryContainers(
  client: CosmosClient,
  databaseId: string,
  options: EnsureContainersOptions<TelemetryContainerId> = {},
): Promise<CosmosStore<TelemetryContainerId>> {
  return ensureContainers(client, databaseId, telemetryContainers, options);
}

/**
 * Health check for `/api/health`: reads the database; throws when Cosmos cannot be reached,
 * refuses the request, or the database does not exist.
 */
export async function checkCosmos(
  client: CosmosClient,
  databaseId: string,
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  const response = await client
    .database(databaseId)
    .read(options.abortSignal ? { abortSignal: options.abortSignal } : {});
  if (response.statusCode >= 300 || response.resource?.id !== databaseId) {
    throw new Error(`Cosmos database ${databaseId} is not readable (${response.statusCode})`);
  }
}
