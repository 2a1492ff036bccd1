/**
 * startScript (dev/child.ts): the one way dev, bench and tests run a script as a child. What
 * the suite relies on: `stop()` leaves nothing behind, not even what a script that died
 * without stopping it had started, and a script that gives up is reported with its output.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledScript, nodeArguments, startScript, type RunningScript } from '../../dev/child.js';
import { running } from '../helpers/processes.js';

const scripts: RunningScript[] = [];

afterAll(async () => {
  await Promise.all(scripts.map((script) => script.stop()));
});

async function waitUntilGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && running(pid); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !running(pid);
}

describe('startScript', () => {
  it('runs TypeScript through tsx and compiled JavaScript as it is', async () => {
    // What the benchmarks rely on: their compiled scripts run without tsx's module wrapper.
    const dir = mkdtempSync(join(tmpdir(), 'sis-child-'));
    const printsLoader = join(dir, 'printsLoader.mjs');
    writeFileSync(printsLoader, 'console.log(`ready ${JSON.stringify(process.execArgv)}`);\n');
    const compiled = await startScript({ script: printsLoader, readyLine: /ready (.+)/ });
    scripts.push(compiled);
    expect(JSON.parse(compiled.ready)).toEqual([]);
    expect(nodeArguments('bench/run.ts')).toEqual(['--import', 'tsx', 'bench/run.ts']);
    expect(compiledScript('bench/servers/apiHost.ts')).toBe('dist/bench/servers/apiHost.js');
    expect(nodeArguments(compiledScript('dev/simulate.ts'))).toEqual(['dist/dev/simulate.js']);
  });

  it('resolves at the ready line with its first group', async () => {
    const script = await startScript({
      script: 'tests/fixtures/leavesChild.ts',
      readyLine: /ready (\d+)/,
      processGroup: true,
    });
    scripts.push(script);
    const sleeper = Number(script.ready);
    expect(sleeper).toBeGreaterThan(0);
    expect(running(sleeper)).toBe(true);
    expect(script.output()).toContain(`ready ${script.ready}`);
  });

  it('stops what the script started even after the script itself was killed', async () => {
    const script = await startScript({
      script: 'tests/fixtures/leavesChild.ts',
      readyLine: /ready (\d+)/,
      processGroup: true,
    });
    scripts.push(script);
    const sleeper = Number(script.ready);
    script.child.kill('SIGKILL');
    await script.exited;
    // Orphaned, not stopped: this is what a killed local host leaves (its Azurite).
    expect(running(sleeper)).toBe(true);
    await script.stop();
    expect(await waitUntilGone(sleeper)).toBe(true);
  });

  it('rejects with the exit code and the output when the script exits before it is ready', async () => {
    await expect(
      startScript({
        script: 'tests/fixtures/leavesChild.ts',
        env: { LEAVES_CHILD_EXIT: '1' },
        readyLine: /ready (\d+)/,
      }),
    ).rejects.toThrow(/exited with 3 before it was ready:\s+giving up/);
  });
});
