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
import { build } from 'esbuild';
import { projectRoot } from './settings.js';

/** Packages the bundle leaves to `node_modules` (see the module comment). */
export const bundleExternals = ['@azure/functions', '@azure/functions-core'] as const;

/** Bundles `functions/index.ts` into `outdir` (relative to `root`) as `index.js`. */
export async function bundleEntry(
  root: string = projectRoot,
  outdir = 'dist/functions',
  log: (line: string) => void = console.log,
): Promise<void> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['functions/index.ts'],
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
  log(`Bundled ${outdir}/index.js (${(bytes / 1024).toFixed(0)} KiB with map and licences)`);
}

// `node dist/dev/bundle.js` (the build script) runs it; importing it does not.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  await bundleEntry();
}
