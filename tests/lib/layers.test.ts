/**
 * The import rules between layers that the code relies on, checked on the source so they
 * stay true: storage (MySQL, Cosmos, the telemetry store and read model) speaks the domain,
 * never HTTP; the HTTP edge knows no API resource; and production code (lib/, functions/)
 * reads its settings from the environment in one place, lib/config.ts, while everything
 * else is handed them (lib/services.ts).
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

/**
 * Where `text` (the source of `file`) reads the environment: `process.env` (also as
 * `process['env']`, or `env` imported from `node:process`), as `file:line` entries. Comments
 * and strings that merely mention it do not count.
 */
function environmentReads(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const isProcess = (node: ts.Node) => ts.isIdentifier(node) && node.text === 'process';
  const visit = (node: ts.Node): void => {
    if (
      (ts.isPropertyAccessExpression(node) &&
        isProcess(node.expression) &&
        node.name.text === 'env') ||
      (ts.isElementAccessExpression(node) &&
        isProcess(node.expression) &&
        ts.isStringLiteralLike(node.argumentExpression) &&
        node.argumentExpression.text === 'env') ||
      (ts.isImportDeclaration(node) &&
        ts.isStringLiteral(node.moduleSpecifier) &&
        ['process', 'node:process'].includes(node.moduleSpecifier.text) &&
        /\benv\b/.test(node.importClause?.getText(source) ?? ''))
    ) {
      found.push(at(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
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

  it('keeps functions/ to entry points: each file under 80 lines, the work in lib/', () => {
    const long = sourcesUnder('functions')
      .map((file) => [file, read(file).split('\n').length] as const)
      .filter(([, lines]) => lines >= 80);
    expect(long).toEqual([]);
  });

  it('only lib/config.ts reads process.env in lib/ and functions/', () => {
    const files = [...sourcesUnder('lib'), ...sourcesUnder('functions')];
    expect(files).toContain('lib/config.ts');
    expect(environmentReads('lib/config.ts', read('lib/config.ts'))).not.toEqual([]);
    const readers = files
      .filter((file) => file !== 'lib/config.ts')
      .flatMap((file) => environmentReads(file, read(file)));
    expect(readers).toEqual([]);
  });

  it('notices every form of reading the environment, and only those', () => {
    const reads = [
      "const a = process.env['MYSQL_URL'];",
      'const b = process.env.PORT;',
      "const { MYSQL_URL } = process['env'];",
      "import { env } from 'node:process';",
      "import { argv, env as settings } from 'process';",
    ].join('\n');
    expect(environmentReads('lib/x.ts', reads)).toEqual([
      'lib/x.ts:1',
      'lib/x.ts:2',
      'lib/x.ts:3',
      'lib/x.ts:4',
      'lib/x.ts:5',
    ]);
    const mentions = [
      '// process.env is read by lib/config.ts only',
      "const text = 'process.env';",
      "import { argv } from 'node:process';",
      'const env = settings.env;',
    ].join('\n');
    expect(environmentReads('lib/x.ts', mentions)).toEqual([]);
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
