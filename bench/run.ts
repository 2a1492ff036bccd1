/**
 * `npm run bench [-- --quick] [--only name,name] [--no-build]`: builds what it runs,
 * runs every benchmark in its own Node process (so no metric inherits another's caches,
 * pools or settings), prints the table and writes `bench/results.json`. Every child is
 * bounded in time and every figure is a ratio against a baseline measured in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compiledScript, nodeArguments } from '../dev/child.js';
import { projectRoot } from '../dev/settings.js';
import {
  metricOrder,
  notMeasured,
  resultMarker,
  table,
  type MetricName,
  type MetricResult,
} from './report.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const quick = values.quick;

/** Each benchmark process, the metrics it reports, and how long it may take. */
const suites: { script: string; metrics: MetricName[]; limitSeconds: number }[] = [
  {
    script: 'ingestCore.ts',
    metrics: ['ingest_core_ratio', 'ingest_core_instrumented_ratio'],
    limitSeconds: quick ? 180 : 600,
  },
  {
    script: 'cosmosWrites.ts',
    metrics: ['cosmos_writes_per_1k_seed', 'cosmos_writes_per_1k_highrate'],
    limitSeconds: quick ? 300 : 900,
  },
  { script: 'e2e.ts', metrics: ['e2e_readings_per_s'], limitSeconds: quick ? 300 : 900 },
  {
    script: 'alertLatency.ts',
    metrics: ['alert_latency_p99_ms', 'alert_latency_p99_ms_small_fleet'],
    limitSeconds: quick ? 300 : 900,
  },
  {
    script: 'mysqlApi.ts',
    metrics: ['api_get_ratio', 'api_get_instrumented_ratio', 'deep_page_ratio'],
    limitSeconds: quick ? 300 : 900,
  },
  { script: 'coldImport.ts', metrics: ['cold_import_ms'], limitSeconds: quick ? 180 : 300 },
];

let running: number | undefined;
// Ctrl-C: the suite's process group (with its servers) stops too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    try {
      if (running) process.kill(-running, 'SIGTERM');
    } catch {
      // already gone
    }
    process.exit(130);
  });
}

const only = values.only?.split(',').map((name) => name.trim());
const selected = suites.filter((s) => !only || s.metrics.some((m) => only.includes(m)));

function runSuite(
  suite: (typeof suites)[number],
): Promise<Partial<Record<MetricName, MetricResult>>> {
  return new Promise((resolve) => {
    const args = nodeArguments(compiledScript(`bench/metrics/${suite.script}`));
    if (quick) args.push('--quick');
    const child = spawn(process.execPath, args, {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
      // Its own process group, so an overrun stops the servers it started with it.
      detached: true,
    });
    running = child.pid;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      console.error(`${suite.script}: over ${suite.limitSeconds} s, stopping it`);
      signalGroup('SIGTERM');
      setTimeout(() => {
        signalGroup('SIGKILL');
      }, 10_000).unref();
    }, suite.limitSeconds * 1000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(resultMarker));
      const printed = out
        .split('\n')
        .filter((l) => l && !l.startsWith(resultMarker))
        .join('\n');
      if (printed) console.log(printed);
      const results = line
        ? (JSON.parse(line.slice(resultMarker.length)) as Partial<Record<MetricName, MetricResult>>)
        : {};
      for (const name of suite.metrics) {
        results[name] ??= notMeasured(
          name,
          `${suite.script} ended (${signal ?? `exit ${code ?? '?'}`}) without reporting it`,
        );
      }
      resolve(results);
    });
  });
}

const began = new Date();
const loadBefore = loadavg();
if (!values['no-build']) {
  // What the benchmarks run (dev/child.ts `compiledScript`): `build:app`, tsc's output for the
  // app, the dev tools and the benchmarks, then the deployable bundle `cold_import_ms`
  // imports. No benchmark serves the dashboard, so `npm run build`'s dashboard build is left out.
  console.error('Building (npm run build:app)...');
  const build = spawnSync('npm', ['run', '-s', 'build:app'], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('npm run build:app failed');
}
const buildSeconds = (Date.now() - began.getTime()) / 1000;
const metrics: Partial<Record<MetricName, MetricResult>> = {};
/** Wall seconds per suite (and the build), so a slow run says where its time went. */
const suiteSeconds: Record<string, number> = {};
if (!values['no-build']) suiteSeconds['build'] = Math.round(buildSeconds);
for (const suite of selected) {
  console.error(`\n== ${suite.metrics.join(', ')} (${suite.script}${quick ? ', quick' : ''})`);
  const suiteBegan = Date.now();
  Object.assign(metrics, await runSuite(suite));
  suiteSeconds[suite.script] = Math.round((Date.now() - suiteBegan) / 1000);
  console.error(`${suite.script}: ${suiteSeconds[suite.script]} s`);
}
const ordered: Partial<Record<MetricName, MetricResult>> = {};
for (const name of metricOrder) {
  const result = metrics[name];
  if (result) ordered[name] = result;
}
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
  cwd: projectRoot,
  encoding: 'utf8',
}).stdout.trim();
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  platform: `${platform()} ${release()} ${arch()}`,
  node: process.version,
  loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
  loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
  startedAt: began.toISOString(),
  seconds: Math.round((Date.now() - began.getTime()) / 1000),
  suiteSeconds,
  quick,
  commit,
};
const file = join(projectRoot, 'bench', 'results.json');
writeFileSync(file, `${JSON.stringify({ machine, metrics: ordered }, null, 2)}\n`);
console.log(`\n${table(ordered)}\n`);
for (const [name, result] of Object.entries(ordered)) console.log(`${name}: ${result.note}`);
console.log(
  `\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverageBefore.join('/')} before; ${machine.seconds} s${quick ? ' (--quick)' : ''} (${Object.entries(
    suiteSeconds,
  )
    .map(([name, seconds]) => `${name} ${seconds} s`)
    .join(', ')}). Written to bench/results.json`,
);
