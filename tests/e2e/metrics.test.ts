/**
 * The local metrics endpoint end to end: readings (one of them bad) sent with the real
 * `EventHubProducerClient` to the Event Hubs stand-in, received by the local trigger host,
 * processed into Cosmos, windows closed and an alert raised; an API call refused for want of
 * a token; then `/metrics` scraped over HTTP as Prometheus would, with the counts each of
 * those must have produced.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsEndpoint, type MetricsEndpoint } from '../../dev/metrics.js';
import { unusedPort } from '../../dev/ports.js';
import { getServices } from '../../lib/services.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { useIngestTrigger, useLocalMessaging, waitForCommitted } from '../helpers/e2e.js';
import { insertEquipment, reading } from '../helpers/telemetry.js';

const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
useAppWebPubSub();
const db = useTestDatabase();
const trigger = useIngestTrigger(messaging);
// The API's authentication is configured (an issuer), so a request without a token is a 401.
useTestIssuer();

let endpoint: MetricsEndpoint;
beforeAll(async () => {
  endpoint = await startMetricsEndpoint(await unusedPort());
});
afterAll(async () => {
  await endpoint.stop();
});

/** One sample line of the Prometheus text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samplesOf(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!match) throw new Error(`Not a sample line: ${line}`);
      const [, name = '', labelText = '', value = ''] = match;
      const labels = Object.fromEntries(
        [...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
      );
      return { name, labels, value: Number(value) };
    });
}

/** The sum of `name`'s samples whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}) {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('the local metrics endpoint', () => {
  it('counts readings, dead letters by reason, closed windows, alerts by severity and requests', async () => {
    await insertEquipment(db.pool, 1);
    await trigger.start();
    // Three readings of one machine in one window, well above the critical temperature, and
    // one whose temperature is not a number.
    const windowStart = Math.floor((Date.now() - 3_600_000) / 300_000) * 300_000;
    const at = (seconds: number) => new Date(windowStart + seconds * 1000).toISOString();
    const producer = new EventHubProducerClient(
      messaging.eventHubs.connectionString('device'),
      'telemetry',
    );
    const bodies = [
      reading('1', at(10), { temperature: 95, vibration: 1, pressure: 30 }),
      reading('1', at(20), { temperature: 96, vibration: 1, pressure: 30 }),
      reading('1', at(30), { temperature: 97, vibration: 1, pressure: 30 }),
      { equipmentId: '1', timestamp: at(40), temperature: 'hot' },
    ];
    for (const body of bodies) await producer.sendBatch([{ body }], { partitionKey: '1' });
    await producer.close();
    expect(await waitForCommitted(cosmos.database, bodies.length)).toBe(bodies.length);
    // The stream has stopped: the idle timer closes the window.
    // The trigger stops first, so no batch re-commits a state the idle close has read (see
    // tests/e2e/hubRecreated.test.ts).
    await trigger.stop();
    await getServices().telemetryProcessor.closeIdleWindows(Date.now() + 3_600_000, 0);

    expect((await call('GET', '/api/equipment')).status).toBe(401);

    const response = await fetch(endpoint.url);
    expect(response.status).toBe(200);
    const samples = samplesOf(await response.text());
    expect(total(samples, 'sis_ingest_events_total')).toBe(4);
    expect(total(samples, 'sis_ingest_readings_total')).toBe(3);
    expect(total(samples, 'sis_ingest_dead_letters_total', { reason: 'invalid' })).toBe(1);
    expect(total(samples, 'sis_ingest_dead_letters_total')).toBe(1);
    expect(total(samples, 'sis_ingest_windows_closed_total')).toBe(1);
    expect(total(samples, 'sis_ingest_aggregates_written_total')).toBe(1);
    expect(
      total(samples, 'sis_alerts_changes_total', {
        change: 'raised',
        severity: 'critical',
        metric: 'temperature',
      }),
    ).toBe(1);
    expect(total(samples, 'sis_alerts_changes_total')).toBe(1);
    // The alert reached the Web PubSub groups (the stand-in), and how long that took is known.
    expect(
      total(samples, 'sis_deliveries_total', { channel: 'group', outcome: 'delivered' }),
    ).toBeGreaterThan(0);
    expect(total(samples, 'sis_deliveries_total', { outcome: 'failed' })).toBe(0);
    expect(total(samples, 'sis_deliveries_latency_count', { channel: 'group' })).toBe(1);
    expect(
      total(samples, 'sis_http_requests_total', {
        route: 'equipment-collection',
        method: 'GET',
        status: '401',
      }),
    ).toBe(1);
    expect(total(samples, 'sis_auth_failures_total', { reason: 'missing' })).toBe(1);
    // Each batch was timed, and the Cosmos writes were measured.
    expect(total(samples, 'sis_ingest_batch_duration_count')).toBeGreaterThan(0);
    expect(total(samples, 'sis_cosmos_request_charge_count')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'sis_ingest_watermark_delay' && s.value > 0)).toBe(true);
  });
});
