/**
 * Checks that nothing the test run started outlives it. Setup marks this process's
 * environment with a value of its own, which every process started from here on inherits
 * (test workers, the hosts and servers tests start, their Azurite and MariaDB), even once
 * orphaned. Teardown, which runs after every other global teardown (vitest runs them in the
 * reverse order of `globalSetup`, where this file is first), lists the processes still
 * carrying the mark, kills them and fails the run, naming each.
 *
 * Not counted: vitest's own machinery, the direct children of this process still running
 * at teardown (its test workers, esbuild), which vitest ends itself after the teardowns.
 */
import { randomBytes } from 'node:crypto';
import { processesWithEnv, type ProcessInfo } from '../helpers/processes.js';

const markVariable = 'SIS_TEST_RUN';
const mark = `${process.pid}-${randomBytes(6).toString('hex')}`;
/** How long a process that is on its way out (a stop just sent) may take to go. */
const settleMs = 5_000;

export function setup(): void {
  process.env[markVariable] = mark;
}

function leftovers(): ProcessInfo[] {
  return processesWithEnv(markVariable, mark).filter(
    (p) =>
      p.pid !== process.pid &&
      !(
        p.parent === process.pid &&
        /node_modules\/(vitest|tinypool|@esbuild|esbuild)\//.test(p.command)
      ),
  );
}

export async function teardown(): Promise<void> {
  let left = leftovers();
  const deadline = Date.now() + settleMs;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = leftovers();
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  const list = left.map((p) => `  ${p.pid} (parent ${p.parent}): ${p.command}`).join('\n');
  const message = `The test run left ${left.length} process(es) running (now killed); every server a test starts must be stopped when the test ends:\n${list}`;
  console.error(`\n${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}
