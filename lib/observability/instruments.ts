/**
 * Every metric the product records, in one place: the names, units and attributes here are
 * the contract with the operations workbook and alert rules (bicep/), which query them by
 * name in Application Insights `customMetrics` (the Azure Monitor exporter sends an
 * OpenTelemetry instrument's name as the metric name and its attributes as
 * `customDimensions`; @azure/monitor-opentelemetry-exporter src/utils/metricUtils.ts,
 * `resourceMetricsToEnvelope`: `baseData.metrics[0].name = metric.descriptor.name`,
 * `properties` from `dataPoint.attributes`).
 *
 * Instruments are created through the OpenTelemetry API (`metrics.getMeter`): with no SDK
 * registered (tests, the bench's "without" variant) the global meter provider is the API's
 * no-op one and recording is an empty call. Instruments are made lazily, at the first
 * record, through a proxy meter, so a meter provider registered after this module was loaded
 * (the local host, the Azure distro) still receives them.
 */
import {
  metrics,
  type BatchObservableResult,
  type Counter,
  type Histogram,
  type Meter,
  type MetricOptions,
  type ObservableGauge,
} from '@opentelemetry/api';
import type { TimelineAction } from '../telemetry/alertTimeline.js';

/** The meter's (instrumentation scope's) name. */
export const meterName = 'sis';

/** Instrument names: the contract (see the module comment). */
export const metricNames = {
  ingestEvents: 'sis.ingest.events',
  ingestReadings: 'sis.ingest.readings',
  ingestDeadLetters: 'sis.ingest.dead_letters',
  ingestBatchSize: 'sis.ingest.batch.size',
  ingestBatchDuration: 'sis.ingest.batch.duration',
  ingestLagEvents: 'sis.ingest.lag.events',
  ingestLagSeconds: 'sis.ingest.lag.seconds',
  ingestWatermarkDelay: 'sis.ingest.watermark.delay',
  ingestWindowsClosed: 'sis.ingest.windows_closed',
  ingestAggregatesWritten: 'sis.ingest.aggregates_written',
  ingestEpochsStarted: 'sis.ingest.epochs_started',
  cosmosRequestCharge: 'sis.cosmos.request_charge',
  cosmosDuration: 'sis.cosmos.duration',
  cosmosThrottled: 'sis.cosmos.throttled',
  alertChanges: 'sis.alerts.changes',
  deliveries: 'sis.deliveries',
  deliveriesOldestPendingAge: 'sis.deliveries.oldest_pending_age',
  deliveriesLatency: 'sis.deliveries.latency',
  httpRequests: 'sis.http.requests',
  httpDuration: 'sis.http.duration',
  mysqlPoolInUse: 'sis.mysql.pool.in_use',
  mysqlPoolWaiting: 'sis.mysql.pool.waiting',
  rateLimitRejections: 'sis.ratelimit.rejections',
  authFailures: 'sis.auth.failures',
} as const;

/** Alert changes counted by `sis.alerts.changes` (attribute `change`). */
export type AlertChange =
  'raised' | 'escalated' | 'cleared' | 'reopened' | 'resolved' | 'suppressed';

/** Delivery outcomes counted by `sis.deliveries` (attribute `outcome`). */
export type DeliveryOutcome = 'delivered' | 'failed' | 'dropped';

/** Why a request's credentials were refused (attribute `reason`; never token contents). */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'claim'
  | 'invalid'
  | 'no_subject'
  | 'subject_too_long'
  | 'client_principal'
  | 'provider_unavailable';

function meter(): Meter {
  return metrics.getMeter(meterName);
}

/** A counter or histogram created at its first use (see the module comment). */
function lazy<T>(make: (meter: Meter) => T): () => T {
  let made: T | undefined;
  let from: Meter | undefined;
  return () => {
    // The global provider can be set after this module loaded; make again once it is.
    const current = meter();
    if (made === undefined || from !== current) {
      made = make(current);
      from = current;
    }
    return made;
  };
}

/**
 * Durations in seconds, with buckets for them: the SDK's default buckets (0, 5, 10, 25, ...)
 * are made for milliseconds and would put every request in the first two.
 */
const seconds = (description: string) => ({
  unit: 's',
  description,
  advice: {
    explicitBucketBoundaries: [
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
    ],
  },
});

const counter = (name: string, description: string) =>
  lazy((m): Counter => m.createCounter(name, { description }));
const histogram = (name: string, options: MetricOptions) =>
  lazy((m): Histogram => m.createHistogram(name, options));

