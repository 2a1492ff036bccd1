/**
 * The equipment page in Debian's Chromium against the real local host: readings sent through
 * `EventHubProducerClient` close windows in the local Cosmos server, and the page, mounted on
 * its route `#/equipment/<id>` of the dashboard, charts exactly those
 * windows, draws the thresholds on the canvas and passes axe-core. Waits are bounded; nothing
 * asserts on how long anything took.
 */
import AxeBuilder from '@axe-core/playwright';
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDashboardStack } from '../helpers/dashboard.js';

const windowMs = 5 * 60_000;
/** Bounded waits for the pipeline (a batch, windows closing, an alert) on a busy shared machine. */
const deliveryLimitMs = 120_000;
/** Seeded equipment (the seed registers 1..200); readings of unknown ids are dead-lettered. */
const equipmentId = '12';

const stack = useDashboardStack();
let producer: EventHubProducerClient | undefined;
let adminToken: string;

beforeAll(async () => {
  adminToken = await stack.issuer.sign({ sub: 'equipment-admin', roles: ['Admin'] }, '30m');
  producer = new EventHubProducerClient(stack.banner(/devices \(send only\): (\S+)/), 'telemetry');
});

afterAll(async () => {
  await producer?.close();
});

/** Opens the page signed in the way the dashboard signs in: the token in session storage. */
async function openEquipmentPage(id: string): Promise<Page> {
  const context = await stack.browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript((token) => {
    sessionStorage.setItem('sis.dashboard.token', token);
  }, adminToken);
  const page = await context.newPage();
  page.on('pageerror', (error) => stack.pageErrors.push(error.message));
  await page.goto(`${stack.host.base}/api/dashboard/#/equipment/${id}`);
  return page;
}

/**
 * Run in the page: the text of each cell matching the selector that has a word wider than the
 * room inside it, so the word can only be shown broken across lines.
 */
const cellsBreakingWords = `(selector) => [...document.querySelectorAll(selector)]
  .filter((cell) => {
    const style = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return (cell.textContent || '').split(/\\s+/).filter(Boolean).some((word) => {
      const probe = document.createElement('span');
      probe.textContent = word;
      probe.style.whiteSpace = 'nowrap';
      cell.append(probe);
      const width = probe.getBoundingClientRect().width;
      probe.remove();
      return width > room + 1;
    });
  })
  .map((cell) => cell.textContent)`;

interface DrawnLine {
  kind: string;
  value: number;
  y: number;
  left: number;
}

/**
 * Run in the page (as source: this project's Node typecheck has no DOM): the colour of the
 * temperature chart's canvas 3 px right of each line's left end, as #rrggbb.
 */
const canvasColoursAt = `(lines) => {
  const canvas = document.querySelector('figure.eq-chart[data-metric="temperature"] canvas');
  const context = canvas.getContext('2d');
  const ratio = window.devicePixelRatio || 1;
  return lines.map((line) => {
    const [r, g, b] = context.getImageData(
      Math.round((line.left + 3) * ratio), Math.round(line.y * ratio), 1, 1).data;
    return '#' + [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('');
  });
}`;

