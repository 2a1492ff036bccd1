/**
 * One event's trace, every hop real: the `EventHubProducerClient` (its tracing routed into
 * OpenTelemetry through @azure/core-tracing) writes the event's traceparent as `Diagnostic-Id`;
 * the local trigger host passes it in `propertiesArray`; the batch's processing span links
 * to it, and the Cosmos requests and the alert's delivery run in the processing span's trace.
 * An HTTP request continues the caller's `traceparent`. Spans are kept in memory.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type LocalTracing } from '../../dev/tracing.js';
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
useTestIssuer();

const spans = new InMemorySpanExporter();
let tracing: LocalTracing;
beforeAll(() => {
  tracing = startTracing(spans);
});
afterAll(async () => {
  await tracing.stop();
});

function named(name: string): ReadableSpan[] {
  return spans.getFinishedSpans().filter((s) => s.name === name);
}

describe('traces', () => {
  it('follow an event from its producer through processing to the alert delivery', async () => {
    await insertEquipment(db.pool, 1);
    await trigger.start();
    // A reading an hour ago, over the critical temperature: its window stays open until a
    // later reading moves the watermark past it.
    const windowStart = Math.floor((Date.now() - 3_600_000) / 300_000) * 300_000;
    const producer = new EventHubProducerClient(
      messaging.eventHubs.connectionString('device'),
      'telemetry',
    );
    await producer.sendBatch(
      [
        {
          body: reading('1', new Date(windowStart + 10_000).toISOString(), { temperature: 95 }),
        },
      ],
      { partitionKey: '1' },
    );
    await producer.close();
    expect(await waitForCommitted(cosmos.database, 1)).toBe(1);

    const [message] = named('message');
    expect(message?.kind).toBe(SpanKind.PRODUCER);
    const eventTraceId = message?.spanContext().traceId ?? 'none';

    const processing = named('ingestTelemetry process').find((span) =>
      span.links.some((link) => link.context.traceId === eventTraceId),
    );
    expect(processing).toBeDefined();
    const processingTraceId = processing?.spanContext().traceId;
    expect(
      named('cosmos docs.create').some((s) => s.spanContext().traceId === processingTraceId),
    ).toBe(true);

    // A later reading closes the hot window: aggregate, alert, delivery, in that batch's trace.
    const second = new EventHubProducerClient(
      messaging.eventHubs.connectionString('device'),
      'telemetry',
    );
    await second.sendBatch(
      [{ body: reading('1', new Date(windowStart + 400_000).toISOString(), { temperature: 20 }) }],
      { partitionKey: '1' },
    );
    await second.close();
    expect(await waitForCommitted(cosmos.database, 2)).toBe(2);
    const closingEventTraceId = named('message')
      .map((s) => s.spanContext().traceId)
      .find((id) => id !== eventTraceId);
    const closing = named('ingestTelemetry process').find((span) =>
      span.links.some((link) => link.context.traceId === closingEventTraceId),
    );
    expect(closing).toBeDefined();
    const delivery = named('deliver alert').find(
      (s) => s.spanContext().traceId === closing?.spanContext().traceId,
    );
    expect(delivery).toBeDefined();
    expect(delivery?.parentSpanContext?.spanId).toBe(closing?.spanContext().spanId);
  });

  it('continues the caller traceparent in an HTTP request', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await call('GET', '/api/equipment', {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const server = named('GET equipment-collection').find(
      (s) => s.spanContext().traceId === traceId,
    );
    expect(server?.kind).toBe(SpanKind.SERVER);
    expect(server?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });
});
