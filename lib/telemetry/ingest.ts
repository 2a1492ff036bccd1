/**
 * One Event Hub trigger invocation, from the host's shapes to a processed (or parked) batch:
 * reads the batch's metadata, folds a readable batch into windows (lib/telemetry/processor),
 * parks an unreadable one whole as a dead letter (lib/telemetry/parking) so the partition
 * moves on and nothing is lost without a trace, and writes one structured line per outcome.
 */
import {
  recordDeadLetters,
  recordIngestBatch,
  recordPartitionLag,
} from '../observability/instruments.js';
import { inSpan, producerLinks, SpanKind } from '../observability/tracing.js';
import { parkedBatchOf } from './parking.js';
import type { TelemetryProcessor } from './processor.js';
import { withTransientRetry } from './retry.js';
import { lastEnqueuedOf, readTriggerBatch } from './trigger.js';

/** Where the invocation's lines go: the Functions invocation context's `log` and `warn`. */
export interface IngestLog {
  log(line: string): void;
  warn(line: string): void;
}

/**
 * Handles the messages and metadata of one trigger invocation (`cardinality: 'many'`; a lone
 * message counts as a batch of one). Bad data never throws: readings are dead-lettered and
 * an unreadable batch is parked. Store failures are retried here while transient, then
 * thrown for the host to retry the batch.
 */
export async function ingestTriggerBatch(
  processor: TelemetryProcessor,
  messages: unknown,
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
  log: IngestLog,
  nowMs: number = Date.now(),
): Promise<void> {
  const batch = Array.isArray(messages) ? (messages as unknown[]) : [messages];
  const read = readTriggerBatch(batch, triggerMetadata);
  if (!read.readable) {
    const parked = parkedBatchOf(read.batch, nowMs);
    // Store failures are still transient ones: retried here, then by the host.
    const ids = await withTransientRetry(() => processor.parkBatch(parked));
    recordDeadLetters('unreadable-batch', parked.events.length);
    // One structured line per parked batch, beside the dead-letter count: which batch and why.
    log.warn(
      `partition ${parked.partitionId}: parked ${parked.events.length} events as an unreadable batch ` +
        `(${parked.id}, ${ids.length} documents, sequence numbers ` +
        `${parked.firstSequenceNumber ?? '?'}-${parked.lastSequenceNumber ?? '?'}): ${parked.detail}`,
    );
    return;
  }
  const { partitionId, events } = read;
  const startedMs = performance.now();
  // The batch's span links to each event's producer span (lib/observability/tracing.ts);
  // the Cosmos requests and alert deliveries of the batch run inside it.
  const outcome = await inSpan(
    'ingestTelemetry process',
    {
      kind: SpanKind.CONSUMER,
      links: producerLinks(triggerMetadata?.['propertiesArray']),
      attributes: {
        'messaging.system': 'eventhubs',
        'messaging.operation.type': 'process',
        'messaging.destination.partition.id': partitionId,
        'messaging.batch.message_count': events.length,
      },
    },
    () => withTransientRetry(() => processor.processBatch(partitionId, events)),
  );
  recordIngestBatch({
    partitionId,
    events: events.length,
    readings: outcome.readings,
    deadLettersByReason: outcome.deadLettersByReason,
    epochsStarted: outcome.epochsStarted.length,
    durationSeconds: (performance.now() - startedMs) / 1000,
  });
  // How far behind the partition is: the batch's newest event against the newest one the hub
  // holds, when the host says (see lastEnqueuedOf), and the watermark against the clock.
  const newest = events.reduce(
    (latest, event) => (event.sequenceNumber > latest.sequenceNumber ? event : latest),
    events[0] ?? { sequenceNumber: 0, enqueuedTimeMs: nowMs },
  );
  const lastEnqueued = lastEnqueuedOf(triggerMetadata);
  recordPartitionLag(partitionId, {
    lagEvents:
      lastEnqueued?.sequenceNumber === undefined
        ? undefined
        : Math.max(0, lastEnqueued.sequenceNumber - newest.sequenceNumber),
    lagSeconds:
      lastEnqueued?.enqueuedTimeMs === undefined
        ? undefined
        : Math.max(0, (lastEnqueued.enqueuedTimeMs - newest.enqueuedTimeMs) / 1000),
    watermarkDelaySeconds:
      outcome.watermarkMs === null ? undefined : Math.max(0, (nowMs - outcome.watermarkMs) / 1000),
  });
  for (const change of outcome.epochsStarted) {
    // Rare and worth a look: the hub was recreated, failed over or restored.
    log.warn(
      `partition ${partitionId}: sequence numbers started again at ${change.firstSequenceNumber} ` +
        `(enqueued ${change.startedAt}) after ${change.previousLastSequenceNumber} ` +
        `(enqueued ${change.previousLastEnqueuedTime}); epoch ${change.epoch} started`,
    );
  }
  log.log(
    `partition ${partitionId}: ${events.length} events (${outcome.skippedEvents} already processed), ` +
      `${outcome.deadLetters} dead letters, ${outcome.windowsClosed} windows closed, ` +
      `${outcome.aggregatesWritten} aggregates, ${outcome.alertsWritten} alerts`,
  );
}
