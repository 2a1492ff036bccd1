/**
 * The live dashboard end to end, in Debian's headless Chromium driven by playwright-core:
 * the real local host (`dev/start.ts`, as `npm start` runs it) serves the dashboard built by
 * Vite here; readings go through `EventHubProducerClient` to the Event Hubs stand-in, the
 * host's trigger folds them into windows in the local Cosmos server, the fan-out delivers
 * the alerts and equipment status through the Web PubSub stand-in, and the pages show them.
 * Every wait is bounded; nothing asserts on how long anything took.
 */
import AxeBuilder from '@axe-core/playwright';
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionIndexForKey } from '../../dev/eventhubs/partitionKey.js';
import { onTestServer } from '../helpers/database.js';
import { useDashboardStack } from '../helpers/dashboard.js';

/** Bounded waits for what crosses the pipeline (a batch, a window, a delivery). */
const deliveryLimitMs = 60_000;
const windowMs = 5 * 60_000;

const stack = useDashboardStack();
const { pageErrors } = stack;
let producer: EventHubProducerClient | undefined;
let adminToken: string;
let aliceToken: string;
const api = (token: string, method: string, path: string, body?: unknown) =>
  stack.api(token, method, path, body);
const openDashboard = (token: string, view?: string) => stack.open(token, view);

beforeAll(async () => {
  adminToken = await stack.issuer.sign({ sub: 'dashboard-admin', roles: ['Admin'] }, '30m');
  aliceToken = await stack.issuer.sign({ sub: 'tech-alice', roles: ['Technician'] }, '30m');
  producer = new EventHubProducerClient(stack.banner(/devices \(send only\): (\S+)/), 'telemetry');
});

afterAll(async () => {
  await producer?.close();
});

/**
 * Readings that raise a critical temperature alert for `equipmentId`: three hot readings in a
 * window that ended minutes ago, then a normal one now, which moves the partition's
 * watermark past that window so it closes. Returns the time of the last reading.
 */
async function raiseAlert(equipmentId: string): Promise<{ windowStart: number; at: number }> {
  if (!producer) throw new Error('no producer');
  const now = Date.now();
  const windowStart = Math.floor(now / windowMs) * windowMs - 2 * windowMs;
  const hot = [10, 20, 30].map((s) => ({
    equipmentId,
    timestamp: new Date(windowStart + s * 1000).toISOString(),
    temperature: 95,
    vibration: 2,
    pressure: 40,
  }));
  const at = now - 1_000;
  const latest = {
    equipmentId,
    timestamp: new Date(at).toISOString(),
    temperature: 61.5,
    vibration: 1.5,
    pressure: 41,
  };
  await producer.sendBatch(
    [...hot, latest].map((body) => ({ body })),
    { partitionKey: equipmentId },
  );
  return { windowStart, at };
}

interface Chosen {
  /** Alice's equipment, on three different partitions with the other equipment. */
  own: string;
  ownLater: string;
  /** Alice's, on the fourth partition. */
  ownRace: string;
  /** Not alice's. */
  theirs: string;
  mine: string[];
}
let chosen: Chosen | undefined;

/**
 * Equipment for the alerts, each on a partition of its own: a window closes for the whole
 * partition, so readings for an older window sent there later would be late.
 */
async function choose(): Promise<Chosen> {
  if (chosen) return chosen;
  const me = await api(aliceToken, 'GET', 'me');
  expect(me).toMatchObject({ subject: 'tech-alice', roles: ['Technician'] });
  const mine = (me.equipmentIds as number[]).map(String);
  const partition = (id: string) => partitionIndexForKey(id, 4);
  const own = mine[0];
  const theirs = Array.from({ length: 200 }, (_, i) => String(i + 1)).find(
    (id) => !mine.includes(id) && partition(id) !== partition(own ?? ''),
  );
  const ownLater = mine.find(
    (id) => ![partition(own ?? ''), partition(theirs ?? '')].includes(partition(id)),
  );
  const ownRace = mine.find(
    (id) => ![own, theirs, ownLater].map((x) => partition(x ?? '')).includes(partition(id)),
  );
  if (!own || !theirs || !ownLater || !ownRace) {
    throw new Error(`seed data changed: ${JSON.stringify(me)}`);
  }
  chosen = { own, ownLater, ownRace, theirs, mine };
  return chosen;
}

