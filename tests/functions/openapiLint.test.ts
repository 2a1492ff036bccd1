/**
 * The served OpenAPI document passes a third-party linter, so clients can be generated from
 * it: Redocly CLI's `recommended` rules (redocly.yaml at the repo root) report no error and
 * no warning. The CLI runs as CI runs it, on the document `/api/openapi.json` serves, with its
 * usage data off (REDOCLY_TELEMETRY=off, per the CLI's docs/usage-data.md) and no remote
 * `$ref` in the document, so it needs no network.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const redoclyCli = join(repoRoot, 'node_modules/@redocly/cli/bin/cli.js');
const redoclyConfig = join(repoRoot, 'redocly.yaml');

interface LintProblem {
  ruleId: string;
  severity: string;
  message: string;
  ignored?: boolean;
  location: { pointer: string }[];
}

interface OpenApiOperation {
  operationId?: string;
  security?: unknown[];
  responses?: Record<string, unknown>;
}

let directory: string;
let served: { paths: Record<string, Record<string, OpenApiOperation>> };

/** Lints `document` with the repo's redocly.yaml; every problem it reports. */
async function lint(document: unknown, name: string): Promise<LintProblem[]> {
  const file = join(directory, name);
  await writeFile(file, JSON.stringify(document, null, 2));
  // Warnings leave the exit code 0 and errors make it 1; both print the JSON report.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [redoclyCli, 'lint', `--config=${redoclyConfig}`, '--format=json', file],
    {
      cwd: directory,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  ).catch((error: unknown) => {
    const { stdout: output, stderr } = error as { stdout?: string; stderr?: string };
    if (output?.trimStart().startsWith('{')) return { stdout: output };
    throw new Error(`redocly lint failed: ${String(error)}\n${stderr ?? ''}`);
  });
  const report = JSON.parse(stdout) as { problems: LintProblem[] };
  return report.problems.filter((problem) => !problem.ignored);
}

function describeProblems(problems: LintProblem[]): string {
  return problems
    .map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`)
    .join('\n');
}

function operations(): { path: string; method: string; operation: OpenApiOperation }[] {
  return Object.entries(served.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'sis-openapi-lint-'));
  const result = await call('GET', '/api/openapi.json');
  expect(result.status, result.text.slice(0, 300)).toBe(200);
  served = JSON.parse(result.text) as typeof served;
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('the served OpenAPI document, linted', () => {
  it('passes the recommended rules with no error and no warning', async () => {
    const problems = await lint(served, 'openapi.json');
    expect(problems, describeProblems(problems)).toEqual([]);
  });

  it('is linted for real: an operation without an operationId is reported', async () => {
    const broken = structuredClone(served);
    const getMe = broken.paths['/me']?.['get'];
    expect(getMe?.operationId).toBe('getMe');
    delete getMe!.operationId;
    const problems = await lint(broken, 'without-operation-id.json');
    expect(problems.map((p) => [p.ruleId, p.location[0]?.pointer])).toEqual([
      ['operation-operationId', '#/paths/~1me/get/operationId'],
    ]);
  });

  it('has no reference outside itself, so linting needs no network', () => {
    const refs = [...JSON.stringify(served).matchAll(/"\$ref":"([^"]*)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((ref) => !ref?.startsWith('#/'))).toEqual([]);
  });

  // redocly.yaml turns `operation-4xx-response` off for the two anonymous operations that take
  // no input; this is the rule for every other one.
  it('documents a client error (4xx) for every operation but the anonymous, input-less ones', () => {
    const without = operations()
      .filter(({ operation }) => !Object.keys(operation.responses ?? {}).some((s) => /^4/.test(s)))
      .map(({ operation }) => ({ id: operation.operationId, security: operation.security }));
    expect(without).toEqual([
      { id: 'getHealth', security: [] },
      { id: 'getOpenApiDocument', security: [] },
    ]);
  });
});
