/**
 * A private MariaDB server for the local host and the tests: its own data folder, socket
 * and loopback port, started from the system's `mariadbd`. When the server binary is
 * missing it installs Debian's `mariadb-server` if running as root with apt, and otherwise
 * stops with a message saying what to install or which setting to use instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { findBinary, installDebianPackage, startServerProcess } from './serverProcess.js';

export interface MariaDbServer {
  /** `mysql://root@127.0.0.1:PORT/` (no database). */
  url: string;
  port: number;
  /** Shuts the server down cleanly (SIGTERM), killing it when that takes over 5 s. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL): for when there is no time left to stop it. */
  kill(): void;
}

/** Installs Debian's mariadb-server when allowed; throws with guidance when not. */
export function ensureMariaDbInstalled(log: (line: string) => void = console.log): {
  server: string;
  installDb: string;
} {
  const find = () => ({
    server: findBinary(['mariadbd', 'mysqld']),
    installDb: findBinary(['mariadb-install-db', 'mysql_install_db']),
  });
  let found = find();
  if (!found.server || !found.installDb) {
    installDebianPackage(
      'mariadb-server',
      'MariaDB is not installed. Install it (Debian/Ubuntu: sudo apt-get install mariadb-server) ' +
        'or set MYSQL_URL to an existing MySQL/MariaDB server.',
      log,
    );
    found = find();
  }
  const { server, installDb } = found;
  if (!server || !installDb)
    throw new Error('Installing mariadb-server failed; install it by hand or set MYSQL_URL.');
  return { server, installDb };
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const connection = await createConnection({
      host: '127.0.0.1',
      port,
      user: 'root',
      connectTimeout: 1000,
    });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * A server's part in binary log replication: a source writes a row-based binary log; a
 * replica is read-only for every user without SUPER (the app), and its replication threads
 * start only when told (`startReplication`). Each needs a server id unique among them.
 */
export type ReplicationRole =
  { role: 'source'; serverId: number } | { role: 'replica'; serverId: number };

function replicationArgs(replication: ReplicationRole | undefined, dataDir: string): string[] {
  if (!replication) return [];
  const id = `--server-id=${replication.serverId}`;
  if (replication.role === 'source')
    return [id, `--log-bin=${join(dataDir, 'binlog')}`, '--binlog-format=ROW'];
  return [id, '--read-only', '--skip-slave-start'];
}

/**
 * Makes `replica` replicate everything `source` writes from now on and from its binary log
 * so far (both started with their `ReplicationRole`): a replication user on the source,
 * then MariaDB's CHANGE MASTER TO with global transaction ids and START SLAVE
 * (mariadb.com/kb/en/change-master-to/, mariadb.com/kb/en/gtid/).
 */
export async function startReplication(
  source: MariaDbServer,
  replica: MariaDbServer,
): Promise<void> {
  const user = 'replicator';
  const password = randomBytes(12).toString('hex');
  await withServerConnection(source.url, async (connection) => {
    await connection.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [
      user,
      '127.0.0.1',
      password,
    ]);
    await connection.query('GRANT REPLICATION SLAVE ON *.* TO ?@?', [user, '127.0.0.1']);
  });
  await withServerConnection(replica.url, async (connection) => {
    await connection.query(
      "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = ?, " +
        'MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos',
      [source.port, user, password],
    );
    await connection.query('START SLAVE');
  });
}

/**
 * Waits until `replica` has applied everything `source` has written so far (MariaDB's
 * MASTER_GTID_WAIT on the source's binary log position); throws when it has not within
 * `timeoutSeconds` (replication stopped or broken).
 */
export async function waitForReplica(
  source: MariaDbServer,
  replica: MariaDbServer,
  timeoutSeconds = 30,
): Promise<void> {
  const position = await withServerConnection(source.url, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
    return String(rows[0]?.['pos'] ?? '');
  });
  const result = await withServerConnection(replica.url, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>(
      'SELECT MASTER_GTID_WAIT(?, ?) AS result',
      [position, timeoutSeconds],
    );
    return Number(rows[0]?.['result']);
  });
  if (result !== 0)
    throw new Error(`The replica did not reach ${position} within ${timeoutSeconds} s`);
}

/**
 * Starts (initialising on first use) a MariaDB server on 127.0.0.1:`port` with its data in
 * `dataDir`. Root has no password and the server listens on loopback only.
 */
export async function startMariaDb(options: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
  /** Binary log replication: this server's role (see `startReplication`). Absent: none. */
  replication?: ReplicationRole;
}): Promise<MariaDbServer> {
  const log = options.log ?? console.log;
  const { server, installDb } = ensureMariaDbInstalled(log);
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(join(dataDir, 'mysql'))) {
    const result = spawnSync(
      installDb,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { encoding: 'utf8' },
    );
    if (result.status !== 0)
      throw new Error(`mariadb-install-db failed:\n${result.stderr || result.stdout}`);
  }
  const logFile = openSync(join(dataDir, 'server.log'), 'a');
  const child = await startServerProcess({
    name: 'MariaDB',
    command: server,
    args: [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${join(dataDir, 'mysqld.sock')}`,
      `--pid-file=${join(dataDir, 'mysqld.pid')}`,
      `--port=${options.port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_bin',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      '--max-connections=500',
      ...replicationArgs(options.replication, dataDir),
    ],
    stdio: ['ignore', logFile, logFile],
    ready: () => canConnect(options.port),
    limitMs: 60_000,
    pollMs: 200,
    // SIGTERM is MariaDB's clean shutdown; a small private server needs about a second.
    stopGraceMs: 5_000,
    logHint: join(dataDir, 'server.log'),
  }).finally(() => {
    closeSync(logFile);
  });
  return {
    url: `mysql://root@127.0.0.1:${options.port}/`,
    port: options.port,
    stop: child.stop,
    kill: child.kill,
  };
}

/** Runs `work` on one connection to the server at `serverUrl` (no database selected). */
export async function withServerConnection<T>(
  serverUrl: string,
  work: (connection: Connection) => Promise<T>,
): Promise<T> {
  const url = new URL(serverUrl);
  const connection = await createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  });
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

/** Creates `database` if missing. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  await withServerConnection(serverUrl, (connection) =>
    connection.query('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [
      database,
    ]),
  );
}
