/**
 * The app's MySQL pool (`createAppPool`; lib/services.ts makes one per process, reused by
 * every invocation, since a Functions instance serves many invocations and a connection per
 * call would exhaust the server). Statements are always parametrised (`execute`/`query` with values).
 *
 * Two ways to reach the server:
 * - `MYSQL_URL` (local, or any server with a password in the URL);
 * - `MYSQL_HOST` + `MYSQL_USER` + `MYSQL_DATABASE` (Azure Database for MySQL): no password;
 *   each new connection signs in with a Microsoft Entra access token of the managed identity
 *   (or DefaultAzureCredential), over TLS verified against the public CAs. Tokens live about
 *   an hour and are checked only when a connection signs in, so open connections keep
 *   working and every new one gets a token that is fresh for at least a few minutes.
 *
 * The app's pool is bounded (`boundPool`): a server that refuses, hangs or vanishes costs a
 * request at most MYSQL_ACQUIRE_TIMEOUT_MS plus MYSQL_QUERY_TIMEOUT_MS, and the failure comes
 * out as a `DependencyUnavailableError` (503 at the HTTP edge). Scripts (migrations, seeding)
 * use unbounded pools: a long DDL statement or a migration lock wait is not an outage.
 */
import { observeMysqlPool } from '../observability/instruments.js';
import { createPool, type Pool, type PoolOptions } from 'mysql2/promise';
import type { AuthPlugin, Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ConfigError, mysqlTimeoutDefaults, type SectionConfig } from '../config.js';
import { DependencyUnavailableError } from '../errors.js';
import { azureCredential } from '../identity.js';

/** The scope of access tokens for Azure Database for MySQL (and PostgreSQL). */
export const MYSQL_ENTRA_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/** Where the pool connects and how it signs in, from the `mysql` section. */
export type MysqlTarget =
  | { mode: 'password'; url: string }
  | {
      mode: 'entra';
      host: string;
      port: number;
      user: string;
      database: string;
      /** Client id of a user-assigned managed identity; absent: DefaultAzureCredential. */
      managedIdentityClientId?: string | undefined;
    };

type TimeoutSetting = keyof typeof mysqlTimeoutDefaults;

/** The `mysql` section; scripts and tests may leave the timeouts out to get their defaults. */
export type MysqlPoolConfig = Omit<SectionConfig<'mysql'>, TimeoutSetting> &
  Partial<Pick<SectionConfig<'mysql'>, TimeoutSetting>>;

/** Resolves the section to one target; exactly one of MYSQL_URL and MYSQL_HOST is set. */
export function mysqlTarget(config: MysqlPoolConfig): MysqlTarget {
  if (config.MYSQL_URL !== undefined && config.MYSQL_HOST === undefined) {
    return { mode: 'password', url: config.MYSQL_URL };
  }
  if (
    config.MYSQL_URL === undefined &&
    config.MYSQL_HOST !== undefined &&
    config.MYSQL_USER !== undefined &&
    config.MYSQL_DATABASE !== undefined
  ) {
    return {
      mode: 'entra',
      host: config.MYSQL_HOST,
      port: config.MYSQL_PORT ?? 3306,
      user: config.MYSQL_USER,
      database: config.MYSQL_DATABASE,
      managedIdentityClientId: config.MYSQL__clientId,
    };
  }
  throw new ConfigError([
    'MYSQL_URL: set either MYSQL_URL or MYSQL_HOST with MYSQL_USER and MYSQL_DATABASE',
  ]);
}

/**
 * The server asks Entra users for their token through `mysql_clear_password`: send it only
 * inside TLS, never in the clear.
 */
const clearPasswordOverTls: AuthPlugin =
  ({ connection }) =>
  () => {
    if (!connection.config.ssl) {
      throw new Error('MySQL asked for a clear-text password on a connection without TLS');
    }
    return Buffer.from(`${connection.config.password ?? ''}\0`);
  };

/** Pool options for a configuration; dates come back as JS `Date` in UTC. */
export function poolOptions(config: MysqlPoolConfig): PoolOptions {
  const target = mysqlTarget(config);
  const common: PoolOptions = {
    connectionLimit: config.MYSQL_POOL_SIZE,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    // DATE columns stay 'YYYY-MM-DD' text; DATETIME columns come back as UTC Dates.
    dateStrings: ['DATE'],
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    // Bounds TCP connect, handshake and sign-in together: mysql2 clears this timer only when
    // the handshake command ends (sidorares/node-mysql2 lib/base/connection.js).
    connectTimeout:
      config.MYSQL_CONNECT_TIMEOUT_MS ?? mysqlTimeoutDefaults.MYSQL_CONNECT_TIMEOUT_MS,
  };
  // Verified against Node's CA list (Azure Database for MySQL's roots are public CAs).
  const tls = { ssl: { minVersion: 'TLSv1.2', rejectUnauthorized: true } } as const;
  if (target.mode === 'entra') {
    return {
      ...common,
      host: target.host,
      port: target.port,
      user: target.user,
      database: target.database,
      // The password of each new connection is a fresh access token (createTokenPool).
      ...tls,
      authPlugins: { mysql_clear_password: clearPasswordOverTls },
    };
  }
  const url = new URL(target.url);
  return {
    ...common,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
    ...(config.MYSQL_TLS ? tls : {}),
  };
}

