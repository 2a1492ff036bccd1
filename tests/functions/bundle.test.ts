/**
 * The deployable bundle (dev/bundle.ts, what `npm run build` leaves at package.json `main`)
 * registers the same functions with the same metadata as the source entry when the Functions
 * worker loads it: `@azure/functions` stays external and finds the worker's
 * `@azure/functions-core` (the recorder in tests/fixtures/worker) at run time. Importing it
 * evaluates the registration alone; the app's modules load at the first invocation.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleEntry, bundleExternals, staticClosure } from '../../dev/bundle.js';
import { projectRoot } from '../../dev/settings.js';
import { deferredDeclarations } from '../../lib/host/registration.js';
import { functionDeclarations } from '../../functions/registry.js';
import { metadataOf } from '../../lib/host/declarations.js';
import { HttpRequest, InvocationContext } from '../../lib/host/azureFunctions.js';

// Inside the project (dist/ is ignored), so the external packages resolve from node_modules.
mkdirSync(join(projectRoot, 'dist'), { recursive: true });
const outdir = mkdtempSync(join(projectRoot, 'dist', 'bundle-test-'));
const entry = join(outdir, 'index.js');
let metafile: Metafile;

beforeAll(async () => {
  metafile = await bundleEntry(projectRoot, relative(projectRoot, outdir), () => undefined);
}, 120_000);

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

/** What importing `module` (a file URL or path) registers with the worker's core module. */
function registeredBy(module: string, nodeArgs: string[] = []): unknown[] {
  const script = `
    await import(${JSON.stringify(module)});
    const core = (await import('node:module')).createRequire(import.meta.url)('@azure/functions-core');
    process.stdout.write('\\n@@' + JSON.stringify(core.registered));
  `;
  const result = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: join(projectRoot, 'tests/fixtures/worker') },
    timeout: 60_000,
  });
  const marker = result.stdout.lastIndexOf('@@');
  expect(marker, result.stderr).toBeGreaterThanOrEqual(0);
  return (JSON.parse(result.stdout.slice(marker + 2)) as { name: string }[]).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
}

describe('the deployable bundle', () => {
  it('registers what the source entry registers, loading @azure/functions from node_modules', () => {
    const text = readFileSync(entry, 'utf8');
    // The library is imported from node_modules, not inlined (it requires the worker's
    // `@azure/functions-core` itself, so the bundle never names that one).
    expect(bundleExternals).toContain('@azure/functions');
    expect(/from\s*"@azure\/functions"/.test(text)).toBe(true);
    const bundled = registeredBy(pathToFileURL(entry).href);
    expect(bundled.map((f) => (f as { name: string }).name)).toEqual(
      functionDeclarations.map((d) => d.name).sort((a, b) => a.localeCompare(b)),
    );
    // Same bindings, routes, methods, retry policy: the metadata went through the build intact.
    expect(bundled).toEqual(registeredBy('./functions/index.ts', ['--import', 'tsx']));
  }, 120_000);

  it('evaluates the registration alone at import, the app at first use', () => {
    const output = `${relative(projectRoot, outdir)}/index.js`;
    const atImport = staticClosure(metafile, output);
    const inputsAtImport = atImport.flatMap((name) =>
      Object.keys(metafile.outputs[name]?.inputs ?? {}),
    );
    const heavy =
      /node_modules\/(mysql2|iconv-lite|@azure\/cosmos|redis|@redis\/client|@azure\/web-pubsub|@azure\/communication-[a-z]+|rate-limiter-flexible|@opentelemetry\/sdk-[a-z]+|@azure\/identity|@azure\/event-hubs)\//;
    expect(inputsAtImport.filter((input) => heavy.test(input))).toEqual([]);
    expect(inputsAtImport).not.toContain('functions/registry.ts');
    // The app is in a chunk the entry imports dynamically.
    const deferred = metafile.outputs[output]?.imports.filter((i) => i.kind === 'dynamic-import');
    const deferredInputs = (deferred ?? []).flatMap((i) =>
      Object.keys(metafile.outputs[i.path]?.inputs ?? {}),
    );
    expect(deferredInputs).toContain('functions/registry.ts');
  });
});

describe('deferred handlers', () => {
  it('load the app once, at the first invocation, and answer as the declared handler', async () => {
    let loads = 0;
    const deferred = deferredDeclarations(functionDeclarations.map(metadataOf), () => {
      loads += 1;
      return Promise.resolve(functionDeclarations);
    });
    expect(deferred.map(metadataOf)).toEqual(functionDeclarations.map(metadataOf));
    expect(loads).toBe(0);
    const openApi = deferred.find((d) => d.name === 'openapi');
    if (openApi?.kind !== 'http') throw new Error('openapi is not an HTTP function');
    const invoke = () =>
      openApi.handler(
        new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/openapi.json' }),
        new InvocationContext({ functionName: 'openapi' }),
      );
    const first = await invoke();
    const second = await invoke();
    expect(loads).toBe(1);
    expect(first.status ?? 200).toBe(200);
    expect(typeof first.body).toBe('string');
    expect(JSON.parse(first.body as string)).toMatchObject({ openapi: '3.1.0' });
    expect(second.body).toEqual(first.body);
  });

  it('refuse a registered name the loaded app does not declare', async () => {
    const [first] = deferredDeclarations(
      [{ ...metadataOf(functionDeclarations[0]!), name: 'gone' }],
      () => Promise.resolve(functionDeclarations),
    );
    if (first?.kind !== 'http') throw new Error('expected an HTTP declaration');
    await expect(
      first.handler(
        new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/gone' }),
        new InvocationContext({ functionName: 'gone' }),
      ),
    ).rejects.toThrow(/gone is registered but not declared/);
  });
});
