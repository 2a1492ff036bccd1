/**
 * Runs one of the project's scripts as a child process (a TypeScript source through tsx, a
 * compiled `.js` under `dist/` as it is) and waits for the line that says it is ready: the local host for the tests, the
 * benchmark's servers. One helper so every caller gets the same start-up limit, the same
 * output capture and a stop that leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from './settings.js';

/**
 * The Node arguments that run `script`: TypeScript sources through tsx, anything else as it
 * is. tsx compiles each module to CommonJS, whose imports are property reads through getters
 * on every call (`(0, import_x.f)(…)`); the benchmarks therefore run what `npm run build`
 * compiled (see {@link compiledScript}), which calls across modules directly, as the deployed
 * bundle does.
 */
export function nodeArguments(script: string): string[] {
  return script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
}

/** Where `npm run build` puts the compiled form of a script (`bench/x.ts` → `dist/bench/x.js`). */
export function compiledScript(script: string): string {
  return `dist/${script.replace(/\.ts$/, '.js')}`;
}

export interface ScriptOptions {
  /** The script, relative to the project root (`.ts`: run through tsx). */
  script: string;
  /** Set over the current environment. */
  env?: Record<string, string>;
  /** Printed on stdout or stderr once the script is ready; its first group is `ready`. */
  readyLine: RegExp;
  /** How long it may take to print `readyLine`; past it, it is stopped. Default 60 s. */
  limitMs?: number;
  /** What `stop()` sends first. Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** How long `stop()` waits for it to exit before it kills it. Default 15 s. */
  stopGraceMs?: number;
  /**
   * Runs it as the leader of a process group of its own, as a shell runs a foreground job:
   * `process.kill(-pid, 'SIGINT')` is then what Ctrl-C in a terminal does, and the kill at
   * the end of `stop()` takes whatever it started too (Azurite, MariaDB), even after the
   * script itself died without stopping them. Without it, Ctrl-C on this process reaches
   * the script as well.
   */
  processGroup?: boolean;
  /** Copies its stderr to this process's stderr as it comes (the benchmark's servers). */
  echoErrors?: boolean;
}

export interface RunningScript {
  child: ChildProcess;
  /** The first group of `readyLine` as printed. */
  ready: string;
  /** Everything it has printed so far (stdout and stderr). */
  output: () => string;
  /** What it has printed on stderr alone. */
  errors: () => string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /**
   * Sends `stopSignal` and waits for the exit; past `stopGraceMs`, kills it (its whole
   * group with `processGroup`). Resolves at once when it has already exited. Idempotent.
   */
  stop: () => Promise<void>;
}

/** Starts `script`; resolves once it has printed `readyLine`, rejects when it exits first. */
export function startScript(options: ScriptOptions): Promise<RunningScript> {
  const { script, readyLine } = options;
  const limitMs = options.limitMs ?? 60_000;
  const processGroup = options.processGroup ?? false;
  const child = spawn(process.execPath, nodeArguments(script), {
    cwd: projectRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
  });
  let output = '';
  let errors = '';
  let hasExited = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      hasExited = true;
      resolve(code);
    });
  });
  const kill = () => {
    try {
      if (processGroup && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // Gone already.
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited) {
        child.kill(options.stopSignal ?? 'SIGTERM');
        const force = setTimeout(kill, options.stopGraceMs ?? 15_000);
        await exited;
        clearTimeout(force);
      }
      // What the script started and left behind (it died, or was killed) goes with it.
      if (processGroup) kill();
    })();
    return stopping;
  };
  return new Promise<RunningScript>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(
        new Error(`${script} printed no ${String(readyLine)} within ${limitMs} ms:\n${output}`),
      );
    }, limitMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = readyLine.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({
          child,
          ready: match[1],
          output: () => output,
          errors: () => errors,
          exited,
          stop,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString('utf8');
      if (options.echoErrors) process.stderr.write(chunk);
      onData(chunk);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${output}`));
    });
  });
}
