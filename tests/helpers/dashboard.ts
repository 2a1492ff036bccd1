/**
 * What the dashboard's browser tests share: the dashboard built by Vite into a temp folder,
 * the real local host (`dev/start.ts`) serving it with every service local, dev-issuer
 * tokens, a Web PubSub service client on the host's stand-in, and Debian's Chromium driven
 * by playwright-core. Everything started here is stopped after the file's tests.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { loadDevIssuer, type DevIssuer } from '../../dev/issuer.js';
import { projectRoot } from '../../dev/settings.js';
import { onTestServer } from './database.js';
import { allLocalEnv, startLocalHost, type RunningHost } from './localHost.js';
import { unusedPort } from '../../dev/ports.js';

/** Debian's chromium package; `.ci/run` installs it. */
export const chromiumPath = '/usr/bin/chromium';

export interface DashboardStack {
  host: RunningHost;
  dataDir: string;
  /** The host's MariaDB database on the test server (for bulk rows the API cannot make). */
  databaseName: string;
  issuer: DevIssuer;
  browser: Browser;
  /** Uncaught errors on any page opened through `open`. */
  pageErrors: string[];
  /** A value the host printed in its banner. */
  banner(pattern: RegExp): string;
  /** The hub `sis` on the host's Web PubSub stand-in, as the service SDK sees it. */
  webPubSub(): WebPubSubServiceClient;
  /**
   * Opens the dashboard (at its URL without the slash, then `view`, e.g. `#/alerts`), signs in
   * with `token`, waits till live.
   */
  open(token: string, view?: string): Promise<Page>;
  /** The API over HTTP with a bearer token; fails the test on a non-2xx answer. */
  api(token: string, method: string, path: string, body?: unknown): Promise<any>;
}

/** `vite build` of the dashboard into `outDir`, as `npm run build` does into dist/dashboard. */
export function buildDashboard(outDir: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      join(projectRoot, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      join(projectRoot, 'dashboard', 'vite.config.ts'),
      '--outDir',
      outDir,
      '--emptyOutDir',
    ],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vite build did not finish:\n${output}`));
    }, 90_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`vite build exited with ${code}:\n${output}`));
    });
  });
}

export function useDashboardStack(): DashboardStack {
  const handle = { pageErrors: [] as string[] } as unknown as DashboardStack;
  let host: RunningHost | undefined;
  let databaseName: string | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sis-dashboard-e2e-'));
    handle.dataDir = dataDir;
    databaseName = `sis_test_dashboard_${randomBytes(6).toString('hex')}`;
    const name = databaseName;
    handle.databaseName = name;
    await onTestServer((c) =>
      c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [name]),
    );
    const dashboardDir = join(dataDir, 'dashboard');
    await buildDashboard(dashboardDir);
    expect(existsSync(join(dashboardDir, 'index.html'))).toBe(true);
    const azuritePorts = [await unusedPort(), await unusedPort(), await unusedPort()].join(',');
    const running = await startLocalHost({
      ...allLocalEnv({
        dataDir,
        mysqlUrl: `${inject('mysqlServerUrl')}${name}`,
        azuritePorts,
      }),
      DASHBOARD_DIR: dashboardDir,
    });
    host = running;
    handle.host = running;
    handle.issuer = await loadDevIssuer(join(dataDir, 'dev-issuer'));
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    handle.browser = browser;

    handle.banner = (pattern) => {
      const match = pattern.exec(running.output());
      if (!match?.[1])
        throw new Error(`Not in the banner: ${String(pattern)}\n${running.output()}`);
      return match[1];
    };
    handle.webPubSub = () => {
      const { webPubSub } = JSON.parse(readFileSync(join(dataDir, 'local-keys.json'), 'utf8')) as {
        webPubSub: string;
      };
      const endpoint = handle.banner(/Web PubSub\s+(http:\/\/127\.0\.0\.1:\d+)/);
      return new WebPubSubServiceClient(
        `Endpoint=${endpoint};AccessKey=${webPubSub};Version=1.0;`,
        'sis',
        { allowInsecureConnection: true },
      );
    };
    handle.api = async (token, method, path, body): Promise<any> => {
      const response = await fetch(`${running.base}/api/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      expect(response.status, `${method} ${path}: ${text.slice(0, 300)}`).toBeLessThan(300);
      return text ? JSON.parse(text) : undefined;
    };
    handle.open = async (token, view = '#/alerts') => {
      // A phone-sized window: the page must work there.
      const context = await (browser as Browser).newContext({
        viewport: { width: 390, height: 844 },
      });
      const page = await context.newPage();
      page.on('pageerror', (error) => handle.pageErrors.push(error.message));
      await page.goto(`${running.base}/api/dashboard${view}`);
      expect(new URL(page.url()).pathname).toBe('/api/dashboard/');
      await page.fill('#token', token);
      await page.click('#sign-in');
      await page.waitForSelector('body[data-connection="online"]', { timeout: 30_000 });
      return page;
    };
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    // Ctrl-C, then a kill of the host's process group: its Azurite goes with it.
    await host?.stop();
    if (databaseName) {
      const name = databaseName;
      await onTestServer((c) => c.query('DROP DATABASE IF EXISTS ??', [name]));
    }
    if (handle.dataDir) rmSync(handle.dataDir, { recursive: true, force: true });
  });

  return handle;
}
