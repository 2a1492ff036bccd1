/**
 * The dashboard's handling of what Web PubSub delivers, in headless Chromium against the
 * real local host: envelopes are sent here through the host's Web PubSub stand-in with the
 * service SDK, to the groups and users the real `/api/negotiate` put the page in. Repeats
 * (the same alert by group and by user id) and stale versions are dropped, server text is
 * shown as text, and nothing outside the user's equipment is shown. New alerts slot in without
 * moving what the reader is looking at; and a technician silences a machine of theirs from a
 * row (the alerts here need not be in the store: a machine's silence names the machine).
 */
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useDashboardStack } from '../helpers/dashboard.js';

const stack = useDashboardStack();
const deliveryLimitMs = 30_000;

let service: WebPubSubServiceClient;
let aliceToken: string;
let adminToken: string;
let mine: string[];
let theirs: string;

beforeAll(async () => {
  service = stack.webPubSub();
  aliceToken = await stack.issuer.sign({ sub: 'tech-alice', roles: ['Technician'] }, '30m');
  adminToken = await stack.issuer.sign({ sub: 'messages-admin', roles: ['Admin'] }, '30m');
  const me = await stack.api(aliceToken, 'GET', 'me');
  mine = (me.equipmentIds as number[]).map(String);
  theirs = Array.from({ length: 200 }, (_, i) => String(i + 1)).find((id) => !mine.includes(id))!;
  expect(mine.length).toBeGreaterThan(2);
});

let serial = 0;

/** An alert as the fan-out sends it (the API's Alert and a version). */
function alertOf(equipmentId: string, overrides: Record<string, unknown> = {}) {
  serial += 1;
  const start = new Date(Date.UTC(2026, 0, 1, 8, 0) + serial * 300_000).toISOString();
  const end = new Date(Date.parse(start) + 300_000).toISOString();
  return {
    id: `${equipmentId}:temperature:${start}`,
    equipmentId,
    metric: 'temperature',
    status: 'open',
    severity: 'high',
    occurrences: 1,
    firstWindowStart: start,
    lastWindowStart: start,
    raisedAt: end,
    breach: {
      metric: 'temperature',
      severity: 'high',
      mean: 85,
      threshold: 80,
      comparison: '>',
      unit: '°C',
      description: 'Engine running hot',
      recommendedAction: 'Check the coolant level',
    },
    window: {
      start,
      end,
      summary: { readings: 3, metrics: { temperature: { count: 3, min: 84, max: 86, mean: 85 } } },
    },
    etag: '"1"',
    version: 1,
    ...overrides,
  };
}

const item = (page: Page, id: string) => page.locator(`tr.alert[data-alert-id="${id}"]`);

/**
 * Sends a marker alert last and waits for it: messages on one connection arrive in order, so
 * everything sent before it has been handled by then.
 */
async function settle(page: Page, equipmentId: string, to: (envelope: object) => Promise<void>) {
  const marker = alertOf(equipmentId);
  await to({ type: 'alert.raised', alert: marker });
  await item(page, marker.id).waitFor({ timeout: deliveryLimitMs });
}