export interface TokenSourceOptions {
  scope?: string;
  /** Get a new token this long before the current one expires. Default 5 minutes. */
  refreshMarginMs?: number;
  /** The clock (a seam for tests). */
  now?: () => number;
}

/**
 * Access tokens for MySQL from a credential, cached until shortly before they expire (or
 * until the credential says to refresh), one request at a time. A failed refresh falls back
 * to the current token while it is still valid.
 */
export function tokenSource(
  credential: TokenCredential,
  options: TokenSourceOptions = {},
): () => Promise<string> {
  const scope = options.scope ?? MYSQL_ENTRA_SCOPE;
  const margin = options.refreshMarginMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  let current: AccessToken | undefined;
  let pending: Promise<string> | undefined;
  const refreshAt = (token: AccessToken) =>
    Math.min(token.refreshAfterTimestamp ?? Infinity, token.expiresOnTimestamp - margin);
  return () => {
    if (current && now() < refreshAt(current)) return Promise.resolve(current.token);
    pending ??= credential
      .getToken(scope)
      .then(
        (token) => {
          if (!token) throw new Error(`No access token for ${scope}`);
          current = token;
          return token.token;
        },
        (error: unknown) => {
          if (current && now() < current.expiresOnTimestamp) return current.token;
          throw error;
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}

/** The core pool's fields this module relies on (mysql2 copies them per new connection). */
type CorePoolInternals = CorePool & { config: { connectionConfig: { password?: string } } };

/**
 * A pool whose new connections sign in with `token()` as their password. Every connection
 * request first awaits the token (a cached value, except shortly before expiry) and puts it
 * into the pool's connection settings, which mysql2 copies into each connection it opens.
 */
export function createTokenPool(options: PoolOptions, token: () => Promise<string>): Pool {
  const pool = createPool({ ...options, password: '' });
  const core = pool.pool as CorePoolInternals;
  const getConnection = core.getConnection.bind(core);
  core.getConnection = (callback) => {
    token().then(
      (value) => {
        core.config.connectionConfig.password = value;
        getConnection(callback);
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), undefined as never);
      },
    );
  };
  return pool;
}

/** The credential of the Entra mode: the user-assigned identity, or DefaultAzureCredential. */
export function mysqlCredential(target: Extract<MysqlTarget, { mode: 'entra' }>): TokenCredential {
  return target.managedIdentityClientId
    ? azureCredential(target.managedIdentityClientId)
    : azureCredential();
}

/** A new pool for a configuration (the app's is `createAppPool`; scripts make their own). */
export function createMysqlPool(config: MysqlPoolConfig, credential?: TokenCredential): Pool {
  const target = mysqlTarget(config);
  if (target.mode === 'password') return createPool(poolOptions(config));
  return createTokenPool(poolOptions(config), tokenSource(credential ?? mysqlCredential(target)));
}

/** How long the app's pool waits (milliseconds) before it calls MySQL unavailable. */
export interface PoolBounds {
  /** For a connection: queueing behind busy ones, or connecting and signing in. */
  acquireMs: number;
  /** For the answer to one command (statement, commit, rollback, ping, quit). */
  commandMs: number;
}

/** Errors mysql2 reports when the server did not answer in time. */
const timeoutCodes = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT']);
/** Errors mysql2 reports when the server cannot be reached or dropped the connection. */
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
]);
/** The core pool's errors, which carry no code (mysql2 lib/base/pool.js). */
const poolMessages = new Set([
  'Pool is closed.',
  'Queue limit reached.',
  'No connections available.',
]);

/**
 * A MySQL error as a `DependencyUnavailableError` when it means the server is unavailable
 * (refused, dropped, timed out, or the pool closed); any other error (a constraint, bad SQL)
 * unchanged.
 */
export function mysqlFailure(error: Error): Error {
  if (error instanceof DependencyUnavailableError) return error;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  if (typeof code === 'string' && timeoutCodes.has(code)) {
    return new DependencyUnavailableError('mysql', {
      reason: 'timed out',
      cause: error,
    });
  }
  // `fatal`: mysql2 marks every error after which the connection is unusable (network,
  // protocol, a command on a closed connection).
  if (
    (typeof code === 'string' && unreachableCodes.has(code)) ||
    fatal === true ||
    poolMessages.has(error.message)
  ) {
    return new DependencyUnavailableError('mysql', {
      reason: 'unreachable',
      cause: error,
    });
  }
  return error;
}

/** The parts of a core (callback) connection the command bound relies on. */
interface CoreCommand {
  onResult?: ((error: Error | null, ...results: unknown[]) => void) | undefined;
}
interface CoreConnectionInternals {
  addCommand(command: CoreCommand): CoreCommand;
  stream: { destroy(error?: Error): void };
}