/**
 * Run in the page (as source: this project's Node typecheck has no DOM): what the alerts view
 * looks like at phone size. Elements wider than their box, severity badges that take more
 * than one line, machine names broken inside a word (a line narrower than the name's longest
 * word), the first card's width and its badge's height, and the status cell's label.
 */
const phoneLayoutCheck = `(() => {
  const overflowing = [
    document.documentElement,
    ...document.querySelectorAll('#view-alerts, #view-alerts .table-scroll, tr.alert'),
  ]
    .filter((e) => e.scrollWidth > e.clientWidth)
    .map((e) => e.id || e.className || e.tagName);
  const brokenBadges = [...document.querySelectorAll('tr.alert .badge')].filter(
    (badge) => badge.getClientRects().length !== 1,
  ).length;
  const brokenNames = [...document.querySelectorAll('tr.alert .equipment-name')]
    .filter((name) => {
      const longest = Math.max(
        ...(name.textContent || '').split(/\\s+/).map((word) => {
          const probe = document.createElement('span');
          probe.textContent = word;
          probe.style.whiteSpace = 'nowrap';
          name.append(probe);
          const width = probe.getBoundingClientRect().width;
          probe.remove();
          return width;
        }),
      );
      return [...name.getClientRects()].some((line) => line.width < longest - 1);
    })
    .map((name) => name.textContent);
  const firstBadge = document.querySelector('tr.alert .badge');
  const status = document.querySelector('tr.alert td[data-label="Status"]');
  return {
    overflowing,
    brokenBadges,
    brokenNames,
    badgeHeight: firstBadge ? firstBadge.getBoundingClientRect().height : 0,
    cardWidth: document.querySelector('tr.alert')?.getBoundingClientRect().width ?? 0,
    statusLabel: status ? getComputedStyle(status, '::before').content : '',
  };
})()`;

