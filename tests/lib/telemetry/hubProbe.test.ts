/** The hub probe asks Event Hubs (here the stand-in, over AMQP) how far a partition goes. */
import { EventHubProducerClient } from '@azure/event-hubs';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { registerGauges } from '../../../lib/observability/instruments.js';
import { createHubProbe, recordHubLags } from '../../../lib/telemetry/hubProbe.js';

let eventHubs: EventHubsStandIn;

beforeAll(async () => {
  eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 2 }],
    keys: [{ name: 'app', key: 'cHJvYmUta2V5LWZvci10ZXN0cw==', rights: ['Listen', 'Send'] }],
  });
});

afterAll(async () => {
  await eventHubs.stop();
});

describe('createHubProbe', () => {
  it('says a partition is caught up only when nothing was enqueued past the given sequence number or time', async () => {
    const sentAfter = Date.now();
    const producer = new EventHubProducerClient(eventHubs.connectionString('app'), 'telemetry');
    const batch = await producer.createBatch({ partitionId: '0' });
    for (const body of ['a', 'b', 'c']) batch.tryAdd({ body });
    await producer.sendBatch(batch);
    await producer.close();

    const { probe, close } = createHubProbe({
      EventHubConnection: eventHubs.connectionString('app'),
      EVENTHUB_NAME: 'telemetry',
      EVENTHUB_CONSUMER_GROUP: '$Default',
    });
    try {
      const progress = (lastSequenceNumber: number, lastEnqueuedTimeMs: number | null = null) => ({
        lastSequenceNumber,
        lastEnqueuedTimeMs,
      });
      expect(await probe('0', progress(1))).toBe(false);
      expect(await probe('0', progress(2))).toBe(true);
      expect(await probe('0', progress(2, Date.now() + 60_000))).toBe(true);
      expect(await probe('1', progress(-1))).toBe(true);
      // A hub recreated under the same name: its numbers are below what the state committed
      // on the old hub, but its events were enqueued after: not caught up.
      expect(await probe('0', progress(1000, sentAfter - 1))).toBe(false);
    } finally {
      await close();
    }
  });

  it('measures the lag against the hub, growing while nothing consumes the partition', async () => {
    const reader = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    registerGauges();
    const lagOf = async (name: string) => {
      const { resourceMetrics } = await reader.collect();
      const found = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((metric) => metric.descriptor.name === name);
      return Object.fromEntries(
        (found?.dataPoints ?? []).map((p) => [String(p.attributes['partition']), p.value]),
      );
    };
    const { lag, close } = createHubProbe({
      EventHubConnection: eventHubs.connectionString('app'),
      EVENTHUB_NAME: 'telemetry',
      EVENTHUB_CONSUMER_GROUP: '$Default',
    });
    const producer = new EventHubProducerClient(eventHubs.connectionString('app'), 'telemetry');
    try {
      // Partition 1 is empty: nothing to be behind on.
      expect(await lag('1', { lastSequenceNumber: -1, lastEnqueuedTimeMs: null })).toEqual({
        events: 0,
        seconds: 0,
      });
      const committedAt = Date.now();
      const send = async (count: number) => {
        const batch = await producer.createBatch({ partitionId: '1' });
        for (let i = 0; i < count; i++) batch.tryAdd({ body: i });
        await producer.sendBatch(batch);
      };
      const states = [
        { partitionId: '1', lastSequenceNumber: -1, lastEnqueuedTimeMs: committedAt },
      ];
      await send(4);
      await recordHubLags(states, lag);
      expect(await lagOf('sis.ingest.lag.events')).toEqual({ '1': 4 });
      // Nothing consumes: the next measurement is further behind.
      await send(3);
      await recordHubLags(states, lag);
      expect(await lagOf('sis.ingest.lag.events')).toEqual({ '1': 7 });
      expect((await lagOf('sis.ingest.lag.seconds'))['1']).toBeGreaterThanOrEqual(0);
    } finally {
      await producer.close();
      await close();
      await provider.shutdown();
      metrics.disable();
    }
  });

  it('refuses to start without a connection setting', () => {
    expect(() =>
      createHubProbe({ EVENTHUB_NAME: 'telemetry', EVENTHUB_CONSUMER_GROUP: '$Default' }),
    ).toThrow(/EventHubConnection/);
  });
});
