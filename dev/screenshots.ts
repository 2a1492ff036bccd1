/**
 * `npm run screenshots`: with `npm start` running (and the same settings: PORT, LOCAL_DATA_DIR),
 * runs the simulator against it for a while (`--simulate-seconds`, default 400, so windows close
 * and alerts are raised; 0 when a simulator already runs), then photographs each view of the dashboard in Debian's Chromium at
 * desktop (1280×800) and phone (390×844) sizes, signed in as an admin, into
 * docs/screenshots/<view>-<size>.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventHubProducerClient } from '@azure/event-hubs';
import { chromium, type Page } from 'playwright-core';
import { loadLocalDevIssuer, localDeviceConnectionString } from './localStack.js';
import { localSettings, projectRoot } from './settings.js';
import { simulate } from './simulator.js';

const sizes = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

interface View {
  name: string;
  path: string;
  /** Signs in and waits until the view shows its data (best effort: a screenshot is still taken). */
  ready(page: Page): Promise<void>;
}

/**
 * The dashboard signs in by itself with the token in session storage; the pasted-token form
 * is the fallback when it does not.
 */
async function signInToDashboard(page: Page, token: string): Promise<void> {
  const online = 'body[data-connection="online"]';
  try {
    await page.waitForSelector(online, { timeout: 10_000 });
  } catch {
    await page.fill('#token', token);
    await page.click('#sign-in');
    await page.waitForSelector(online, { timeout: 20_000 });
  }
}

async function newestAlertEquipment(base: string, token: string): Promise<string> {
  const response = await fetch(`${base}/api/alerts?limit=20`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as {
    items?: { equipmentId?: unknown; severity?: unknown }[];
  };
  const items = body.items ?? [];
  const alert = items.find((a) => a.severity === 'critical') ?? items[0];
  return typeof alert?.equipmentId === 'string' ? alert.equipmentId : '1';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'simulate-seconds': { type: 'string', default: '400' },
      out: { type: 'string', default: join(projectRoot, 'docs', 'screenshots') },
    },
  });
  const simulateSeconds = Number(values['simulate-seconds']);
  if (!Number.isFinite(simulateSeconds) || simulateSeconds < 0)
    throw new Error('--simulate-seconds must be a number of seconds, 0 or more');
  const base = `http://127.0.0.1:${localSettings().port}`;
  const health = await fetch(`${base}/api/health`).catch(() => undefined);
  if (!health) throw new Error(`Nothing answers on ${base}: run npm start first.`);
  const issuer = await loadLocalDevIssuer();
  if (!issuer) throw new Error('AUTH_ISSUER is set: screenshots need the local dev issuer.');
  const token = await issuer.sign({ sub: 'dev-admin', roles: ['Admin'] }, '1h');

  if (simulateSeconds > 0) {
    const connectionString = localDeviceConnectionString();
    if (!connectionString) throw new Error('No local Event Hubs keys: is npm start running here?');
    const producer = new EventHubProducerClient(connectionString, 'telemetry');
    try {
      process.stderr.write(`Simulating 200 machines for ${simulateSeconds} s…\n`);
      await simulate(producer, {
        devices: 200,
        intervalSeconds: 1,
        durationSeconds: simulateSeconds,
        anomalyRate: 0.03,
        malformedRate: 0,
        seed: 18,
      });
    } finally {
      await producer.close();
    }
  }

  const equipmentId = await newestAlertEquipment(base, token);
  const views: View[] = [
    {
      name: 'fleet',
      path: '/api/dashboard/#/',
      ready: (page) => signInToDashboard(page, token),
    },
    {
      name: 'alerts',
      path: '/api/dashboard/#/alerts',
      ready: (page) => signInToDashboard(page, token),
    },
    {
      name: 'equipment',
      path: `/api/dashboard/#/equipment/${encodeURIComponent(equipmentId)}`,
      ready: async (page) => {
        await signInToDashboard(page, token);
        await page.waitForSelector('figure.eq-chart[data-points]', { timeout: 20_000 });
      },
    },
    {
      name: 'operations',
      path: '/api/dashboard/#/operations',
      ready: async (page) => {
        await signInToDashboard(page, token);
        await page.waitForSelector('#ops-lag tbody tr', { timeout: 20_000 });
      },
    },
  ];

  mkdirSync(values.out, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    for (const view of views) {
      for (const size of sizes) {
        const context = await browser.newContext({
          viewport: { width: size.width, height: size.height },
        });
        await context.addInitScript((stored) => {
          sessionStorage.setItem('sis.dashboard.token', stored);
        }, token);
        const page = await context.newPage();
        await page.goto(`${base}${view.path}`);
        try {
          await view.ready(page);
          await page.waitForLoadState('networkidle', { timeout: 10_000 });
        } catch (error) {
          process.stderr.write(
            `${view.name} (${size.name}) not ready: ${error instanceof Error ? error.message : String(error)}\n`,
          );
        }
        const file = join(values.out, `${view.name}-${size.name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.log(file);
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
