/**
 * The deployable entry: `npm run build` compiles everything with tsc, then this replaces
 * `dist/functions/index.js` (package.json `main`) with one esbuild bundle of the app and its
 * dependencies, so a cold start reads one file instead of resolving hundreds of modules.
 *
 * `@azure/functions` stays external: the Functions Node worker injects
 * `@azure/functions-core` into the process and the library (itself one webpack bundle)
 * requires it at run time, so the package ships in `node_modules` as the worker expects and
 * there is exactly one copy of its registration state. Everything else is bundled; the
 * CommonJS dependencies get a `require` from `createRequire`, since the bundle is ESM.
 */
import { build, type Metafile } from 'esbuild';
import { metadataOf, type FunctionMetadata } from '../lib/host/declarations.js';
import { projectRoot } from './settings.js';

/** Packages the bundle leaves to `node_modules` (see the module comment). */
export const bundleExternals = ['@azure/functions', '@azure/functions-core'] as const;

/** The bundle's entry module, made at build time (`deferredEntrySource`). */
const deferredEntry = 'sis-deferred-entry';

/**
 * The bundle's entry: registers the declared functions (their metadata, read from the
 * source declarations at build time) with handlers that import the app (`functions/registry`,
 * a chunk of its own) at their first invocation (lib/host/registration.ts `deferredDeclarations`).
 * A static import would make Node evaluate every dependency at import, which the Functions
 * worker does before the first invocation of any function; a dynamic `import()` is what
 * esbuild splits into a chunk evaluated only when called (esbuild docs, "Code splitting").
 */
function deferredEntrySource(metadata: readonly FunctionMetadata[]): string {
  return [
    "import { deferredDeclarations, registerApp } from './lib/host/registration.ts';",
    `const metadata = ${JSON.stringify(metadata)};`,
    'await registerApp(',
    '  deferredDeclarations(metadata, () =>',
    "    import('./functions/registry.ts').then((module) => module.functionDeclarations),",
    '  ),',
    ');',
  ].join('\n');
}

/**
 * Bundles the deferred entry (`deferredEntrySource`, registering what `functions/index.ts`
 * registers) into `outdir` (relative to `root`) as `index.js`.
 */
export async function bundleEntry(
  root: string = projectRoot,
  outdir = 'dist/functions',
  log: (line: string) => void = console.log,
): Promise<Metafile> {
  const { functionDeclarations } = await import('../functions/registry.js');
  const metadata = functionDeclarations.map(metadataOf);
  const result = await build({
    absWorkingDir: root,
    entryPoints: [{ in: deferredEntry, out: 'index' }],
    plugins: [
      {
        name: 'deferred-entry',
        setup(plugin) {
          plugin.onResolve({ filter: new RegExp(`^${deferredEntry}$`) }, () => ({
            path: deferredEntry,
            namespace: deferredEntry,
          }));
          plugin.onLoad({ filter: /.*/, namespace: deferredEntry }, () => ({
            contents: deferredEntrySource(metadata),
            loader: 'ts',
            resolveDir: root,
          }));
        },
      },
    ],
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    splitting: true,
    external: [...bundleExternals],
    banner: {
      js: "import { createRequire as __sisCreateRequire } from 'node:module'; const require = __sisCreateRequire(import.meta.url);",
    },
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  const atImport = staticClosure(result.metafile, `${outdir}/index.js`);
  const importBytes = atImport.reduce(
    (sum, name) => sum + (result.metafile.outputs[name]?.bytes ?? 0),
    0,
  );
  log(
    `Bundled ${outdir}/index.js (${(bytes / 1024).toFixed(0)} KiB with map and licences; ${(importBytes / 1024).toFixed(0)} KiB evaluated at import, the rest at first use)`,
  );
  return result.metafile;
}

/**
 * The output files Node evaluates when it imports `output`: it and every chunk it reaches by
 * static imports (dynamic `import()`s are evaluated only when called).
 */
export function staticClosure(metafile: Metafile, output: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const imported of metafile.outputs[name]?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
  };
  visit(output);
  return [...seen];
}

// `node dist/dev/bundle.js` (the build script) runs it; importing it does not.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  await bundleEntry();
}
