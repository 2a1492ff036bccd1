/**
 * The import rules between layers that the code relies on, checked on the source so they
 * stay true: storage (MySQL, Cosmos, the telemetry store and read model) speaks the domain,
 * never HTTP; the HTTP edge knows no API resource.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every TypeScript source file under `folder`, as repository-relative paths. */
function sourcesUnder(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(folder, file));
}

/**
 * The repository-relative modules `text` (the source of `file`) imports inside `folder`:
 * static and dynamic imports, re-exports and type-only imports alike.
 */
function importsFrom(file: string, text: string, folder: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map(({ fileName }) => fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(root, resolve(root, dirname(file), name)))
    .filter((target) => target.startsWith(`${folder}/`));
}

/** Why a storage module breaks the rule: it imports lib/http or names HttpError. */
function storageOffences(file: string, text: string): string[] {
  return [
    ...importsFrom(file, text, 'lib/http').map((target) => `${file} imports ${target}`),
    ...(/\bHttpError\b/.test(text) ? [`${file} names HttpError`] : []),
  ];
}

/** Why an HTTP module breaks the rule: it imports lib/api. */
function httpOffences(file: string, text: string): string[] {
  return importsFrom(file, text, 'lib/api').map((target) => `${file} imports ${target}`);
}

const storageFolders = ['lib/mysql', 'lib/cosmos', 'lib/telemetry'];
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('layers', () => {
  it.each(storageFolders)('%s neither imports lib/http nor builds an HttpError', (folder) => {
    const files = sourcesUnder(folder);
    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((file) => storageOffences(file, read(file)))).toEqual([]);
  });

  it('lib/http imports no lib/api module', () => {
    const files = sourcesUnder('lib/http');
    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((file) => httpOffences(file, read(file)))).toEqual([]);
  });

  it('notices every form of an offending import', () => {
    const storage = [
      "import { checkIfMatch } from '../http/etag.js';",
      "import type { X } from '../http/crud.js';",
      "export { y } from '../http/problem.js';",
      "const m = await import('../http/handler.js');",
    ].join('\n');
    expect(storageOffences('lib/mysql/table.ts', storage)).toEqual([
      'lib/mysql/table.ts imports lib/http/etag.js',
      'lib/mysql/table.ts imports lib/http/crud.js',
      'lib/mysql/table.ts imports lib/http/problem.js',
      'lib/mysql/table.ts imports lib/http/handler.js',
    ]);
    expect(
      storageOffences('lib/telemetry/queries.ts', "throw new HttpError('conflict', 'x');"),
    ).toEqual(['lib/telemetry/queries.ts names HttpError']);
    expect(
      httpOffences('lib/http/crud.ts', "import { pathIdSchema } from '../api/schemas.js';"),
    ).toEqual(['lib/http/crud.ts imports lib/api/schemas.js']);
    // Same-named folders elsewhere, and the domain's own modules, are not offences.
    expect(
      storageOffences(
        'lib/mysql/table.ts',
        "import { NotFoundError } from '../errors.js';\nimport { a } from './http/x.js';",
      ),
    ).toEqual([]);
  });
});
