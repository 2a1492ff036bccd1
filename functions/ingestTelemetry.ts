/**
 * Event Hub trigger: validates readings, folds them into five-minute windows, and emits
 * closed windows as aggregates and alerts, exactly once per event (lib/telemetry/processor).
 */
import type { EventHubFunctionDeclaration } from '../lib/host/declarations.js';
import { processBatch } from '../lib/telemetry/processor.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';
import { getTelemetryProcessor } from '../lib/telemetry/runtime.js';
import { eventsFromTrigger } from '../lib/telemetry/trigger.js';

export const ingestTelemetryFunction: EventHubFunctionDeclaration = {
  kind: 'eventHub',
  name: 'ingestTelemetry',
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  // After the in-invocation retries: the host re-runs the batch before checkpointing it.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: 5,
    minimumInterval: { seconds: 5 },
    maximumInterval: { minutes: 5 },
  },
  handler: async (messages, context) => {
    const batch = Array.isArray(messages) ? messages : [messages];
    const { partitionId, events } = eventsFromTrigger(batch, context.triggerMetadata);
    const outcome = await withTransientRetry(() =>
      processBatch(getTelemetryProcessor(), partitionId, events),
    );
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
