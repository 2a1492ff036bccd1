/**
 * `cold_import_ms`: how long a fresh Node process takes to import the built function app
 * entry (package.json `main`, the esbuild bundle `npm run build` makes), against importing
 * an empty module in a fresh process. The worker's `@azure/functions-core` is the recorder
 * from tests/fixtures/worker, so the import registers every function exactly as under the
 * Functions host. Processes alternate between the two; each side reports its median.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../dev/settings.js';
import { emit, isQuick, metric } from '../report.js';

const runs = isQuick() ? 7 : 15;
const main = (
  JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { main: string }
).main;
const entry = pathToFileURL(join(projectRoot, main)).href;
const dir = mkdtempSync(join(tmpdir(), 'sis-bench-cold-'));
const empty = join(dir, 'empty.mjs');
writeFileSync(empty, 'export {};\n');

function importMs(url: string): { ms: number; registered: number } {
  const script = `
    const began = performance.now();
    await import(${JSON.stringify(url)});
    const ms = performance.now() - began;
    let registered = 0;
    try {
      registered = (await import('node:module')).createRequire(import.meta.url)('@azure/functions-core').registered.length;
    } catch {}
    process.stdout.write('@@' + JSON.stringify({ ms, registered }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], NODE_PATH: join(projectRoot, 'tests/fixtures/worker') },
    timeout: 60_000,
  });
  const marker = result.stdout.lastIndexOf('@@');
  if (result.status !== 0 || marker < 0)
    throw new Error(`import of ${url} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.slice(marker + 2)) as { ms: number; registered: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

try {
  importMs(entry); // the first read warms the file cache, as a deployed package's would be
  const app: number[] = [];
  const baseline: number[] = [];
  let registered = 0;
  for (let i = 0; i < runs; i++) {
    baseline.push(importMs(pathToFileURL(empty).href).ms);
    const run = importMs(entry);
    app.push(run.ms);
    registered = run.registered;
  }
  console.error(
    `cold import: app ${app.map((v) => v.toFixed(0)).join(' ')} ms; empty ${baseline.map((v) => v.toFixed(1)).join(' ')} ms`,
  );
  emit({
    cold_import_ms: metric(
      'cold_import_ms',
      median(app),
      median(baseline),
      `import of ${main} (${registered} functions registered) in a fresh process vs an empty module; median of ${runs} alternating runs`,
    ),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
