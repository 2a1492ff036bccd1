/**
 * The Event Hubs step of docs/disaster-recovery.md, every hop real: readings sent with
 * `EventHubProducerClient` through the Event Hubs stand-in to the local trigger host, then
 * the hub is recreated under the same name (the stand-in restarted empty on the same port:
 * sequence numbers and offsets start again), the stale checkpoints are deleted as the runbook
 * says, and devices go on sending. Every reading from both hubs must be counted once, and
 * each partition's state must record the new epoch.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Database, ItemDefinition } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { clearCheckpoints } from '../../dev/checkpoints.js';
import { getServices } from '../../lib/services.js';
import { windowSizeMs, windowStartOf } from '../../lib/telemetry/window.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestDatabase } from '../helpers/database.js';
import { useIngestTrigger, useLocalMessaging } from '../helpers/e2e.js';
import { insertEquipment } from '../helpers/telemetry.js';

const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
useAppWebPubSub();
const db = useTestDatabase();
const trigger = useIngestTrigger(messaging, () => undefined);

interface StoredState {
  partitionId: string;
  lastSequenceNumber: number;
  epoch?: number;
  epochs?: { epoch: number }[];
}

async function states(database: Database): Promise<Map<string, StoredState>> {
  const { resources } = await database
    .container('pipelineState')
    .items.query<ItemDefinition & StoredState>("SELECT * FROM c WHERE c.type = 'partition-state'")
    .fetchAll();
  return new Map(resources.map((s) => [s.partitionId, s]));
}

/** Waits (bounded) until `test` holds for the partition states; returns the last ones read. */
async function waitForStates(
  database: Database,
  test: (byPartition: Map<string, StoredState>) => boolean,
  limitMs = 60_000,
): Promise<Map<string, StoredState>> {
  const deadline = Date.now() + limitMs;
  let current = await states(database);
  while (!test(current) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    current = await states(database);
  }
  return current;
}

describe('the hub recreated under the same name', () => {
  it('keeps counting: every reading of both hubs once, a new epoch per partition', async () => {
    await insertEquipment(db.pool, 81);
    await insertEquipment(db.pool, 82);
    const firstTrigger = await trigger.start();

    // Machine 81 sends on partition 0, machine 82 on partition 2. The first hub's readings
    // fall in a window four windows back, the second hub's two windows back: neither is late,
    // and both close when the idle timer runs at the end.
    const now = Date.now();
    const oldWindow = windowStartOf(now) - 4 * windowSizeMs;
    const newWindow = windowStartOf(now) - 2 * windowSizeMs;
    const readings = (equipmentId: string, windowStart: number, temperatures: number[]) =>
      temperatures.map((temperature, i) => ({
        body: { equipmentId, timestamp: windowStart + (i + 1) * 10_000, temperature },
      }));
    const send = async (partitionId: string, events: { body: unknown }[]) => {
      const producer = new EventHubProducerClient(
        messaging.eventHubs.connectionString('device'),
        'telemetry',
      );
      try {
        await producer.sendBatch(events, { partitionId });
      } finally {
        await producer.close();
      }
    };

    await send('0', readings('81', oldWindow, [60, 62, 64]));
    await send('2', readings('82', oldWindow, [50, 52]));
    const first = await waitForStates(
      cosmos.database,
      (s) => s.get('0')?.lastSequenceNumber === 2 && s.get('2')?.lastSequenceNumber === 1,
    );
    expect(first.get('0')).toMatchObject({ lastSequenceNumber: 2, epoch: 0 });
    expect(first.get('2')).toMatchObject({ lastSequenceNumber: 1, epoch: 0 });

    // The runbook: stop the app, recreate the hub (the stand-in restarts empty), delete the
    // checkpoints, which name offsets the new hub does not have (it refuses them, as the
    // service does), start the app. Devices go on sending meanwhile; the new hub numbers their
    // events from 0 again, below what the pipeline has committed, with later enqueued times.
    await trigger.stop();
    await messaging.recreateEventHubs();
    expect(await clearCheckpoints(firstTrigger.checkpoints)).toBeGreaterThan(0);
    await send('0', readings('81', newWindow, [70, 72]));
    await send('2', readings('82', newWindow, [80, 82, 84, 86]));
    await trigger.start();
    const second = await waitForStates(
      cosmos.database,
      (s) =>
        s.get('0')?.epoch === 1 && s.get('2')?.epoch === 1 && s.get('2')?.lastSequenceNumber === 3,
    );
    expect(second.get('0')).toMatchObject({ epoch: 1, lastSequenceNumber: 1 });
    expect(second.get('2')).toMatchObject({ epoch: 1, lastSequenceNumber: 3 });
    expect(second.get('0')?.epochs).toEqual([expect.objectContaining({ epoch: 1 })]);

    // The stream has stopped: the idle timer closes every window. The trigger stops first: a
    // batch commits its state, then commits it again after emitting the windows it closed,
    // and an idle close that read the first commit would lose the race on the ETag and leave
    // that partition to the next tick (lib/telemetry/processor.ts `closeIdleWindows`), which
    // this test does not wait for.
    await trigger.stop();
    const closed = await getServices().telemetryProcessor.closeIdleWindows(
      Date.now() + 3_600_000,
      0,
    );
    expect(closed.failures).toEqual([]);
    const { resources } = await cosmos.database
      .container('aggregates')
      .items.query<ItemDefinition>("SELECT * FROM c WHERE c.equipmentId IN ('81', '82')")
      .fetchAll();
    const figures = resources
      .map((a) => {
        const { count, mean } = (
          a['summary'] as { metrics: { temperature: { count: number; mean: number } } }
        ).metrics.temperature;
        return { key: `${String(a['equipmentId'])}@${String(a['windowStart'])}`, count, mean };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
    const at = (windowStart: number) => new Date(windowStart).toISOString();
    expect(figures).toEqual([
      { key: `81@${at(oldWindow)}`, count: 3, mean: 62 },
      { key: `81@${at(newWindow)}`, count: 2, mean: 71 },
      { key: `82@${at(oldWindow)}`, count: 2, mean: 51 },
      { key: `82@${at(newWindow)}`, count: 4, mean: 83 },
    ]);
  }, 120_000);
});
