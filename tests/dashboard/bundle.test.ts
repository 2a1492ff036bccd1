/**
 * The dashboard's JavaScript budget, measured on a real `vite build`: at most 60 kB of
 * gzipped JavaScript in all (the Web PubSub client, the views, and the equipment page's
 * charting library), so the page starts quickly on a phone over a slow link.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../helpers/dashboard.js';

/** The budget for every script the built page can load, gzipped (bytes). */
const javaScriptBudgetBytes = 60 * 1024;

const outDir = mkdtempSync(join(tmpdir(), 'sis-dashboard-bundle-'));
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('the dashboard bundle', () => {
  it(`stays within ${javaScriptBudgetBytes / 1024} kB of gzipped JavaScript`, async () => {
    await buildDashboard(outDir);
    const scripts = readdirSync(join(outDir, 'assets')).filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.map(
      (name) => gzipSync(readFileSync(join(outDir, 'assets', name))).length,
    );
    const total = gzipped.reduce((sum, size) => sum + size, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(javaScriptBudgetBytes);
  }, 120_000);
});
