/**
 * Live equipment status through the real processor, Cosmos server and Web PubSub stand-in:
 * after each committed batch, a machine's group gets its latest reading and its current
 * window so far (merged over every committed batch, also those this process never saw),
 * at most once per batch and per interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EquipmentStatusPublisher } from '../../../lib/fanout/status.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import { CosmosTelemetryStore } from '../../../lib/telemetry/cosmosStore.js';
import type { PartitionEvent } from '../../../lib/telemetry/partition.js';
import { processBatch, type ProcessorOptions } from '../../../lib/telemetry/processor.js';
import { defaultSeverityRules, rulesFor } from '../../../lib/telemetry/severity.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { reading } from '../../helpers/telemetry.js';
import { Fixture, accessKey, hubName, sleep, waitFor } from '../../dev/webpubsub/helpers.js';

const cosmos = useTestCosmos();
const webPubSub = new Fixture();
beforeAll(() => webPubSub.start({ hubs: [hubName] }));
afterAll(() => webPubSub.cleanup());

let sequence = 0;
function events(readings: Record<string, unknown>[]): PartitionEvent[] {
  return readings.map((r) => ({
    body: JSON.stringify(r),
    sequenceNumber: sequence++,
    enqueuedTimeMs: Date.parse(String(r['timestamp'])) + 1000,
  }));
}

function pipeline(intervalMs: number) {
  const store = new CosmosTelemetryStore(cosmos.database, {
    aggregateTtlSeconds: 86_400,
    deadLetterTtlSeconds: 86_400,
  });
  const status = new EquipmentStatusPublisher({
    webPubSub: webPubSubSender(
      createWebPubSubClient({
        WEBPUBSUB__endpoint: webPubSub.standIn.endpoint,
        WEBPUBSUB_KEY: accessKey,
        WEBPUBSUB_HUB: hubName,
        WEBPUBSUB_TOKEN_MINUTES: 10,
        EQUIPMENT_STATUS_INTERVAL_SECONDS: 0,
      }),
    ),
    readPartials: (partitionId, ids) => store.readPartials(partitionId, ids),
    intervalMs,
    log: () => undefined,
  });
  const options: ProcessorOptions = {
    store,
    settings: { allowedLatenessMs: 60_000, futureToleranceMs: 300_000 },
    rules: () => Promise.resolve(() => rulesFor(defaultSeverityRules)),
    fanOut: {
      alertsWritten: () => Promise.resolve(),
      batchCommitted: (state, partial) => status.batchCommitted(state, partial),
    },
  };
  return { options, status };
}

type StatusMessage = {
  type: string;
  equipmentId: string;
  at: string;
  reading: Record<string, number>;
  window: {
    start: string;
    summary: { readings: number; metrics: Record<string, { count: number; mean: number }> };
  };
};

describe('equipment status', () => {
  it('sends the latest reading and the whole current window, merged across batches and processes', async () => {
    const watcher = await webPubSub.connect({ groups: ['equipment.E1'] });
    const other = await webPubSub.connect({ groups: ['equipment.E9'] });
    const first = pipeline(0);
    await processBatch(
      first.options,
      's0',
      events([
        reading('E1', '2026-11-01T10:00:10Z', { temperature: 60 }),
        reading('E1', '2026-11-01T10:00:20Z', { temperature: 62 }),
        reading('E2', '2026-11-01T10:00:20Z', { temperature: 50 }),
      ]),
    );
    await first.status.idle();
    await waitFor(() => watcher.groupMessages.length === 1, 'the first status');
    // A second process (another instance took the partition) has not seen the first batch.
    const second = pipeline(0);
    await processBatch(
      second.options,
      's0',
      events([reading('E1', '2026-11-01T10:01:00Z', { temperature: 70, vibration: 2 })]),
    );
    await second.status.idle();
    await waitFor(() => watcher.groupMessages.length === 2, 'the second status');
    const [one, two] = watcher.groupMessages.map((m) => m.data as StatusMessage);
    expect(one).toMatchObject({
      type: 'equipment.status',
      equipmentId: 'E1',
      at: '2026-11-01T10:00:20.000Z',
      reading: { temperature: 62 },
      window: { start: '2026-11-01T10:00:00.000Z', summary: { readings: 2 } },
    });
    expect(two).toMatchObject({
      at: '2026-11-01T10:01:00.000Z',
      reading: { temperature: 70, vibration: 2 },
      window: { summary: { readings: 3 } },
    });
    expect(two?.window.summary.metrics['temperature']).toMatchObject({ count: 3, mean: 64 });
    await sleep(200);
    expect(other.groupMessages).toEqual([]);
  });

  it('sends at most one status per machine per interval', async () => {
    const watcher = await webPubSub.connect({ groups: ['equipment.E5'] });
    const { options, status } = pipeline(3_600_000);
    for (const minute of ['10', '11', '12']) {
      await processBatch(
        options,
        's1',
        events([reading('E5', `2026-11-01T10:${minute}:00Z`, { pressure: 80 })]),
      );
    }
    await status.idle();
    await waitFor(() => watcher.groupMessages.length === 1, 'one status');
    await sleep(300);
    expect(watcher.groupMessages).toHaveLength(1);
  });
});