describe('the equipment page', () => {
  it('charts one point per closed window, draws the thresholds and passes axe-core', async () => {
    if (!producer) throw new Error('no producer');
    // Three closed windows (the middle one hot enough for a critical alert), then a reading
    // now, which moves the partition's watermark past them. The window of the latest reading
    // comes from its own time, so the two always agree; the three end at least one window
    // before it, so the watermark is past their end plus the allowed lateness whatever the
    // minute (one ending where the latest window starts would wait for the idle timer).
    const latestAt = Date.now() - 1000;
    const current = Math.floor(latestAt / windowMs) * windowMs;
    const starts = [current - 4 * windowMs, current - 3 * windowMs, current - 2 * windowMs];
    const temperatures = [60, 95, 64];
    const readings = starts.flatMap((start, index) =>
      [10, 70].map((second) => ({
        equipmentId,
        timestamp: new Date(start + second * 1000).toISOString(),
        temperature: (temperatures[index] ?? 60) + second / 100,
        vibration: 2,
        pressure: 40,
      })),
    );
    readings.push({
      equipmentId,
      timestamp: new Date(latestAt).toISOString(),
      temperature: 61,
      vibration: 2,
      pressure: 41,
    });
    await producer.sendBatch(
      readings.map((body) => ({ body })),
      { partitionKey: equipmentId },
    );

    // The API's history: exactly the windows sent.
    const telemetryPath = `equipment/${equipmentId}/telemetry`;
    await expect
      .poll(
        async () =>
          ((await stack.api(adminToken, 'GET', telemetryPath)) as { history: unknown[] }).history
            .length,
        { timeout: deliveryLimitMs, interval: 500, message: 'closed windows in the API' },
      )
      .toBe(starts.length);
    const { history } = (await stack.api(adminToken, 'GET', telemetryPath)) as {
      history: { windowStart: string }[];
    };
    expect(history.map((w) => Date.parse(w.windowStart)).sort()).toEqual(starts);
    await expect
      .poll(
        async () =>
          (
            (await stack.api(adminToken, 'GET', `alerts?equipmentId=${equipmentId}`)) as {
              items: unknown[];
            }
          ).items.length,
        { timeout: deliveryLimitMs, interval: 500, message: 'alerts in the API' },
      )
      .toBe(1);

    const page = await openEquipmentPage(equipmentId);
    const chart = page.locator('figure.eq-chart[data-metric="temperature"]');
    // One point per closed window, in each metric's chart.
    await expect
      .poll(() => chart.getAttribute('data-points'), {
        timeout: 30_000,
        interval: 250,
        message: 'points in the temperature chart',
      })
      .toBe(String(starts.length));
    for (const metric of ['vibration', 'pressure']) {
      expect(
        await page.locator(`figure.eq-chart[data-metric="${metric}"]`).getAttribute('data-points'),
      ).toBe(String(starts.length));
    }
    // The alert is in the history table and marked on the time axis.
    await page.locator('#eq-alerts tr[data-severity="critical"]').waitFor({ timeout: 30_000 });
    await expect
      .poll(() => chart.getAttribute('data-drawn-alerts'), { timeout: 30_000, interval: 250 })
      .toBe('1');

    // The default thresholds, drawn: each line's colour is on the canvas where it was drawn
    // (at the left edge, 24 hours ago, where no data is).
    const drawn = JSON.parse(
      (await chart.getAttribute('data-drawn-thresholds')) ?? '[]',
    ) as DrawnLine[];
    expect(drawn.map((line) => [line.kind, line.value])).toEqual([
      ['medium', 75],
      ['high', 80],
      ['critical', 90],
      ['clear', 70],
    ]);
    const colours = await page.evaluate(`(${canvasColoursAt})(${JSON.stringify(drawn)})`);
    expect(colours).toEqual(['#b45309', '#c2410c', '#b91c1c', '#15803d']);
    expect(await chart.locator('figcaption').textContent()).toMatch(
      /medium above 75.*high above 80.*critical above 90.*clears below 70/,
    );

    // On a phone the alert history keeps its words whole (the page scrolls the table
    // sideways if it must, rather than breaking "Severity" into "Se ver ity").
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(`(${cellsBreakingWords})('#eq-alerts th, #eq-alerts td')`)).toEqual(
      [],
    );
    await page.setViewportSize({ width: 1280, height: 800 });

    // The live part: the latest reading sent.
    await expect
      .poll(() => page.locator('#eq-live dd[data-metric="temperature"]').textContent(), {
        timeout: 30_000,
        interval: 250,
      })
      .toBe('61 °C');

    // Switching to 7 days reads that range: the same three windows.
    await page.click('button[data-range="7d"]');
    await page.waitForSelector('button[data-range="7d"][aria-pressed="true"]');
    expect(await chart.getAttribute('data-points')).toBe(String(starts.length));

    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect(serious).toEqual([]);
    await page.context().close();
    expect(stack.pageErrors).toEqual([]);
  }, 240_000);
});
