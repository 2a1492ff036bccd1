/**
 * A private Redis server for the local host and the tests: Debian's `redis-server` on a
 * loopback port, in memory only (no RDB snapshots, no append-only file: Redis holds nothing
 * the product must keep). When the binary is missing it installs Debian's `redis-server` if
 * running as root with apt, and otherwise stops with a message saying what to install or
 * which setting to use instead, as dev/mariadb.ts does for MariaDB.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { findBinary, installDebianPackage, startServerProcess } from './serverProcess.js';

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Shuts the server down (SIGTERM), killing it when that takes over 5 s. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL). */
  kill(): void;
}

/** Installs Debian's redis-server when allowed; throws with guidance when not. */
export function ensureRedisInstalled(log: (line: string) => void = console.log): string {
  const found = findBinary(['redis-server']);
  if (found) return found;
  installDebianPackage(
    'redis-server',
    'Redis is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server) ' +
      'or set REDIS_URL to an existing Redis server.',
    log,
  );
  const installed = findBinary(['redis-server']);
  if (!installed)
    throw new Error('Installing redis-server failed; install it by hand or set REDIS_URL.');
  return installed;
}

/** Whether something on 127.0.0.1:`port` answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` (loopback only), working folder `dataDir` for
 * its log. It keeps nothing on disk.
 */
export async function startRedis(options: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<RedisServer> {
  const binary = ensureRedisInstalled(options.log ?? console.log);
  // Another Redis already on the port would answer the PING below while ours fails to bind
  // and exits: the app would then use a server that is not ours (and outlives us).
  if (await answersPing(options.port)) {
    throw new Error(
      `Something already answers on 127.0.0.1:${options.port}: stop it, or choose another port (LOCAL_REDIS_PORT) or server (REDIS_URL).`,
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  const server = await startServerProcess({
    name: 'redis-server',
    command: binary,
    args: [
      '--port',
      String(options.port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      options.dataDir,
      '--logfile',
      join(options.dataDir, 'redis.log'),
      '--daemonize',
      'no',
    ],
    stdio: 'ignore',
    ready: () => answersPing(options.port),
    limitMs: 30_000,
    pollMs: 50,
    stopGraceMs: 5_000,
    logHint: join(options.dataDir, 'redis.log'),
  });
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    stop: server.stop,
    kill: server.kill,
  };
}