/**
 * Gives every command of a connection `commandMs` to answer. mysql2's own per-query `timeout`
 * only calls back with an error and leaves the connection waiting with the command still in
 * flight, so a rollback queued behind it would hang as long as the server does (mysql2 issue
 * 185: timeouts are a client-side helper, the server keeps running the statement). Here the
 * socket is destroyed instead: mysql2 then fails the command and everything queued behind it
 * with that error, emits `error`, and the pool drops the connection (lib/base/connection.js
 * `_handleNetworkError` → `_notifyError`; lib/pool_connection.js). A server that resumes later
 * may still execute what it had already received, so a write that timed out may have been
 * applied (README, "When a dependency is down").
 */
function boundCommands(connection: CoreConnectionInternals, commandMs: number): void {
  const addCommand = connection.addCommand.bind(connection);
  connection.addCommand = (command) => {
    const onResult = command.onResult;
    if (!onResult) return addCommand(command);
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      timer = undefined;
      const error = new Error(`MySQL did not answer within ${commandMs} ms`);
      connection.stream.destroy(Object.assign(error, { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }));
    }, commandMs);
    command.onResult = (error, ...results) => {
      clearTimeout(timer);
      timer = undefined;
      onResult.call(command, error ? mysqlFailure(error) : error, ...results);
    };
    return addCommand(command);
  };
}

/** The core pool's callback-style `getConnection`. */
type GetConnection = CorePool['getConnection'];

/**
 * Bounds a pool: a caller waits at most `acquireMs` for a connection (mysql2 has no acquire
 * timeout: sidorares/node-mysql2 issue 673; `waitForConnections` queues forever), and every
 * command on its connections at most `commandMs`. Failures that mean "MySQL is unavailable"
 * reject with `DependencyUnavailableError`. The deadline is armed once, at the caller's
 * request: the pool re-enters `getConnection` for queued callers when a connection dies, and
 * a connection that arrives after the caller gave up goes straight back to the pool.
 */
export function boundPool(pool: Pool, bounds: PoolBounds): Pool {
  const core = pool.pool;
  const getConnection: GetConnection = core.getConnection.bind(core);
  core.getConnection = (callback) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const error = new Error(`No MySQL connection within ${bounds.acquireMs} ms`);
      callback(
        new DependencyUnavailableError('mysql', {
          reason: 'timed out',
          cause: error,
        }),
        undefined as never,
      );
    }, bounds.acquireMs);
    getConnection((error, connection) => {
      if (settled) {
        if (!error) connection.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error) callback(mysqlFailure(error), undefined as never);
      else callback(null, connection);
    });
  };
  core.on('connection', (connection) => {
    boundCommands(connection as unknown as CoreConnectionInternals, bounds.commandMs);
  });
  return pool;
}

/**
 * Counts a pool's connections in use and callers waiting for one, for the gauges, from the
 * core pool's `acquire` and `release` events and around its `getConnection` (mysql2 keeps its
 * own queue in private fields; these are its public events: sidorares/node-mysql2
 * lib/base/pool.js emits `acquire` when it hands a connection out, `release` when it gets one
 * back).
 */
function observePool(pool: Pool, name: string): void {
  const core = pool.pool;
  let inUse = 0;
  let waiting = 0;
  core.on('acquire', () => inUse++);
  core.on('release', () => (inUse = Math.max(0, inUse - 1)));
  const getConnection: GetConnection = core.getConnection.bind(core);
  core.getConnection = (callback) => {
    waiting++;
    getConnection((error, connection) => {
      waiting--;
      callback(error, connection);
    });
  };
  observeMysqlPool(name, { inUse: () => inUse, waiting: () => waiting });
}

/**
 * The app's pool: bounded by the MYSQL_*_TIMEOUT_MS settings, every session in UTC and strict
 * SQL. lib/services.ts makes one per process.
 */
export function createAppPool(
  config: SectionConfig<'mysql'>,
  /** Which pool this is in the sis.mysql.pool.* gauges: `primary` or `replica`. */
  name = 'primary',
): Pool {
  const pool = boundPool(createMysqlPool(config), {
    acquireMs: config.MYSQL_ACQUIRE_TIMEOUT_MS,
    commandMs: config.MYSQL_QUERY_TIMEOUT_MS,
  });
  observePool(pool, name);
  // Every session speaks UTC and strict SQL so stored values never depend on server defaults.
  pool.on('connection', (connection) => {
    // mysql2's promise pool re-emits the core (callback) connection here, whatever its typings say.
    (connection as unknown as CorePoolConnection).query(
      "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
      (error) => {
        if (error) console.error(`MySQL session setup failed: ${error.message}`);
      },
    );
  });
  return pool;
}

/**
 * The `mysql` section pointed at the read replica (MYSQL_READ_URL or MYSQL_READ_HOST), or
 * undefined when none is set: the replica is reached as the primary is, with the same
 * port, user, database, sign-in, TLS, pool size and timeouts.
 */
export function replicaConfig(config: SectionConfig<'mysql'>): SectionConfig<'mysql'> | undefined {
  if (config.MYSQL_READ_URL !== undefined) return { ...config, MYSQL_URL: config.MYSQL_READ_URL };
  if (config.MYSQL_READ_HOST !== undefined)
    return { ...config, MYSQL_HOST: config.MYSQL_READ_HOST };
  return undefined;
}
