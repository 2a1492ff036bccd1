/** Starts a benchmark server script in its own Node process and waits for `listening PORT`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../dev/settings.js';

export interface ChildServer {
  child: ChildProcess;
  port: number;
  stop: () => Promise<void>;
}

export function startChildServer(
  script: string,
  env: Record<string, string>,
  limitMs = 60_000,
): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${script} did not start within ${limitMs} ms: ${out}`));
    }, limitMs);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /listening (\d+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), stop });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before listening: ${out}`));
    });
  });
}