const instruments = {
  ingestEvents: counter(metricNames.ingestEvents, 'Events received, by partition'),
  ingestReadings: counter(metricNames.ingestReadings, 'Readings folded into windows, by partition'),
  ingestDeadLetters: counter(
    metricNames.ingestDeadLetters,
    'Readings (or whole bodies) dead-lettered, by reason',
  ),
  ingestBatchSize: histogram(metricNames.ingestBatchSize, {
    unit: '{event}',
    description: 'Events per trigger batch',
  }),
  ingestBatchDuration: histogram(
    metricNames.ingestBatchDuration,
    seconds('Time to process one batch'),
  ),
  ingestWindowsClosed: counter(metricNames.ingestWindowsClosed, 'Windows closed'),
  ingestAggregatesWritten: counter(
    metricNames.ingestAggregatesWritten,
    'Window aggregates written',
  ),
  ingestEpochsStarted: counter(
    metricNames.ingestEpochsStarted,
    'Times a partition sequence numbering started again, by partition',
  ),
  cosmosRequestCharge: histogram(metricNames.cosmosRequestCharge, {
    unit: '{RU}',
    description: 'Request units per Cosmos DB request, by operation',
  }),
  cosmosDuration: histogram(metricNames.cosmosDuration, seconds('Cosmos DB request time')),
  cosmosThrottled: counter(
    metricNames.cosmosThrottled,
    'Cosmos DB requests answered 429, by operation',
  ),
  alertChanges: counter(
    metricNames.alertChanges,
    'Alert versions written, by change, severity and metric',
  ),
  deliveries: counter(metricNames.deliveries, 'Delivery attempts, by channel and outcome'),
  deliveriesLatency: histogram(
    metricNames.deliveriesLatency,
    seconds('From an alert version written to its first successful delivery, by channel'),
  ),
  httpRequests: counter(metricNames.httpRequests, 'HTTP requests, by route, method and status'),
  httpDuration: histogram(metricNames.httpDuration, seconds('HTTP request time')),
  rateLimitRejections: counter(
    metricNames.rateLimitRejections,
    'Requests refused by a rate limit, by class',
  ),
  authFailures: counter(metricNames.authFailures, 'Refused credentials, by reason'),
};

/** What the ingestion of one trigger batch did. */
export interface IngestBatchRecord {
  partitionId: string;
  events: number;
  readings: number;
  deadLettersByReason: Readonly<Record<string, number>>;
  epochsStarted: number;
  durationSeconds: number;
}

export function recordIngestBatch(batch: IngestBatchRecord): void {
  const partition = { partition: batch.partitionId };
  instruments.ingestEvents().add(batch.events, partition);
  instruments.ingestReadings().add(batch.readings, partition);
  for (const [reason, count] of Object.entries(batch.deadLettersByReason)) {
    instruments.ingestDeadLetters().add(count, { reason });
  }
  instruments.ingestBatchSize().record(batch.events);
  instruments.ingestBatchDuration().record(batch.durationSeconds);
  if (batch.epochsStarted > 0)
    instruments.ingestEpochsStarted().add(batch.epochsStarted, partition);
}

/** Windows closed and aggregates written, by a batch or by the idle-window timer. */
export function recordWindowsEmitted(windowsClosed: number, aggregatesWritten: number): void {
  if (windowsClosed > 0) instruments.ingestWindowsClosed().add(windowsClosed);
  if (aggregatesWritten > 0) instruments.ingestAggregatesWritten().add(aggregatesWritten);
}

/** Dead letters written outside the partition fold (a parked unreadable batch). */
export function recordDeadLetters(reason: string, count: number): void {
  instruments.ingestDeadLetters().add(count, { reason });
}

/** One partition's position, as the trigger last saw it (see {@link recordPartitionLag}). */
interface PartitionPosition {
  lagEvents: number | undefined;
  lagSeconds: number | undefined;
  watermarkDelaySeconds: number | undefined;
}

const partitionPositions = new Map<string, PartitionPosition>();

/**
 * Remembers how far behind a partition's last processed event is (events and seconds behind
 * the last enqueued one, from the trigger's partition context) and how far its watermark is
 * behind the wall clock; read by the gauges at each collection.
 */
export function recordPartitionLag(partitionId: string, position: PartitionPosition): void {
  partitionPositions.set(partitionId, position);
}

/**
 * The lag of a partition as the hub reports it (the idle-window timer asks it every minute),
 * replacing what the trigger last saw, and keeping the trigger's watermark delay: it keeps
 * growing while nothing consumes the partition.
 */
export function recordHubLag(partitionId: string, lagEvents: number, lagSeconds: number): void {
  const known = partitionPositions.get(partitionId);
  partitionPositions.set(partitionId, {
    lagEvents,
    lagSeconds,
    watermarkDelaySeconds: known?.watermarkDelaySeconds,
  });
}

/** Oldest pending delivery age (seconds), set by each sweep; undefined when none is pending. */
let oldestPendingAgeSeconds: number | undefined;

export function recordOldestPendingDelivery(ageSeconds: number | undefined): void {
  oldestPendingAgeSeconds = ageSeconds;
}

export function recordCosmosRequest(
  operation: string,
  requestCharge: number | undefined,
  durationSeconds: number,
  throttled: boolean,
): void {
  const attributes = { operation };
  if (requestCharge !== undefined)
    instruments.cosmosRequestCharge().record(requestCharge, attributes);
  instruments.cosmosDuration().record(durationSeconds, attributes);
  if (throttled) instruments.cosmosThrottled().add(1, attributes);
}

