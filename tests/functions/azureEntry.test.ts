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

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Binding {
  type: string;
  direction: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
}

function registeredFunctions(): { name: string; bindings: Record<string, Binding> }[] {
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

  it('registers every declaration once, with its route, methods and trigger', () => {
    const registered = registeredFunctions();
    expect(registered.map((f) => f.name).sort()).toEqual(
      functionDeclarations.map((d) => d.name).sort(),
    );
    for (const declaration of functionDeclarations) {
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
