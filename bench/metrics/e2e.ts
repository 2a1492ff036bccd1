/**
 * `e2e_readings_per_s`: sustained readings per second from the device simulator
 * (dev/simulate.ts, its own process) through the Event Hubs stand-in, the local trigger host
 * (its own process: `ingestTelemetry` on the real `EventHubConsumerClient` with Azurite
 * checkpoints) and the local Cosmos server, counted from the first send until every sent
 * event is committed by the pipeline. Afterwards the idle timer closes every window and the
 * aggregates must equal the simulator's ledger: none lost, none double counted, or the
 * metric is not reported as passing.
 *
 * Baseline, same run: the simulator alone sending into the stand-in (another hub), with the
 * same devices and interval, i.e. the most the pipeline could be offered on this machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemDefinition } from '@azure/cosmos';
import { projectRoot } from '../../dev/settings.js';
import type { LedgerEntry, SimulationSummary } from '../../dev/simulator.js';
import { emit, isQuick, metric } from '../report.js';
import { startScript } from '../../dev/child.js';
import { configSections } from '../../lib/config.js';
import { createServices } from '../../lib/services.js';
import { ensureTelemetryContainers } from '../../lib/cosmos/client.js';
import { startBenchStack } from '../servers/stack.js';

/** What the benchmark's servers print once they serve (bench/servers/*). */
const listening = /listening (\d+)/;

const quick = isQuick();
// The simulator sends every device on every tick, however late it runs, so these fix the
// count (devices × duration / interval) and the rate it can reach (20,000/s offered, more
// than one process sending an event per call reaches here).
const devices = quick ? 1000 : 2000;
const intervalSeconds = 0.1;
const durationSeconds = quick ? 2 : 10;
const drainLimitMs = quick ? 60_000 : 180_000;

const dir = mkdtempSync(join(tmpdir(), 'sis-bench-e2e-'));
const stops: (() => Promise<void>)[] = [];

/** Runs the simulator to completion; returns its summary with the ledger. */
function simulate(connectionString: string, hub: string, seed: number): Promise<SimulationSummary> {
  const ledgerFile = join(dir, `ledger-${hub}.json`);
  const args = [
    '--import',
    'tsx',
    'dev/simulate.ts',
    '--connection-string',
    connectionString,
    '--hub',
    hub,
    '--devices',
    String(devices),
    '--interval',
    String(intervalSeconds),
    '--duration',
    String(durationSeconds),
    '--seed',
    String(seed),
    // The throughput measured is of normal readings; the demo's default fleet misbehaves.
    '--anomaly-rate',
    '0',
    '--ledger',
    ledgerFile,
  ];
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString('utf8')).slice(-2000);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), (durationSeconds + 300) * 1000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) {
        reject(new Error(`simulator exited with ${code ?? 'a signal'}: ${errors}`));
        return;
      }
      resolve(JSON.parse(readFileSync(ledgerFile, 'utf8')) as SimulationSummary);
    });
  });
}

/** Aggregates in Cosmos against the ledger: mismatches, as text. */
function compare(aggregates: ItemDefinition[], ledger: readonly LedgerEntry[]): string[] {
  const problems: string[] = [];
  const actual = new Map<string, { count: number; min: number; max: number; mean: number }>();
  for (const a of aggregates) {
    const summary = a['summary'] as {
      metrics: { temperature?: { count: number; min: number; max: number; mean: number } };
    };
    const t = summary.metrics.temperature;
    if (t) actual.set(`${String(a['equipmentId'])}@${String(a['windowStart'])}`, t);
  }
  for (const entry of ledger) {
    const key = `${entry.equipmentId}@${entry.windowStart}`;
    const got = actual.get(key);
    actual.delete(key);
    const mean = entry.temperature.sum / entry.count;
    if (!got) problems.push(`${key}: missing`);
    else if (
      got.count !== entry.count ||
      got.min !== entry.temperature.min ||
      got.max !== entry.temperature.max ||
      Math.abs(got.mean - mean) > 1e-6
    )
      problems.push(`${key}: got ${JSON.stringify(got)}, sent count ${entry.count}`);
  }
  for (const key of actual.keys()) problems.push(`${key}: not sent`);
  return problems;
}

