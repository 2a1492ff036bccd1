/**
 * Devices to aggregates on one machine, every hop real: the simulator sends through
 * `EventHubProducerClient` to the Event Hubs stand-in over AMQP; the local trigger host
 * receives with `EventHubConsumerClient`, checkpointing in Azurite, and runs the declared
 * `ingestTelemetry` function; the pipeline writes to the local Cosmos server. The closed
 * windows must match the simulator's ledger exactly, and every alert the anomalies raise
 * must reach a connected Web PubSub client (the stand-in) exactly once.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import type { ItemDefinition } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../dev/simulator.js';
import { getServices } from '../../lib/services.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestDatabase } from '../helpers/database.js';
import { insertEquipment } from '../helpers/telemetry.js';
import {
  expectAggregatesMatchLedger,
  useIngestTrigger,
  useLocalMessaging,
  waitForCommitted,
} from '../helpers/e2e.js';

const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
useAppWebPubSub();
// The fan-out looks up who is assigned to each machine; the pipeline accepts readings of
// registered machines only.
const db = useTestDatabase();
const trigger = useIngestTrigger(messaging);

describe('the pipeline on one machine', () => {
  it('turns simulated readings into aggregates that match the ledger', async () => {
    const { eventHubs } = messaging;
    await trigger.start();

    // A dashboard, connected the way /api/negotiate connects an admin's.
    const { url } = await getServices().webPubSub.getClientAccessToken({
      userId: 'admin-ada',
      groups: ['alerts'],
    });
    const dashboard = new WebPubSubClient(url, { autoReconnect: false });
    const received: string[] = [];
    dashboard.on('group-message', (event) => {
      const data = event.message.data as { type: string; alert: { id: string; version: number } };
      received.push(`${data.alert.id} v${data.alert.version}`);
    });
    await dashboard.start();

    // The simulator's devices are machines 1..6.
    for (let id = 1; id <= 6; id++) await insertEquipment(db.pool, id);
    const producer = new EventHubProducerClient(eventHubs.connectionString('device'), 'telemetry');
    const summary = await simulate(producer, {
      devices: 6,
      intervalSeconds: 0.25,
      durationSeconds: 3,
      anomalyRate: 0.5,
      malformedRate: 0,
      seed: 42,
    });
    await producer.close();
    expect(summary.errors).toBe(0);

    expect(await waitForCommitted(cosmos.database, summary.sent)).toBe(summary.sent);

    // The stream has stopped: the idle timer closes every window.
    // The trigger stops first, so no batch re-commits a state the idle close has read (see
    // tests/e2e/hubRecreated.test.ts).
    await trigger.stop();
    await getServices().telemetryProcessor.closeIdleWindows(Date.now() + 3_600_000, 0);
    await expectAggregatesMatchLedger(cosmos.database, summary.ledger);

    // Each alert's latest version reached the dashboard, once.
    const { resources } = await cosmos.database
      .container('alerts')
      // Alerts only: the slots naming each equipment and metric's current alert have a type.
      .items.query<ItemDefinition>('SELECT * FROM c WHERE NOT IS_DEFINED(c.type)')
      .fetchAll();
    expect(resources.length).toBeGreaterThan(0);
    const expected = resources.map((a) => `${String(a.id)} v${String(a['version'])}`).sort();
    await expect
      .poll(() => received.length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(expected.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(new Set(received).size).toBe(received.length);
    expect(received.filter((id) => expected.includes(id)).sort()).toEqual(expected);
    dashboard.stop();
  }, 120_000);
});
