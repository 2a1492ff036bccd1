/**
 * One equipment's readings on two Event Hubs partitions, every hop real: batches sent with
 * `EventHubProducerClient` to explicit partitions of the Event Hubs stand-in, received by
 * the local trigger host, folded by each partition on its own. The window must become one
 * aggregate holding both partitions' readings, and one alert graded on all of them.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import type { ItemDefinition } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { getServices } from '../../lib/services.js';
import { windowSizeMs, windowStartOf } from '../../lib/telemetry/window.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestDatabase } from '../helpers/database.js';
import { insertEquipment } from '../helpers/telemetry.js';
import { useIngestTrigger, useLocalMessaging, waitForCommitted } from '../helpers/e2e.js';

const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
useAppWebPubSub();
// The fan-out looks up who is assigned to each machine, and only registered machines count.
const db = useTestDatabase();
const trigger = useIngestTrigger(messaging);

describe('one equipment on two partitions', () => {
  it('becomes one correct aggregate and one alert', async () => {
    await insertEquipment(db.pool, 77);
    const { eventHubs } = messaging;
    await trigger.start();

    // A window two windows back: complete, and not stamped in the future of its enqueue.
    const start = windowStartOf(Date.now()) - 2 * windowSizeMs;
    const reading = (secondsIn: number, temperature: number) => ({
      body: { equipmentId: '77', timestamp: start + secondsIn * 1000, temperature },
    });
    const producer = new EventHubProducerClient(eventHubs.connectionString('device'), 'telemetry');
    const sent: Record<string, { body: unknown }[]> = {
      // A gateway on partition 0 and a device with the wrong partition key on partition 1.
      '0': [reading(10, 70), reading(100, 72)],
      '1': [reading(20, 90), reading(200, 88)],
    };
    for (const [partitionId, events] of Object.entries(sent)) {
      const batch = await producer.createBatch({ partitionId });
      for (const event of events) expect(batch.tryAdd(event)).toBe(true);
      await producer.sendBatch(batch);
    }
    await producer.close();
    expect(await waitForCommitted(cosmos.database, 4)).toBe(4);

    // The stream has stopped: the idle timer closes the window on both partitions.
    // The trigger stops first, so no batch re-commits a state the idle close has read (see
    // tests/e2e/hubRecreated.test.ts).
    await trigger.stop();
    const closed = await getServices().telemetryProcessor.closeIdleWindows(
      Date.now() + 3_600_000,
      0,
    );
    expect(closed.failures).toEqual([]);

    const { resources: aggregates } = await cosmos.database
      .container('aggregates')
      .items.query<ItemDefinition>({
        query: "SELECT * FROM c WHERE c.equipmentId = '77'",
      })
      .fetchAll();
    expect(aggregates).toHaveLength(1);
    expect(aggregates[0]).toMatchObject({
      windowStart: new Date(start).toISOString(),
      summary: { readings: 4, metrics: { temperature: { count: 4, min: 70, max: 90, mean: 80 } } },
    });
    expect(Object.keys(aggregates[0]?.['contributions'] as object).sort()).toEqual(['0', '1']);

    // 80 is on the high threshold, so the whole window is medium; partition 1 alone
    // (mean 89) would have been high, partition 0 alone (71) nothing.
    const { resources: alerts } = await cosmos.database
      .container('alerts')
      .items.query<ItemDefinition>({
        query: "SELECT * FROM c WHERE c.equipmentId = '77' AND NOT IS_DEFINED(c.type)",
      })
      .fetchAll();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      status: 'open',
      severity: 'medium',
      occurrences: 1,
      breach: { severity: 'medium', mean: 80 },
    });
  }, 120_000);
});
