/**
 * Event Hub trigger: validates readings, folds them into five-minute windows, and emits
 * closed windows as aggregates and alerts, exactly once per event; a batch whose metadata
 * cannot be read is parked whole as a dead letter instead (lib/telemetry/ingest).
 */
import type { EventHubFunctionDeclaration } from '../lib/host/declarations.js';
import { withServices } from '../lib/services.js';
import { ingestTriggerBatch } from '../lib/telemetry/ingest.js';

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
  handler: withServices((services, messages, context) =>
    ingestTriggerBatch(services.telemetryProcessor, messages, context.triggerMetadata, context),
  ),
};
