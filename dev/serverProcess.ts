/**
 * What the local stack's servers (MariaDB, Redis, Azurite) share: installing a missing
 * Debian package, and running a server as a child that is stopped whatever happens to its
 * owner. One place, so every server gets the same start-up limit, the same clean stop and
 * the same guarantee that none outlives the process that started it.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const searchPath = [
  '/usr/sbin',
  '/usr/bin',
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/local/mysql/bin',
];

/** The first of `names` found on PATH or in the usual system folders. */
export function findBinary(names: readonly string[]): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), ...searchPath]) {
    for (const name of names) {
      const candidate = join(dir, name);
      if (dir && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Runs `apt-get install` for `debianPackage` (refreshing the package lists once when the
 * first attempt fails) when running as root with apt; throws `guidance` when it may not.
 * The caller looks for its binaries again afterwards: an install can succeed and still not
 * provide them.
 */
export function installDebianPackage(
  debianPackage: string,
  guidance: string,
  log: (line: string) => void,
): void {
  const canInstall = process.getuid?.() === 0 && findBinary(['apt-get']) !== undefined;
  if (!canInstall) throw new Error(guidance);
  log(`Installing ${debianPackage} with apt-get (one time)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], {
      stdio: 'inherit',
      env,
    });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
}

export interface ServerProcessOptions {
  /** Named in errors: "MariaDB", "redis-server". */
  name: string;
  command: string;
  args: readonly string[];
  stdio: StdioOptions;
  /** Resolves true once the server serves. Polled every `pollMs` until `limitMs`. */
  ready: () => Promise<boolean>;
  limitMs: number;
  pollMs: number;
  /** How long a stop waits after SIGTERM (each server's clean shutdown) before SIGKILL. */
  stopGraceMs: number;
  /** Where to look when it fails, appended to the error ("see …/server.log"). */
  logHint: string;
}

export interface ServerProcess {
  child: ChildProcess;
  /** SIGTERM, then SIGKILL past `stopGraceMs`; resolves once it has exited. Idempotent. */
  stop: () => Promise<void>;
  /** SIGKILL at once: for when there is no time left to stop it. */
  kill: () => void;
}

/** Starts the server and resolves once `ready` says it serves. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, {
    stdio: options.stdio,
    // A process group of its own: Ctrl-C in a terminal signals the whole foreground group,
    // and a server must go down when its owner stops it (after the app let go of it), not
    // before; Azurite must outlive the Event Hubs consumer that checkpoints into it. The
    // owner stops it; if the owner exits without doing so, the hook below does.
    detached: true,
  });
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
  const deadline = Date.now() + options.limitMs;
  while (!(await options.ready())) {
    if (state.exited)
      throw new Error(`${options.name} exited during start-up; see ${options.logHint}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${options.name} was not ready within ${options.limitMs / 1000} s; see ${options.logHint}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  return {
    child,
    stop: async () => {
      if (state.exited) return;
      child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs);
      await exit;
      clearTimeout(timeout);
    },
    kill: () => {
      if (!state.exited) child.kill('SIGKILL');
    },
  };
}
