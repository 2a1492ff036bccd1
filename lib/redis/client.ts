/**
 * The app's one Redis connection per process (node-redis): REDIS_URL locally (the private
 * `redis-server` of `npm start` and the tests, or any other), Azure Managed Redis in Azure,
 * signed in with a Microsoft Entra token of the app's managed identity over TLS, no access
 * keys (`@redis/entraid`, which renews the token before it expires and re-authenticates the
 * open connection: redis/node-redis packages/entraid/README.md).
 *
 * Redis holds nothing that must not be lost (rate-limit counters, cached copies), so the
 * client never queues commands while disconnected (`disableOfflineQueue`): a command then
 * fails at once, and every command has a deadline to be sent (`REDIS_TIMEOUT_MS`), so callers
 * fail open or fall through to MySQL quickly instead of waiting for a server that is gone.
 * The deadline ends once the command is written: node-redis removes it then
 * (packages/client/lib/client/commands-queue.ts, redis/node-redis#3008), so a command sent to
 * a server that stops answering waits until the connection fails. The client reconnects by
 * itself in the background.
 */
import { createClient, type RedisClientType } from 'redis';
import type { SectionConfig } from '../config.js';
import { DependencyUnavailableError } from '../errors.js';
import { azureCredential } from '../identity.js';

/** A connected (or reconnecting) node-redis client with the default modules. */
export type RedisClient = RedisClientType;

export interface RedisConnection {
  /**
   * The client, created at the first call and given up to REDIS_TIMEOUT_MS to connect;
   * when Redis is down it is returned anyway, reconnecting, and its commands fail at once.
   */
  client(): Promise<RedisClient>;
  /** The key prefix of REDIS_KEY_PREFIX: every key the app writes starts with it. */
  readonly keyPrefix: string;
  /** How long one command may wait to be sent (REDIS_TIMEOUT_MS; not a reply deadline). */
  readonly timeoutMs: number;
  /** Closes the connection at once; the next `client()` opens a new one. */
  close(): Promise<void>;
}

/** Longest pause between two reconnection attempts. */
const maxReconnectDelayMs = 5_000;

/** Credentials of the app's Entra identity for Azure Managed Redis (loaded on first use). */
async function entraCredentials(settings: SectionConfig<'redis'>) {
  // Imported here: MSAL is heavy and only needed in Azure (as lib/identity.ts explains).
  const { EntraIdCredentialsProviderFactory, REDIS_SCOPE_DEFAULT } = await import('@redis/entraid');
  // The token's `oid` is the identity's object id, the user the access policy assignment in
  // bicep/resources.bicep names (the factory's default mapper for this flow; see
  // redis/node-redis packages/entraid/lib/entra-id-credentials-provider-factory.ts).
  return EntraIdCredentialsProviderFactory.createForDefaultAzureCredential({
    credential: azureCredential(settings.REDIS__clientId),
    scopes: REDIS_SCOPE_DEFAULT,
    tokenManagerConfig: { expirationRefreshRatio: 0.8 },
  });
}

/** A connection built from the `redis` settings section; nothing connects until `client()`. */
export function redisConnection(
  settings: SectionConfig<'redis'>,
  log: (line: string) => void = (line) => {
    console.warn(`[redis] ${line}`);
  },
): RedisConnection {
  let opened: Promise<RedisClient> | undefined;
  let current: RedisClient | undefined;
  const timeoutMs = settings.REDIS_TIMEOUT_MS;

  async function open(): Promise<RedisClient> {
    const socket = {
      connectTimeout: timeoutMs,
      // Back off to every 5 s; never give up (an outage ends, and the app keeps serving).
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, maxReconnectDelayMs),
    };
    const client: RedisClient = settings.REDIS__hostName
      ? createClient({
          socket: {
            ...socket,
            host: settings.REDIS__hostName,
            port: settings.REDIS_PORT,
            tls: true,
          },
          credentialsProvider: await entraCredentials(settings),
          disableOfflineQueue: true,
          commandOptions: { timeout: timeoutMs },
        })
      : createClient({
          url: settings.REDIS_URL,
          socket,
          disableOfflineQueue: true,
          commandOptions: { timeout: timeoutMs },
        });
    current = client;
    // One line when Redis goes away and one when it is back, not one per reconnect attempt;
    // without a listener an 'error' event would end the process.
    let down = false;
    client.on('error', (error: unknown) => {
      if (down) return;
      down = true;
      log(
        `Redis unavailable, reconnecting: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    client.on('ready', () => {
      if (down) log('Redis is back.');
      down = false;
    });
    const connected = client.connect().then(
      () => undefined,
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connected,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return client;
  }

  return {
    keyPrefix: settings.REDIS_KEY_PREFIX,
    timeoutMs,
    client() {
      opened ??= open();
      return opened;
    },
    async close() {
      const client = current;
      opened = undefined;
      current = undefined;
      if (client?.isOpen) client.destroy();
      await Promise.resolve();
    },
  };
}

/**
 * Turns a failed Redis command into the dependency error the rest of the app understands
 * (logged with its cause, answered as 503 where Redis is needed at all).
 */
export function redisUnavailable(error: unknown): DependencyUnavailableError {
  if (error instanceof DependencyUnavailableError) return error;
  const timedOut = error instanceof Error && /timeout|timed out/i.test(error.message);
  return new DependencyUnavailableError('redis', {
    reason: timedOut ? 'timed out' : 'unreachable',
    cause: error,
  });
}
