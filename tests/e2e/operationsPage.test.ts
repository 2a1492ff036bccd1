/**
 * The Operations view in Debian's Chromium against the real local host, at phone width: a
 * malformed event sent through `EventHubProducerClient` is dead-lettered by the running
 * pipeline, and the view (reached from the admin's nav link) shows exactly what
 * `GET /api/operations` answers: lag per partition, dead letters by reason, which open to the
 * letters themselves, and the delivery backlog; axe-core finds nothing serious. A technician
 * sees no nav entry, and the route tells them it is for admins. Waits are bounded; nothing
 * asserts on how long anything took.
 */
import AxeBuilder from '@axe-core/playwright';
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDashboardStack } from '../helpers/dashboard.js';

/** Bounded wait for the pipeline to dead-letter an event on a busy shared machine. */
const pipelineLimitMs = 120_000;

const stack = useDashboardStack();
let producer: EventHubProducerClient | undefined;
let adminToken: string;
let technicianToken: string;

interface OperationsAnswer {
  pipelineLag: { partitions: { partitionId: string; events: number }[] } | null;
  deadLetters: { total: number; byReason: { reason: string; count: number }[] } | null;
  deliveryBacklog: { pending: number } | null;
  unavailable: unknown[];
}

const operations = async () =>
  (await stack.api(adminToken, 'GET', 'operations')) as OperationsAnswer;

beforeAll(async () => {
  adminToken = await stack.issuer.sign({ sub: 'operations-admin', roles: ['Admin'] }, '30m');
  // A seeded technician (dev/seed.ts), as in the dashboard's own tests.
  technicianToken = await stack.issuer.sign({ sub: 'tech-alice', roles: ['Technician'] }, '30m');
  producer = new EventHubProducerClient(stack.banner(/devices \(send only\): (\S+)/), 'telemetry');
});

afterAll(async () => {
  await producer?.close();
});

/** axe-core's serious and critical findings on what the page shows now (none expected). */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * Each row of the table under `section` as [its `data-key` attribute, its `field` cell's text];
 * run in the page as source (this project's Node typecheck has no DOM).
 */
const rowsOf = (section: string, key: string, field: string) =>
  `[...document.querySelectorAll('#${section} tbody tr')].map((row) => ` +
  `[row.getAttribute('data-${key}'), row.querySelector('[data-field="${field}"]')?.textContent])`;

/** What the view shows now, in the API's terms. */
async function shown(page: Page): Promise<unknown> {
  return {
    partitions: await page.evaluate(rowsOf('ops-lag', 'partition', 'events')),
    byReason: await page.evaluate(rowsOf('ops-letters', 'reason', 'count')),
    pending: await page.locator('#ops-backlog [data-field="pending"]').textContent(),
  };
}

/** The same figures from the API's answer, as the view writes them (whole numbers). */
function expected(answer: OperationsAnswer): unknown {
  return {
    partitions: (answer.pipelineLag?.partitions ?? []).map((p) => [
      p.partitionId,
      p.events.toLocaleString('en-US'),
    ]),
    byReason: (answer.deadLetters?.byReason ?? []).map((r) => [
      r.reason,
      r.count.toLocaleString('en-US'),
    ]),
    pending: answer.deliveryBacklog?.pending.toLocaleString('en-US'),
  };
}

describe('the operations view', () => {
  it('shows the figures the API answers, opens the dead letters of a reason, and passes axe-core', async () => {
    if (!producer) throw new Error('no producer');
    // Bytes, as a device sends them (a string body would arrive as a JSON string: invalid).
    await producer.sendBatch([{ body: Buffer.from('{"equipmentId": "12", "temperat') }]);
    await expect
      .poll(
        async () =>
          (await operations()).deadLetters?.byReason.find((r) => r.reason === 'malformed')?.count ??
          0,
        { timeout: pipelineLimitMs, interval: 500, message: 'a malformed dead letter' },
      )
      .toBeGreaterThan(0);
    // The committed state catches up with the hub once the batch is through.
    await expect
      .poll(async () => (await operations()).pipelineLag?.partitions.some((p) => p.events > 0), {
        timeout: pipelineLimitMs,
        interval: 500,
        message: 'every partition caught up',
      })
      .toBe(false);
    const answer = await operations();
    expect(answer.unavailable).toEqual([]);
    expect(answer.pipelineLag?.partitions.length).toBeGreaterThan(0);

    const page = await stack.open(adminToken, '#/');
    expect(await page.locator('#nav-operations').isVisible()).toBe(true);
    await page.click('#nav-operations');
    expect(new URL(page.url()).hash).toBe('#/operations');
    await page.waitForSelector('#ops-lag tbody tr', { timeout: 30_000 });
    // The view reads every 15 s: wait for a read that agrees, then compare in full.
    await expect
      .poll(
        async () =>
          JSON.stringify(await shown(page)) === JSON.stringify(expected(await operations())),
        { timeout: 30_000, interval: 500, message: 'the view shows the API’s figures' },
      )
      .toBe(true);
    expect(await shown(page)).toEqual(expected(await operations()));

    // "Show" opens the newest dead letters of that reason: the one sent is among them.
    const { items } = (await stack.api(adminToken, 'GET', 'dead-letters?reason=malformed')) as {
      items: { id: string }[];
    };
    const show = page.locator('#ops-letters tr[data-reason="malformed"] button');
    await show.click();
    await page.waitForSelector('#ops-opened-letters li', { timeout: 30_000 });
    expect(await show.getAttribute('aria-expanded')).toBe('true');
    const listed = await page.locator('#ops-opened-letters li code').allTextContents();
    expect(listed).toEqual(items.slice(0, 20).map((item) => item.id));

    // Phone width: nothing wider than the screen, and nothing serious for axe.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await seriousViolations(page)).toEqual([]);
    expect(stack.pageErrors).toEqual([]);
    await page.context().close();
  }, 300_000);

  it('is not offered to a technician, and says it is for admins', async () => {
    const page = await stack.open(technicianToken, '#/');
    expect(await page.locator('#nav-operations').isHidden()).toBe(true);
    await page.goto(`${stack.host.base}/api/dashboard/#/operations`);
    await expect
      .poll(() => page.locator('#view-operations .ops-status').textContent(), {
        timeout: 30_000,
        interval: 250,
      })
      .toBe('Operations are for admins.');
    expect(stack.pageErrors).toEqual([]);
    await page.context().close();
  }, 60_000);
});
