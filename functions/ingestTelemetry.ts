/**
 * Event Hub trigger: validates readings, folds them into five-minute windows, and emits
 * closed windows as aggregates and alerts, exactly once per event (lib/telemetry/processor).
 * A batch whose metadata cannot be read is parked whole as a dead letter instead
 * (lib/telemetry/parking), so the partition moves on and nothing is lost without a trace.
 */
import type { EventHubFunctionDeclaration } from '../lib/host/declarations.js';
import { parkedBatchOf } from '../lib/telemetry/parking.js';
import { processBatch } from '../lib/telemetry/processor.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';
import { getTelemetryProcessor } from '../lib/telemetry/runtime.js';
import { readTriggerBatch } from '../lib/telemetry/trigger.js';

export const ingestTelemetryFunction: EventHubFunctionDeclaration = {
  kind: 'eventHub',
  name: 'ingestTelemetry',
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  // Bodies as buffers: empty ones stay in the batch, aligned with the metadata.
  dataType: 'binary',
  // After the in-invocation retries the host re-runs the batch, indefinitely (-1), backing
  // off to every 5 minutes: the host checkpoints past a batch whose retries ran out, so a
  // finite count would lose a batch to a Cosmos or MySQL outage longer than the retries.
  // Bad data never throws (it is dead-lettered or parked), so what keeps failing is a
  // dependency or a fault that needs an operator, and the partition waits for it.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 5 },
    maximumInterval: { minutes: 5 },
  },
  handler: async (messages, context) => {
    const batch = Array.isArray(messages) ? messages : [messages];
    const read = readTriggerBatch(batch, context.triggerMetadata);
    const processor = getTelemetryProcessor();
    if (!read.readable) {
      const parked = parkedBatchOf(read.batch, Date.now());
      // Store failures are still transient ones: retried here, then by the host.
      const ids = await withTransientRetry(() => processor.store.parkBatch(parked));
      // One structured line per parked batch: the metric until there is a metrics library.
      context.warn(
        `partition ${parked.partitionId}: parked ${parked.events.length} events as an unreadable batch ` +
          `(${parked.id}, ${ids.length} documents, sequence numbers ` +
          `${parked.firstSequenceNumber ?? '?'}-${parked.lastSequenceNumber ?? '?'}): ${parked.detail}`,
      );
      return;
    }
    const { partitionId, events } = read;
    const outcome = await withTransientRetry(() => processBatch(processor, partitionId, events));
    for (const change of outcome.epochsStarted) {
      // Rare and worth a look: the hub was recreated, failed over or restored.
      context.warn(
        `partition ${partitionId}: sequence numbers started again at ${change.firstSequenceNumber} ` +
          `(enqueued ${change.startedAt}) after ${change.previousLastSequenceNumber} ` +
          `(enqueued ${change.previousLastEnqueuedTime}); epoch ${change.epoch} started`,
      );
    }
    context.log(
      `partition ${partitionId}: ${events.length} events (${outcome.skippedEvents} already processed), ` +
        `${outcome.deadLetters} dead letters, ${outcome.windowsClosed} windows closed, ` +
        `${outcome.aggregatesWritten} aggregates, ${outcome.alertsWritten} alerts`,
    );
  },
};
