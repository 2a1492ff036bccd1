/**
 * The local host killed with SIGKILL in the middle of a stream and started again: Event Hubs
 * redelivers from the last checkpoint (kept in Azurite), and the aggregates in Cosmos still
 * match what the simulator sent, exactly. The stand-ins and stores live in this process so
 * they outlive the host, as the services do in Azure.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../dev/simulator.js';
import { getServices } from '../../lib/services.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  committedEvents,
  expectAggregatesMatchLedger,
  sharedServicesHostEnv,
  useLocalMessaging,
  waitForCommitted,
} from '../helpers/e2e.js';
import { startLocalHost, type RunningHost } from '../helpers/localHost.js';
import { insertEquipment } from '../helpers/telemetry.js';

const db = useTestDatabase();
const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
const webPubSub = useAppWebPubSub();
/** Every host started here, stopped after the file's tests whatever became of them. */
const hosts: RunningHost[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
});

function hostEnv(): Record<string, string> {
  return sharedServicesHostEnv({
    name: 'host',
    mysqlUrl: db.url,
    cosmosDatabaseId: cosmos.databaseId,
    messaging,
    webPubSub,
    redisKeyPrefix: 'test-kill-host:',
  });
}

describe('killing the local host mid-stream', () => {
  it('keeps the aggregates equal to the simulator ledger', async () => {
    // The simulator's devices are machines 1..8 (the pipeline accepts registered ones only).
    for (let id = 1; id <= 8; id++) await insertEquipment(db.pool, id);
    const first = await startLocalHost(hostEnv());
    hosts.push(first);
    const producer = new EventHubProducerClient(
      messaging.eventHubs.connectionString('device'),
      'telemetry',
    );
    const sending = simulate(producer, {
      devices: 8,
      intervalSeconds: 0.1,
      durationSeconds: 10,
      anomalyRate: 0.1,
      malformedRate: 0,
      seed: 7,
    });
    // Kill it once it has committed some of the stream, while events are still flowing.
    const killBy = Date.now() + 30_000;
    while ((await committedEvents(cosmos.database)) === 0 && Date.now() < killBy) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const beforeKill = await committedEvents(cosmos.database);
    expect(beforeKill).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startLocalHost(hostEnv());
    hosts.push(second);
    const summary = await sending;
    await producer.close();
    expect(summary.errors).toBe(0);
    expect(beforeKill).toBeLessThan(summary.sent);

    const committed = await waitForCommitted(cosmos.database, summary.sent);
    expect(committed, second.output()).toBe(summary.sent);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    await getServices().telemetryProcessor.closeIdleWindows(Date.now() + 3_600_000, 0);
    await expectAggregatesMatchLedger(cosmos.database, summary.ledger);
  }, 180_000);
});