export function recordAlertChange(change: AlertChange, severity: string, metric: string): void {
  instruments.alertChanges().add(1, { change, severity, metric });
}

/** The timeline actions counted as alert changes, and the change each counts as. */
const changeOfAction: Partial<Record<TimelineAction, AlertChange>> = {
  raised: 'raised',
  escalated: 'escalated',
  cleared: 'cleared',
  reopened: 'reopened',
  resolved: 'resolved',
  withdrawn: 'resolved',
  'back-online': 'resolved',
  muted: 'suppressed',
};

/**
 * Counts the changes an alert version just written made, from its timeline entries for that
 * version (lib/telemetry/alertTimeline.ts derives them for every writer). A version raised
 * while suppressed counts as raised and suppressed.
 */
export function recordAlertVersion(alert: {
  version: number;
  severity: string;
  metric: string;
  suppressed?: unknown;
  timeline?: readonly { version: number; action: TimelineAction }[];
}): void {
  for (const entry of alert.timeline ?? []) {
    if (entry.version !== alert.version) continue;
    const change = changeOfAction[entry.action];
    if (change) recordAlertChange(change, alert.severity, alert.metric);
    if (entry.action === 'raised' && alert.suppressed !== undefined) {
      recordAlertChange('suppressed', alert.severity, alert.metric);
    }
  }
}

export function recordDelivery(channel: string, outcome: DeliveryOutcome): void {
  instruments.deliveries().add(1, { channel, outcome });
}

export function recordDeliveryLatency(channel: string, seconds: number): void {
  instruments.deliveriesLatency().record(seconds, { channel });
}

export function recordHttpRequest(
  route: string,
  method: string,
  status: number,
  durationSeconds: number,
): void {
  const attributes = { route, method, status };
  instruments.httpRequests().add(1, attributes);
  instruments.httpDuration().record(durationSeconds, attributes);
}

export function recordRateLimitRejection(routeClass: string): void {
  instruments.rateLimitRejections().add(1, { class: routeClass });
}

export function recordAuthFailure(reason: AuthFailureReason): void {
  instruments.authFailures().add(1, { reason });
}

/** A MySQL pool's gauges: connections in use and requests waiting for one. */
export interface PoolGauges {
  inUse(): number;
  waiting(): number;
}

const pools = new Map<string, PoolGauges>();

/** Observes `pool` under `name` (`primary`, `replica`) at every collection. */
export function observeMysqlPool(name: string, pool: PoolGauges): void {
  pools.set(name, pool);
}

/**
 * Registers the observable gauges with the current global meter provider. Called once by
 * whatever registers a provider (dev/metrics.ts, lib/observability/azure.ts): an observable
 * made against the no-op provider would never be read.
 */
export function registerGauges(target: Meter = meter()): void {
  const gauge = (name: string, description: string, unit?: string): ObservableGauge =>
    target.createObservableGauge(name, unit ? { description, unit } : { description });
  const lagEvents = gauge(
    metricNames.ingestLagEvents,
    'Events behind the last enqueued, by partition',
    '{event}',
  );
  const lagSeconds = gauge(
    metricNames.ingestLagSeconds,
    'Seconds behind the last enqueued, by partition',
    's',
  );
  const watermarkDelay = gauge(
    metricNames.ingestWatermarkDelay,
    'How far the watermark is behind the wall clock, by partition',
    's',
  );
  const oldestPending = gauge(
    metricNames.deliveriesOldestPendingAge,
    'Age of the oldest alert version still owed to someone',
    's',
  );
  const inUse = gauge(
    metricNames.mysqlPoolInUse,
    'MySQL connections in use, by pool',
    '{connection}',
  );
  const waiting = gauge(
    metricNames.mysqlPoolWaiting,
    'Requests waiting for a MySQL connection, by pool',
    '{request}',
  );
  target.addBatchObservableCallback(
    (result: BatchObservableResult) => {
      for (const [partition, position] of partitionPositions) {
        if (position.lagEvents !== undefined)
          result.observe(lagEvents, position.lagEvents, { partition });
        if (position.lagSeconds !== undefined)
          result.observe(lagSeconds, position.lagSeconds, { partition });
        if (position.watermarkDelaySeconds !== undefined) {
          result.observe(watermarkDelay, position.watermarkDelaySeconds, { partition });
        }
      }
      if (oldestPendingAgeSeconds !== undefined)
        result.observe(oldestPending, oldestPendingAgeSeconds);
      for (const [pool, gauges] of pools) {
        result.observe(inUse, gauges.inUse(), { pool });
        result.observe(waiting, gauges.waiting(), { pool });
      }
    },
    [lagEvents, lagSeconds, watermarkDelay, oldestPending, inUse, waiting],
  );
}
