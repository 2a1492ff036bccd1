/**
 * The dashboard's JavaScript budget, measured on a real `vite build`: at most 60 kB of
 * gzipped JavaScript in all (the Web PubSub client, the views, and the equipment page's
 * charting library), so the page starts quickly on a phone over a slow link; and at most
 * 30 kB of it before the first view shows: the equipment page (with uPlot) and the Operations
 * view are chunks fetched when first shown.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../helpers/dashboard.js';

/** The budget for every script the built page can load, gzipped (bytes). */
const javaScriptBudgetBytes = 60 * 1024;
/** The budget for the script the page starts with (index.html's), gzipped (bytes). */
const firstViewBudgetBytes = 30 * 1024;

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

    const entries = [
      ...readFileSync(join(outDir, 'index.html'), 'utf8').matchAll(
        /<script type="module"[^>]* src="[^"]*\/assets\/([^"/]+\.js)"/g,
      ),
    ].map((match) => String(match[1]));
    expect(entries).toHaveLength(1);
    const entry = gzipped[scripts.indexOf(String(entries[0]))];
    expect(entry).toBeDefined();
    expect(entry).toBeLessThanOrEqual(firstViewBudgetBytes);
    // The deferred views really are chunks of their own.
    expect(scripts.some((name) => name.startsWith('equipmentPage-'))).toBe(true);
    expect(scripts.some((name) => name.startsWith('operationsPage-'))).toBe(true);
  }, 120_000);
});
