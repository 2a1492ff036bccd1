/**
 * A private Redis server for the local host and the tests: Debian's `redis-server` on a
 * loopback port, in memory only (no RDB snapshots, no append-only file: Redis holds nothing
 * the product must keep). When the binary is missing it installs Debian's `redis-server` if
 * running as root with apt, and otherwise stops with a message saying what to install or
 * which setting to use instead, as dev/mariadb.ts does for MariaDB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'node:net';

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Shuts the server down (SIGTERM), killing it when that takes over 5 s. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL). */
  kill(): void;
}

const searchPath = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

function findRedisServer(): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), ...searchPath]) {
    const candidate = join(dir, 'redis-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Installs Debian's redis-server when allowed; throws with guidance when not. */
export function ensureRedisInstalled(log: (line: string) => void = console.log): string {
  const found = findRedisServer();
  if (found) return found;
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canInstall) {
    throw new Error(
      'Redis is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server) ' +
        'or set REDIS_URL to an existing Redis server.',
    );
  }
  log('Installing redis-server with apt-get (one time)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
      stdio: 'inherit',
      env,
    });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
  const installed = findRedisServer();
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
  const child = spawn(
    binary,
    [
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
    // A process group of its own, as MariaDB's (dev/mariadb.ts): Ctrl-C reaches it only
    // through its owner, which stops it after the app let go of it; if the owner exits
    // without doing so, the hook below does.
    { stdio: 'ignore', detached: true },
  );
  const state = { exited: false };
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      state.exited = true;
      process.off('exit', stopOnExit);
      resolve();
    });
  });
  const deadline = Date.now() + 30_000;
  while (!(await answersPing(options.port))) {
    if (state.exited)
      throw new Error(
        `redis-server exited during start-up; see ${join(options.dataDir, 'redis.log')}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not answer within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    stop: async () => {
      if (state.exited) return;
      child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timeout);
    },
    kill: () => {
      if (!state.exited) child.kill('SIGKILL');
    },
  };
}