try {
  const { eventHubs, azurite, cosmosClient, database, appEnv } = await startBenchStack({
    dir,
    stops,
    extraHubs: ['baseline'],
    equipment: devices,
    // Nothing may age out while the pipeline catches up.
    retention: { maxEventsPerPartition: 5_000_000, maxAgeMs: 3_600_000 },
  });
  // The idle-window closing at the end runs here, with services of this stack's settings.
  const services = createServices(configSections(appEnv));
  stops.push(() => services.close());

  // Baseline: the simulator alone.
  const alone = await simulate(eventHubs.connectionString('device', 'baseline'), 'baseline', 7);
  const baselineRate = alone.sent / alone.seconds;
  console.error(
    `simulator alone: ${alone.sent} readings in ${alone.seconds.toFixed(1)} s = ${baselineRate.toFixed(0)}/s (${alone.errors} errors)`,
  );

  // The pipeline.
  const host = await startScript({
    script: 'bench/servers/triggerHost.ts',
    env: {
      ...appEnv,
      BENCH_STORAGE: azurite.connectionString,
      BENCH_MAX_WAIT_SECONDS: '1',
    },
    readyLine: listening,
    echoErrors: true,
  });
  stops.push(host.stop);
  const committedIn = async (db: typeof database) => {
    const { resources } = await db
      .container('pipelineState')
      .items.query<ItemDefinition>("SELECT * FROM c WHERE c.type = 'partition-state'")
      .fetchAll();
    return resources.reduce((sum, s) => sum + Number(s['lastSequenceNumber']) + 1, 0);
  };
  const committed = () => committedIn(database);
  const began = Date.now();
  const run = await simulate(eventHubs.connectionString('device', 'telemetry'), 'telemetry', 11);
  const sentAt = Date.now();
  let done = await committed();
  while (done < run.sent && Date.now() - sentAt < drainLimitMs) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    done = await committed();
  }
  const finished = Date.now();
  const seconds = (finished - began) / 1000;
  const rate = done >= run.sent ? run.sent / seconds : done / seconds;
  console.error(
    `pipeline: ${run.sent} sent in ${run.seconds.toFixed(1)} s, ${done} committed ${((finished - sentAt) / 1000).toFixed(1)} s after the last send; ${rate.toFixed(0)}/s end to end`,
  );
  await host.stop();

  // Where the ceiling is: the pipeline alone, draining the baseline hub's backlog (sent
  // before it started) into a database of its own.
  const { database: drainDatabase } = await ensureTelemetryContainers(cosmosClient, 'bench-drain');
  const drainBegan = Date.now();
  const drainHost = await startScript({
    script: 'bench/servers/triggerHost.ts',
    env: {
      ...appEnv,
      COSMOS_DATABASE: 'bench-drain',
      EVENTHUB_NAME: 'baseline',
      EventHubConnection: eventHubs.connectionString('app', 'baseline'),
      BENCH_STORAGE: azurite.connectionString,
      BENCH_CHECKPOINTS: 'drain-checkpoints',
      BENCH_MAX_WAIT_SECONDS: '1',
    },
    readyLine: listening,
    echoErrors: true,
  });
  stops.push(drainHost.stop);
  let drained = await committedIn(drainDatabase);
  while (drained < alone.sent && Date.now() - drainBegan < drainLimitMs) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    drained = await committedIn(drainDatabase);
  }
  const drainRate = drained / ((Date.now() - drainBegan) / 1000);
  await drainHost.stop();
  console.error(
    `pipeline alone draining a backlog: ${drained}/${alone.sent} in ${((Date.now() - drainBegan) / 1000).toFixed(1)} s (including host start) = ${drainRate.toFixed(0)}/s`,
  );

  // Every window closes (the stream has stopped); the aggregates must equal the ledger.
  await services.telemetryProcessor.closeIdleWindows(Date.now() + 3_600_000, 0);
  const { resources: aggregates } = await database
    .container('aggregates')
    .items.readAll<ItemDefinition>()
    .fetchAll();
  const problems = done === run.sent ? compare(aggregates, run.ledger) : [];
  const exact = done === run.sent && problems.length === 0;
  if (problems.length)
    console.error(`ledger mismatches (first 5): ${problems.slice(0, 5).join('; ')}`);
  const result = metric(
    'e2e_readings_per_s',
    rate,
    baselineRate,
    `${run.sent.toLocaleString('en-US')} readings from ${devices} devices offered every ${intervalSeconds} s for ${durationSeconds} s, from first send to all committed; ` +
      (exact
        ? `${aggregates.length.toLocaleString('en-US')} aggregates equal the simulator's ledger (none lost or double counted)`
        : `LEDGER CHECK FAILED: ${done}/${run.sent} committed, ${problems.length} mismatched windows`) +
      `; baseline: the simulator alone into the stand-in; the pipeline alone drained a backlog of ${alone.sent.toLocaleString('en-US')} at ${drainRate.toFixed(0)}/s (host start included)`,
  );
  emit({ e2e_readings_per_s: exact ? result : { ...result, pass: false } });
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