describe('the dashboard with live messages', () => {
  it('shows an alert once, whether it came by group or by user id, and only newer versions', async () => {
    const page = await stack.open(aliceToken);
    const own = mine[0]!;
    const toGroup = (envelope: object) => service.group(`equipment.${own}`).sendToAll(envelope);
    const toUser = (envelope: object) => service.sendToUser('tech-alice', envelope);
    const first = alertOf(own);
    await toGroup({ type: 'alert.raised', alert: first });
    await toUser({ type: 'alert.raised', alert: first });
    await item(page, first.id).waitFor({ timeout: deliveryLimitMs });
    expect(await item(page, first.id).getAttribute('data-severity')).toBe('high');

    const escalated = { ...first, severity: 'critical', occurrences: 2, version: 3 };
    await toUser({ type: 'alert.escalated', alert: escalated });
    await toGroup({ type: 'alert.escalated', alert: escalated });
    await page.waitForSelector(`tr.alert[data-alert-id="${first.id}"][data-severity="critical"]`, {
      timeout: deliveryLimitMs,
    });
    // Version 2 arrives late: it must not undo version 3.
    await toGroup({ type: 'alert.updated', alert: { ...first, severity: 'medium', version: 2 } });
    await settle(page, own, toGroup);
    expect(await item(page, first.id).getAttribute('data-severity')).toBe('critical');
    expect(await item(page, first.id).count()).toBe(1);

    // Critical first: the escalated alert is above the (high) marker raised after it.
    expect(await page.locator('tr.alert').first().getAttribute('data-alert-id')).toBe(first.id);
    expect(await page.locator('tr.alert').last().getAttribute('data-alert-id')).not.toBe(first.id);
    await page.context().close();
  }, 120_000);

  it('shows what the server sends as text, never as markup', async () => {
    const page = await stack.open(aliceToken);
    const own = mine[1]!;
    const hostile = alertOf(own, {
      breach: {
        ...alertOf(own).breach,
        description: '<img src=x onerror="window.pwned=1">Hot',
        recommendedAction: '<b>bold</b> & "quoted"',
      },
    });
    await service.sendToUser('tech-alice', { type: 'alert.raised', alert: hostile });
    await item(page, hostile.id).waitFor({ timeout: deliveryLimitMs });
    // The alert's own page shows the description and the recommended action.
    await item(page, hostile.id).locator('a.equipment-name').click();
    const li = page.locator(`article.alert[data-alert-id="${hostile.id}"]`);
    await li.waitFor({ timeout: deliveryLimitMs });
    expect(await li.locator('.description').textContent()).toBe(
      '<img src=x onerror="window.pwned=1">Hot',
    );
    expect(await li.locator('.action').textContent()).toBe('Recommended: <b>bold</b> & "quoted"');
    expect(await li.locator('img, b').count()).toBe(0);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    await page.context().close();
  }, 120_000);

  it("ignores other equipment, malformed messages, and follows the user's equipment status", async () => {
    const page = await stack.open(aliceToken);
    const own = mine[2]!;
    const toUser = (envelope: object | string) => service.sendToUser('tech-alice', envelope);
    const foreign = alertOf(theirs);
    await toUser({ type: 'alert.raised', alert: foreign });
    await toUser({
      type: 'equipment.status',
      equipmentId: theirs,
      at: new Date().toISOString(),
      reading: { temperature: 1 },
    });
    await toUser('not json {');
    await toUser({ type: 'alert.raised' });
    await toUser({ type: 'alert.raised', alert: { ...alertOf(own), version: 'x' } });
    const at = new Date(Date.UTC(2026, 10, 24, 8, 3, 7)).toISOString();
    await service.group(`equipment.${own}`).sendToAll({
      type: 'equipment.status',
      equipmentId: own,
      at,
      reading: { temperature: 71.25, vibration: 2.5, pressure: 42 },
      window: {
        start: '2026-11-24T08:00:00.000Z',
        end: '2026-11-24T08:05:00.000Z',
        summary: {
          readings: 4,
          metrics: { temperature: { count: 4, min: 70, max: 72, mean: 71.25 } },
        },
      },
    });
    await settle(page, own, toUser);
    expect(await page.locator(`tr.alert[data-equipment-id="${theirs}"]`).count()).toBe(0);
    await page.click('a[data-nav="overview"]');
    expect(await page.locator(`li.machine[data-equipment-id="${theirs}"]`).count()).toBe(0);
    const row = page.locator(`li.machine[data-equipment-id="${own}"]`);
    await expect
      .poll(() => row.getAttribute('data-at'), { timeout: deliveryLimitMs, interval: 200 })
      .toBe(at);
    await page.context().close();
  }, 120_000);

  it('slots live alerts in above the reader without moving the row they read or the focus', async () => {
    const page = await stack.open(aliceToken);
    const own = mine[0]!;
    const toUser = (envelope: object) => service.sendToUser('tech-alice', envelope);
    const earlier = Array.from({ length: 12 }, () => alertOf(own, { severity: 'medium' }));
    for (const alert of earlier) await toUser({ type: 'alert.raised', alert });
    await settle(page, own, toUser);
    // Newest first: the reader is halfway down the list, with the focus on one row's button.
    const read = item(page, earlier[5]!.id);
    await read.locator('button[data-action="acknowledged"]').focus();
    await page.evaluate(
      `window.scrollBy(0, document.querySelector('tr.alert[data-alert-id="${earlier[5]!.id}"]').getBoundingClientRect().top - 400)`,
    );
    const scrolledBefore = await page.evaluate<number>('window.scrollY');
    expect(scrolledBefore).toBeGreaterThan(0);
    const before = await read.boundingBox();

    // Two alerts that sort above it (critical and high come before medium).
    const critical = alertOf(own, { severity: 'critical' });
    const high = alertOf(own, { severity: 'high' });
    await toUser({ type: 'alert.raised', alert: critical });
    await toUser({ type: 'alert.raised', alert: high });
    await item(page, high.id).waitFor({ timeout: deliveryLimitMs });
    await item(page, critical.id).waitFor({ timeout: deliveryLimitMs });
    expect(await page.locator('tr.alert').first().getAttribute('data-alert-id')).toBe(critical.id);

    // The page scrolled by what was added above, so the row stays put on screen.
    expect((await read.boundingBox())?.y).toBeCloseTo(before?.y ?? Number.NaN, 0);
    expect(await page.evaluate('window.scrollY')).toBeGreaterThan(scrolledBefore);
    expect(await page.evaluate("document.activeElement?.closest('tr')?.dataset.alertId")).toBe(
      earlier[5]!.id,
    );
    await page.context().close();
  }, 120_000);

  it('gives admins the alerts group and technicians not', async () => {
    const admin = await stack.open(adminToken);
    const alice = await stack.open(aliceToken);
    // Alice's own equipment, but sent only to the dashboards' group, which she is not in.
    const alert = alertOf(mine[0]!);
    await service.group('alerts').sendToAll({ type: 'alert.raised', alert });
    await item(admin, alert.id).waitFor({ timeout: deliveryLimitMs });
    await settle(alice, mine[0]!, (envelope) => service.sendToUser('tech-alice', envelope));
    expect(await item(alice, alert.id).count()).toBe(0);
    await admin.context().close();
    await alice.context().close();
    expect(stack.pageErrors).toEqual([]);
  }, 120_000);

  it('lets a technician silence their machine from the table, and shows the 403 for one no longer theirs', async () => {
    const me = await stack.api(aliceToken, 'GET', 'me');
    const page = await stack.open(aliceToken);
    const [kept, lost] = [mine[1]!, mine[2]!];
    const toUser = (envelope: object) => service.sendToUser('tech-alice', envelope);
    const onKept = alertOf(kept);
    const onLost = alertOf(lost);
    await toUser({ type: 'alert.raised', alert: onKept });
    await toUser({ type: 'alert.raised', alert: onLost });
    await item(page, onLost.id).waitFor({ timeout: deliveryLimitMs });

    const silence = async (alertId: string, scope: string) => {
      await item(page, alertId).locator('button[data-action="silence"]').click();
      await page.locator('#silence-dialog').waitFor();
      // Hers to silence: the alert or her machine; a type or a site is for admins.
      expect(await page.locator('#silence-scope option').evaluateAll((o) => o.length)).toBe(3);
      await page.selectOption('#silence-scope', scope);
      await page.selectOption('#silence-duration', '1');
      await page.fill('#silence-reason', 'Recalibrating the sensor');
      await page.click('#silence-form button[type="submit"]');
    };

    // Her machine, for its temperature alerts, for an hour.
    await silence(onKept.id, 'machine-metric');
    await page.locator('#silence-dialog').waitFor({ state: 'hidden' });
    const created = await stack.api(adminToken, 'GET', `silences?equipmentId=${kept}&state=active`);
    expect(created.items).toMatchObject([
      {
        scope: 'equipment',
        equipmentId: Number(kept),
        metric: 'temperature',
        alertId: null,
        reason: 'Recalibrating the sensor',
        createdBy: 'tech-alice',
      },
    ]);
    // An hour from when the page sent it (the server starts it on arrival, a moment later).
    const lasts = Date.parse(created.items[0].endsAt) - Date.parse(created.items[0].startsAt);
    expect(lasts).toBeGreaterThan(55 * 60_000);
    expect(lasts).toBeLessThanOrEqual(60 * 60_000);

    // The other machine is taken off her while her page is open: the API refuses, and the
    // form says why in the API's words.
    await stack.api(adminToken, 'DELETE', `equipment/${lost}/technicians/${me.technicianId}`);
    try {
      await silence(onLost.id, 'machine');
      const problem = page.locator('#silence-problem');
      await problem.waitFor();
      expect(await problem.textContent()).toBe(
        `Not allowed: Technicians may silence only equipment assigned to them; equipment ${lost} is not.`,
      );
      expect(await page.locator('#silence-dialog').isVisible()).toBe(true);
      expect(
        (await stack.api(adminToken, 'GET', `silences?equipmentId=${lost}`)).items,
      ).toHaveLength(0);
    } finally {
      await stack.api(adminToken, 'PUT', `equipment/${lost}/technicians/${me.technicianId}`);
    }
    await page.context().close();
    expect(stack.pageErrors).toEqual([]);
  }, 120_000);
});
