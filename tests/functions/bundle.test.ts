/**
 * The deployable bundle (dev/bundle.ts, what `npm run build` leaves at package.json `main`)
 * registers the same functions as the source entry when the Functions worker loads it:
 * `@azure/functions` stays external and finds the worker's `@azure/functions-core` (the
 * recorder in tests/fixtures/worker) at run time.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleEntry, bundleExternals } from '../../dev/bundle.js';
import { projectRoot } from '../../dev/settings.js';
import { functionDeclarations } from '../../functions/registry.js';

// Inside the project (dist/ is ignored), so the external packages resolve from node_modules.
mkdirSync(join(projectRoot, 'dist'), { recursive: true });
const outdir = mkdtempSync(join(projectRoot, 'dist', 'bundle-test-'));

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('the deployable bundle', () => {
  it('registers every declared function, loading @azure/functions from node_modules', async () => {
    await bundleEntry(projectRoot, relative(projectRoot, outdir), () => undefined);
    const entry = join(outdir, 'index.js');
    const text = readFileSync(entry, 'utf8');
    // The library is imported from node_modules, not inlined (it requires the worker's
    // `@azure/functions-core` itself, so the bundle never names that one).
    expect(bundleExternals).toContain('@azure/functions');
    expect(/from\s*"@azure\/functions"/.test(text)).toBe(true);
    const script = `
      await import(${JSON.stringify(pathToFileURL(entry).href)});
      const core = (await import('node:module')).createRequire(import.meta.url)('@azure/functions-core');
      process.stdout.write('@@' + JSON.stringify(core.registered.map((f) => f.name)));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: join(projectRoot, 'tests/fixtures/worker') },
      timeout: 60_000,
    });
    const marker = result.stdout.lastIndexOf('@@');
    expect(marker, result.stderr).toBeGreaterThanOrEqual(0);
    const names = JSON.parse(result.stdout.slice(marker + 2)) as string[];
    expect(names.sort()).toEqual(functionDeclarations.map((d) => d.name).sort());
  }, 120_000);
});