/** axe-core's serious and critical findings on what the page shows now (none expected). */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every page of `GET /api/equipment`, as the overview reads it. */
async function allEquipment(
  token: string,
): Promise<{ id: number; status: string; type: string }[]> {
  const items: { id: number; status: string; type: string }[] = [];
  let cursor: string | null = null;
  do {
    const page = await api(token, 'GET', `equipment?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/**
 * An open alert to work on: one an earlier test left open, or, when this test runs alone, a
 * new one. A window closes for its whole partition, so raising another alert on a partition
 * an earlier test already moved past that window would only make late readings.
 */
async function openAlert(): Promise<{ id: string; equipmentId: string }> {
  const listed = await api(adminToken, 'GET', 'alerts?status=open&limit=1');
  const found = listed.items[0] as { id: string; equipmentId: string } | undefined;
  if (found) return found;
  const own = (await choose()).own;
  const raised = await raiseAlert(own);
  const id = `${own}:temperature:${new Date(raised.windowStart).toISOString()}`;
  await expect
    .poll(
      async () =>
        (
          await fetch(`${stack.host.base}/api/alerts/${encodeURIComponent(id)}`, {
            headers: { authorization: `Bearer ${adminToken}` },
          })
        ).status,
      { timeout: deliveryLimitMs, interval: 500 },
    )
    .toBe(200);
  return { id, equipmentId: own };
}

function alertSelector(equipmentId: string, windowStart: number): string {
  const id = `${equipmentId}:temperature:${new Date(windowStart).toISOString()}`;
  return `tr.alert[data-alert-id="${id}"]`;
}

describe('the live dashboard', () => {
  it('serves the built page with its hashed assets under /api/dashboard/', async () => {
    const page = await fetch(`${stack.host.base}/api/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/api\/dashboard\/assets\/[^"]+)"/g)].map(
      (m) => m[1] ?? '',
    );
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const response = await fetch(`${stack.host.base}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toMatch(/^text\/(javascript|css)/);
    }
    for (const path of ['..%2F..%2Fpackage.json', '.vite/manifest.json', 'assets/nope.js']) {
      const response = await fetch(`${stack.host.base}/api/dashboard/${path}`);
      expect([400, 404], path).toContain(response.status);
    }
    expect((await fetch(`${stack.host.base}/api/dashboard/`, { method: 'POST' })).status).toBe(405);
  });

  it('shows each user the alerts and status they may see, live, and acknowledges through the API', async () => {
    const { own, theirs, mine } = await choose();

    const admin = await openDashboard(adminToken);
    const alice = await openDashboard(aliceToken, '#/');
    // Alice's fleet is her equipment, and no other.
    await expect
      .poll(() => alice.locator('#fleet-total').textContent(), { timeout: 30_000, interval: 250 })
      .toBe(`(${mine.length} machines)`);
    const [ownMachine, theirMachine] = [
      await api(adminToken, 'GET', `equipment/${own}`),
      await api(adminToken, 'GET', `equipment/${theirs}`),
    ];
    await alice.fill('#fleet-filters input[name="search"]', theirMachine.name);
    expect(await alice.locator(`li.machine[data-equipment-id="${theirs}"]`).count()).toBe(0);
    await alice.fill('#fleet-filters input[name="search"]', ownMachine.name);
    expect(await alice.locator('#who').textContent()).toContain('tech-alice');
    await alice.click('a[data-nav="alerts"]');
    await alice.locator('#view-alerts').waitFor();

    // Someone else's equipment first, then alice's.
    const other = await raiseAlert(theirs);
    const hers = await raiseAlert(own);
    await admin.waitForSelector(alertSelector(theirs, other.windowStart), {
      timeout: deliveryLimitMs,
    });
    await admin.waitForSelector(alertSelector(own, hers.windowStart), { timeout: deliveryLimitMs });
    const item = alice.locator(alertSelector(own, hers.windowStart));
    await item.waitFor({ timeout: deliveryLimitMs });
    expect(await item.getAttribute('data-severity')).toBe('critical');
    expect(await item.getAttribute('data-status')).toBe('open');
    expect(await item.locator('.breach').textContent()).toMatch(/95 °C > 90 °C/);
    // Delivered to her by group and by user id, shown once.
    expect(await alice.locator(`tr.alert[data-equipment-id="${own}"]`).count()).toBe(1);
    // The admin's page has both; alice's never shows the other equipment.
    expect(await alice.locator(`tr.alert[data-equipment-id="${theirs}"]`).count()).toBe(0);

    // Back on the overview (the back button), her machine's row follows the live status:
    // the latest reading sent, and its critical alert.
    await alice.goBack();
    const row = alice.locator(`li.machine[data-equipment-id="${own}"]`);
    await row.waitFor();
    await expect
      .poll(async () => Date.parse((await row.getAttribute('data-at')) ?? ''), {
        timeout: deliveryLimitMs,
        interval: 250,
      })
      .toBe(hers.at);
    expect(await row.getAttribute('data-severity')).toBe('critical');
    await alice.goForward();
    await alice.locator('#view-alerts').waitFor();

    // Acknowledge on alice's page: her page, the admin's page and the API agree.
    await item.locator('button[data-action="acknowledged"]').click();
    await alice.waitForSelector(
      `${alertSelector(own, hers.windowStart)}[data-status="acknowledged"]`,
      {
        timeout: deliveryLimitMs,
      },
    );
    await admin.waitForSelector(
      `${alertSelector(own, hers.windowStart)}[data-status="acknowledged"]`,
      {
        timeout: deliveryLimitMs,
      },
    );
    const id = await item.getAttribute('data-alert-id');
    const stored = await api(adminToken, 'GET', `alerts/${encodeURIComponent(id ?? '')}`);
    expect(stored).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'tech-alice' });

    // Resolve from the admin's page, recording the service done: the form refuses an empty
    // description, then the API stores the record and links it to the resolved alert.
    await admin
      .locator(alertSelector(own, hers.windowStart))
      .locator('button[data-action="resolved"]')
      .click();
    const resolveForm = admin.locator('#resolve-dialog');
    await resolveForm.waitFor();
    await admin.click('#resolve-form button[type="submit"]');
    expect(await admin.locator('#resolve-problem').textContent()).toMatch(/Describe/);
    await admin.fill('#resolve-description', 'Replaced the coolant pump.');
    await admin.fill('#resolve-hours', '1.5');
    await admin.selectOption('#resolve-type', 'emergency');
    await admin.click('#resolve-form button[type="submit"]');
    await resolveForm.waitFor({ state: 'hidden' });
    await alice.waitForSelector(`${alertSelector(own, hers.windowStart)}[data-status="resolved"]`, {
      timeout: deliveryLimitMs,
    });
    const resolved = await api(adminToken, 'GET', `alerts/${encodeURIComponent(id ?? '')}`);
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 'dashboard-admin' });
    expect(resolved.serviceRecordId).toEqual(expect.any(Number));
    expect(
      await api(adminToken, 'GET', `service-records/${resolved.serviceRecordId}`),
    ).toMatchObject({
      equipmentId: Number(own),
      alertId: id,
      status: 'completed',
      serviceType: 'emergency',
      description: 'Replaced the coolant pump.',
      laborHours: 1.5,
    });
    // The focus is back on the row that opened the form (its Resolve button is gone).
    expect(await admin.evaluate("document.activeElement?.closest('tr')?.dataset.alertId")).toBe(id);
    expect(await alice.locator(`tr.alert[data-equipment-id="${theirs}"]`).count()).toBe(0);
    await admin.context().close();
    await alice.context().close();
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('shows when it is offline, reconnects by itself and catches up', async () => {
    const own = (await choose()).ownLater;
    const page = await openDashboard(aliceToken);
    // The service drops every connection and, for a while, negotiation fails.
    await page.route('**/api/negotiate', (route) => route.abort());
    const service = stack.webPubSub();
    await service.closeAllConnections({ reason: 'test outage' });
    await page.waitForSelector('body[data-connection="offline"], body[data-connection="stopped"]', {
      timeout: 30_000,
    });
    expect(await page.locator('#connection').textContent()).toMatch(/Offline/);

    // An alert raised while the page is away is there once it is back.
    const raised = await raiseAlert(own);
    await page.unroute('**/api/negotiate');
    await page.waitForSelector('body[data-connection="online"]', { timeout: deliveryLimitMs });
    await page.waitForSelector(alertSelector(own, raised.windowStart), {
      timeout: deliveryLimitMs,
    });
    expect(await page.locator(alertSelector(own, raised.windowStart)).count()).toBe(1);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 180_000);
  it('re-reads and retries once when the alert changed between reading and writing it', async () => {
    const own = (await choose()).ownRace;
    const page = await openDashboard(aliceToken);
    const raised = await raiseAlert(own);
    const selector = alertSelector(own, raised.windowStart);
    await page.waitForSelector(selector, { timeout: deliveryLimitMs });
    const id = (await page.locator(selector).getAttribute('data-alert-id')) ?? '';
    // The admin acknowledges it just before alice's resolve reaches the API, so her If-Match
    // is stale: 412; the page reads it again and resolves it with the fresh ETag.
    let patches = 0;
    await page.route('**/api/alerts/*', async (route) => {
      if (route.request().method() === 'PATCH' && patches++ === 0) {
        const current = await fetch(`${stack.host.base}/api/alerts/${encodeURIComponent(id)}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const changed = await fetch(`${stack.host.base}/api/alerts/${encodeURIComponent(id)}`, {
          method: 'PATCH',
          headers: {
            authorization: `Bearer ${adminToken}`,
            'content-type': 'application/json',
            'if-match': current.headers.get('etag') ?? '',
          },
          body: JSON.stringify({ status: 'acknowledged' }),
        });
        expect(changed.status).toBe(200);
      }
      await route.continue();
    });
    const statuses: number[] = [];
    page.on('response', (response) => {
      if (response.request().method() === 'PATCH') statuses.push(response.status());
    });
    await page.locator(selector).locator('button[data-action="resolved"]').click();
    // Resolved without a service record (a false alarm, say).
    await page.uncheck('#resolve-record');
    await page.click('#resolve-form button[type="submit"]');
    await page.waitForSelector(`${selector}[data-status="resolved"]`, {
      timeout: deliveryLimitMs,
    });
    // The live update can show it resolved before the retried PATCH's answer is reported.
    await expect
      .poll(() => statuses, { timeout: deliveryLimitMs, interval: 100 })
      .toEqual([412, 200]);
    expect(await api(adminToken, 'GET', `alerts/${encodeURIComponent(id)}`)).toMatchObject({
      status: 'resolved',
      acknowledgedBy: 'dashboard-admin',
      resolvedBy: 'tech-alice',
    });
    expect(await page.locator('#problem').isHidden()).toBe(true);
    expect(
      (await api(adminToken, 'GET', `alerts/${encodeURIComponent(id)}`)).serviceRecordId,
    ).toBeUndefined();
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('shows alerts as cards on a phone, and silences one from the table by keyboard', async () => {
    const { id } = await openAlert();
    const page = await openDashboard(adminToken, '#/alerts');
    const row = page.locator(`tr.alert[data-alert-id="${id}"]`);
    await row.waitFor({ timeout: 30_000 });

    // 390 px wide: nothing scrolls sideways, and no word breaks letter by letter.
    const layout = await page.evaluate<{
      overflowing: string[];
      brokenBadges: number;
      brokenNames: string[];
      badgeHeight: number;
      cardWidth: number;
      statusLabel: string;
    }>(phoneLayoutCheck);
    expect(layout.overflowing).toEqual([]);
    expect(layout.brokenBadges).toBe(0);
    expect(layout.brokenNames).toEqual([]);
    // A card spans the view (not a 7-column row squeezed into it).
    expect(layout.cardWidth).toBeGreaterThan(300);
    expect(layout.badgeHeight).toBeLessThan(30);
    expect(layout.statusLabel).toBe('"Status: "');
    expect(await seriousViolations(page)).toEqual([]);

    // Silence it by keyboard: the form opens on Enter, refuses a missing reason, and the
    // silence is created until the alert is resolved.
    await row.locator('button[data-action="silence"]').focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#silence-dialog');
    await dialog.waitFor();
    expect(await page.evaluate("document.activeElement?.closest('dialog')?.id")).toBe(
      'silence-dialog',
    );
    expect(await seriousViolations(page)).toEqual([]);
    // Until resolved is for the alert alone; the machine needs an end.
    // The form fits the phone's screen too.
    expect(
      await page.evaluate(
        "[...document.querySelectorAll('#silence-dialog, #silence-dialog *')].filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.id || e.tagName)",
      ),
    ).toEqual([]);
    await page.selectOption('#silence-scope', 'machine');
    expect(await page.locator('#silence-duration').inputValue()).toBe('4');
    await page.selectOption('#silence-scope', 'alert');
    await page.selectOption('#silence-duration', 'resolved');
    await page.click('#silence-form button[type="submit"]');
    expect(await page.locator('#silence-problem').textContent()).toMatch(/reason/);
    await page.fill('#silence-reason', 'Sensor being replaced');
    await page.click('#silence-form button[type="submit"]');
    await dialog.waitFor({ state: 'hidden' });
    const silences = await api(
      adminToken,
      'GET',
      `silences?alertId=${encodeURIComponent(id)}&state=active`,
    );
    expect(silences.items).toMatchObject([
      { alertId: id, endsAt: null, reason: 'Sensor being replaced', createdBy: 'dashboard-admin' },
    ]);
    // The row says it is muted, naming the silence, and the focus is back on its button.
    await expect
      .poll(() => row.locator('.muted-label').textContent(), { timeout: 30_000, interval: 250 })
      .toContain(`silence ${silences.items[0].id}`);
    expect(await page.evaluate('document.activeElement?.dataset.action')).toBe('silence');

    // Escape closes the form without creating anything.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(
      (await api(adminToken, 'GET', `silences?alertId=${encodeURIComponent(id)}`)).items,
    ).toHaveLength(1);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('shows the fleet overview with the API’s counts, filters it, and passes axe on each view', async () => {
    const page = await openDashboard(adminToken, '#/');
    const fleet = await allEquipment(adminToken);
    await expect
      .poll(() => page.locator('#fleet-total').textContent(), { timeout: 30_000, interval: 250 })
      .toBe(`(${fleet.length} machines)`);
    const byStatus = new Map<string, number>();
    for (const machine of fleet)
      byStatus.set(machine.status, (byStatus.get(machine.status) ?? 0) + 1);
    for (const [status, count] of byStatus) {
      expect(await page.locator(`#counts-status dd[data-count="${status}"]`).textContent()).toBe(
        String(count),
      );
    }
    // Only the rows on screen are in the document, not one per machine.
    const drawn = await page.locator('li.machine').count();
    expect(drawn).toBeGreaterThan(0);
    expect(drawn).toBeLessThan(fleet.length);

    // Filter by type: the shown count is the API's count of that type.
    const type = fleet[0]?.type ?? '';
    await page.selectOption('#fleet-filters select[name="type"]', type);
    const ofType = fleet.filter((m) => m.type === type).length;
    expect(await page.locator('#fleet-shown').textContent()).toBe(
      `${ofType} of ${fleet.length} shown`,
    );
    // Search by name: one machine.
    const one = await api(adminToken, 'GET', `equipment/${fleet[0]?.id ?? 0}`);
    await page.fill('#fleet-filters input[name="search"]', one.name);
    await expect.poll(() => page.locator('li.machine').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('li.machine a').first().textContent()).toContain(one.name);
    expect(await seriousViolations(page)).toEqual([]);

    // Keyboard: the machine's link opens its page; back returns to the filtered overview.
    await page.locator('li.machine a').first().focus();
    await page.keyboard.press('Enter');
    await page.locator('#view-equipment').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/equipment/${one.id}`);
    await expect
      // Whatever the equipment page shows, it names the machine.
      .poll(() => page.locator('#view-equipment').textContent())
      .toContain(one.name);
    expect(await seriousViolations(page)).toEqual([]);
    await page.goBack();
    await page.locator('#view-overview').waitFor();

    await page.click('a[data-nav="alerts"]');
    await page.locator('#view-alerts').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.click('a[data-nav="operations"]');
    await page.locator('#view-operations').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('lands a deep link from an email on its alert, and filters the alert table', async () => {
    const { id, equipmentId: own } = await openAlert();
    // The link the emails carry: /api/dashboard/?alert=<id>.
    const page = await openDashboard(adminToken, `/?alert=${encodeURIComponent(id)}`);
    const detail = page.locator(`article.alert[data-alert-id="${id}"]`);
    await detail.waitFor({ timeout: 30_000 });
    expect(new URL(page.url()).hash).toBe(`#/alerts/${encodeURIComponent(id)}`);
    expect(new URL(page.url()).search).toBe('');
    const machine = await api(adminToken, 'GET', `equipment/${own}`);
    expect(await detail.locator('.equipment-name').textContent()).toContain(machine.name);
    expect(await seriousViolations(page)).toEqual([]);

    // A comment, then an acknowledgement with a note, both through the page.
    await page.fill('#comment-text', 'Checking the coolant first.');
    await page.click('#comment-form button[type="submit"]');
    await page.locator('#comments li', { hasText: 'Checking the coolant first.' }).waitFor();
    const comments = await api(adminToken, 'GET', `alerts/${encodeURIComponent(id)}/comments`);
    expect(comments.items).toMatchObject([
      { author: 'dashboard-admin', text: 'Checking the coolant first.' },
    ]);
    await page.fill('#acknowledge-note', 'On my way.');
    await page.click('#acknowledge-form button[type="submit"]');
    await page
      .locator(`article.alert[data-alert-id="${id}"][data-status="acknowledged"]`)
      .waitFor();
    expect(await api(adminToken, 'GET', `alerts/${encodeURIComponent(id)}`)).toMatchObject({
      status: 'acknowledged',
      acknowledgementNote: 'On my way.',
    });

    // Admins assign it to a technician from the same page.
    await page.locator('#assign-form').waitFor();
    const technician = await page.locator('#assignee option').nth(1).getAttribute('value');
    await page.selectOption('#assignee', technician ?? '');
    await page.click('#assign-form button[type="submit"]');
    await expect
      .poll(
        async (): Promise<unknown> =>
          (await api(adminToken, 'GET', `alerts/${encodeURIComponent(id)}`)).assigneeTechnicianId,
        { timeout: 30_000, interval: 250 },
      )
      .toBe(Number(technician));

    // The table, filtered to critical temperature alerts of that machine's site.
    await page.click('a[data-nav="alerts"]');
    const row = page.locator(`tr.alert[data-alert-id="${id}"]`);
    await row.waitFor();
    expect(await row.locator('.equipment-name').textContent()).toBe(machine.name);
    await page.selectOption('#alert-filters select[name="metric"]', 'pressure');
    await row.waitFor({ state: 'detached' });
    await page.selectOption('#alert-filters select[name="metric"]', 'temperature');
    await page.selectOption('#alert-filters select[name="severity"]', 'critical');
    await row.waitFor();
    expect(await page.locator('tr.alert:not([data-severity="critical"])').count()).toBe(0);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 180_000);
  it('shows the age of the last reading the fleet read gives, before any live message', async () => {
    if (!producer) throw new Error('no producer');
    // A machine new to the pipeline: its first reading is recorded at once (presenceRecorder).
    const machine = await api(adminToken, 'POST', 'equipment', {
      name: 'Fresh reader',
      type: 'pump',
      serialNumber: 'FRESH-READER-1',
    });
    const equipmentId = String(machine.id);
    await producer.sendBatch(
      [{ body: { equipmentId, timestamp: new Date().toISOString(), pressure: 41 } }],
      { partitionKey: equipmentId },
    );
    // The pipeline records the reading's minute in its partition's presence document.
    await expect
      .poll(
        async () => {
          const fleet = await api(adminToken, 'GET', 'fleet');
          return (fleet.rows as [number, ...unknown[]][]).find(([id]) => id === machine.id)?.[6];
        },
        { timeout: deliveryLimitMs, interval: 500 },
      )
      .toEqual(expect.any(String));
    // A page opened now has had no live message of it: the age comes from the fleet read.
    const page = await openDashboard(adminToken, '#/');
    await page.fill('#fleet-filters input[name="search"]', 'FRESH-READER-1');
    const row = page.locator(`li.machine[data-equipment-id="${equipmentId}"]`);
    await row.waitFor();
    expect(await row.locator('.last-reading').textContent()).toMatch(/^\d+ (s|min) ago$/);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('draws only a window of 10,000 machines, scrolls to the last one and filters them', async () => {
    const machines = 10_000;
    const before = (await api(adminToken, 'GET', 'fleet')).rows.length as number;
    // Straight into MariaDB, as bench/ does (the API makes one at a time); the last one
    // through the API, a write that makes every cached copy of the fleet out of date.
    const bulk = Array.from({ length: machines - before - 1 }, (_, i) => [
      `GRID-${i}`,
      `Grid machine ${i}`,
      'grid-loader',
      `Grid site ${i % 20}`,
      'Operational',
    ]);
    await onTestServer((c) =>
      c.query('INSERT INTO ??.equipment (serial_number, name, type, location, status) VALUES ?', [
        stack.databaseName,
        bulk,
      ]),
    );
    const last = await api(adminToken, 'POST', 'equipment', {
      name: 'Zeta last machine',
      type: 'grid-loader',
      location: 'Grid site 0',
      serialNumber: 'GRID-LAST',
    });
    const page = await openDashboard(adminToken, '#/');
    await expect
      .poll(() => page.locator('#fleet-total').textContent(), { timeout: 30_000, interval: 250 })
      .toBe(`(${machines} machines)`);
    // Only a window of rows is in the document: the viewport's worth and a margin.
    const bounded = async () => {
      const drawn = await page.locator('li.machine').count();
      expect(drawn).toBeGreaterThan(0);
      expect(drawn).toBeLessThan(60);
    };
    await bounded();
    // Scrolled to the end, the last machine is drawn (and still only a window).
    await page.locator('#fleet-scroll').evaluate((scroller) => {
      scroller.scrollTop = scroller.scrollHeight;
    });
    const lastRow = page.locator(`li.machine[data-equipment-id="${last.id}"]`);
    await lastRow.waitFor();
    expect(await lastRow.isVisible()).toBe(true);
    await bounded();
    // Filters: one site of the bulk machines, then a search for the last one.
    await page.selectOption('#fleet-filters select[name="site"]', 'Grid site 7');
    expect(await page.locator('#fleet-shown').textContent()).toBe(
      `${bulk.filter((row) => row[3] === 'Grid site 7').length} of ${machines} shown`,
    );
    await page.selectOption('#fleet-filters select[name="site"]', '');
    await page.fill('#fleet-filters input[name="search"]', 'GRID-LAST');
    await expect
      .poll(() => page.locator('#fleet-shown').textContent())
      .toBe(`1 of ${machines} shown`);
    expect(await page.locator('li.machine a').first().textContent()).toContain('Zeta last machine');
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
