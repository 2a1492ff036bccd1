/**
 * The Azure entry (`functions/index.ts`, package.json `main`) registers every declared
 * function with the metadata the Functions host needs. The worker's core module is replaced
 * by a recorder (tests/fixtures/worker) because the worker itself cannot run here.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { functionDeclarations } from '../../functions/registry.js';
import { httpDeclarations } from '../../lib/host/declarations.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Binding {
  type: string;
  direction: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
}

interface Registered {
  name: string;
  bindings: Record<string, Binding>;
  retryOptions?: unknown;
}

function registeredFunctions(): Registered[] {
  const script = `
    await import('./functions/index.ts');
    const core = (await import('node:module')).createRequire(import.meta.url)('@azure/functions-core');
    process.stdout.write('\\n@@' + JSON.stringify(core.registered));
  `;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: root,
      encoding: 'utf8',
      env: {
        ...process.env,
        NODE_PATH: fileURLToPath(new URL('../fixtures/worker', import.meta.url)),
      },
      timeout: 60_000,
    },
  );
  const marker = result.stdout.lastIndexOf('@@');
  if (result.status !== 0 || marker < 0) throw new Error(`entry failed: ${result.stderr}`);
  return JSON.parse(result.stdout.slice(marker + 2)) as {
    name: string;
    bindings: Record<string, Binding>;
  }[];
}

describe('Azure entry', () => {
  it('is what package.json main points at', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { main: string };
    expect(pkg.main).toBe('dist/functions/index.js');
  });

  const registered = registeredFunctions();
  const triggerOf = (name: string) =>
    Object.values(registered.find((f) => f.name === name)?.bindings ?? {}).find(
      (b) => b.direction === 'in',
    );

  it('registers the Event Hub trigger in batch mode with its retry policy', () => {
    expect(triggerOf('ingestTelemetry')).toMatchObject({
      type: 'eventHubTrigger',
      connection: 'EventHubConnection',
      eventHubName: '%EVENTHUB_NAME%',
      consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
      cardinality: 'many',
      // Empty bodies stay in the batch as empty buffers (see lib/host/declarations.ts).
      dataType: 'binary',
    });
    expect(registered.find((f) => f.name === 'ingestTelemetry')).toMatchObject({
      retryOptions: { strategy: 'exponentialBackoff', maxRetryCount: -1 },
    });
  });

  it('registers the idle-window timer with a six-field schedule', () => {
    const trigger = triggerOf('closeIdleWindows') as
      { type: string; schedule?: string } | undefined;
    expect(trigger?.type).toBe('timerTrigger');
    expect(trigger?.schedule?.split(' ')).toHaveLength(6);
  });

  it('registers every declaration once, with its route, methods and trigger', () => {
    expect(registered.map((f) => f.name).sort()).toEqual(
      functionDeclarations.map((d) => d.name).sort(),
    );
    for (const declaration of httpDeclarations(functionDeclarations)) {
      const entry = registered.find((f) => f.name === declaration.name);
      const trigger = Object.values(entry?.bindings ?? {}).find((b) => b.direction === 'in');
      expect(trigger).toMatchObject({
        type: 'httpTrigger',
        route: declaration.route,
        methods: [...declaration.methods],
        authLevel: 'anonymous',
      });
      expect(
        Object.values(entry?.bindings ?? {}).some(
          (b) => b.type === 'http' && b.direction === 'out',
        ),
      ).toBe(true);
    }
  });
});
