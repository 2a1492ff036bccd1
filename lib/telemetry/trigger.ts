/**
 * Reads what the Functions host passes an Event Hub trigger with `cardinality: 'many'`: the
 * event bodies, and per-event metadata arrays aligned with them (`sequenceNumberArray`,
 * `enqueuedTimeUtcArray`, ...) plus `partitionContext` naming the partition.
 *
 * Sequence numbers are what makes processing idempotent, so a batch whose events cannot each
 * be given one (and an enqueued time) is not processed. It is not thrown either: the host
 * would retry it and then checkpoint past it, losing it silently. It comes back as an
 * {@link UnreadableBatch} with everything that could be read, for the caller to park.
 *
 * The shapes accepted are the ones the real host sends, not only convenient ones:
 * - `sequenceNumberArray` is a `long[]` sent as a typed `collection_sint64`
 *   (Azure/azure-functions-host GrpcMessageConversionExtensions.cs, `ToRpcLongArray`), which
 *   the Node worker hands over as numbers or, depending on its protobuf loader options, as
 *   Long objects `{ low, high, unsigned }` (Azure/azure-functions-nodejs-worker issue 844,
 *   https://github.com/Azure/azure-functions-nodejs-worker/issues/844, fixed by pull request
 *   845 with `longs: Number`). Numbers, digit strings and Longs are all read exactly.
 * - `enqueuedTimeUtcArray` is a `DateTime[]` serialised by Newtonsoft with an unspecified
 *   kind, so its strings carry no zone ("2025-06-07T14:46:55.145";
 *   https://github.com/Azure/azure-functions-nodejs-library/issues/351). They are UTC, and
 *   are read as UTC whatever the process time zone is (`Date.parse` would read them as
 *   local time).
 */
import type { PartitionEvent } from './partition.js';

/** Everything that could be read from a batch that cannot be processed, and why. */
export interface UnreadableBatch {
  /** What is wrong with the metadata, for people. */
  detail: string;
  /** The bodies exactly as the host passed them. */
  bodies: readonly unknown[];
  /** From `partitionContext`, when it names one. */
  partitionId: string | undefined;
  /** Each entry of `sequenceNumberArray`, null where unusable; undefined without the array. */
  sequenceNumbers: readonly (number | null)[] | undefined;
  /** Each entry of `enqueuedTimeUtcArray` as epoch ms, null where unusable. */
  enqueuedTimesMs: readonly (number | null)[] | undefined;
}

/** A batch ready for the partition fold, or what is known of one that is not. */
export type TriggerBatch =
  | { readable: true; partitionId: string; events: PartitionEvent[] }
  | { readable: false; batch: UnreadableBatch };

const twoTo32 = 2 ** 32;

/**
 * A sequence number as the worker may pass it: a number, a digit string, or a Long
 * (`high * 2^32 + (low >>> 0)`, `high` unsigned too when `unsigned`). Undefined unless it is
 * a non-negative safe integer: beyond 2^53 a number can no longer tell neighbours apart.
 */
export function sequenceNumberOf(value: unknown): number | undefined {
  let result: number | undefined;
  if (typeof value === 'number') result = value;
  else if (typeof value === 'string' && /^\d{1,16}$/.test(value)) result = Number(value);
  else if (typeof value === 'bigint') result = Number(value);
  else if (typeof value === 'object' && value !== null) {
    const { low, high, unsigned } = value as { low?: unknown; high?: unknown; unsigned?: unknown };
    // 32-bit words, signed or not (long.js keeps them signed; `>>> 0` reads either as unsigned).
    const isWord = (word: unknown): word is number =>
      Number.isInteger(word) && (word as number) >= -(2 ** 31) && (word as number) < twoTo32;
    if (isWord(low) && isWord(high)) {
      result = (unsigned === true ? high >>> 0 : high | 0) * twoTo32 + (low >>> 0);
    }
  }
  // Past 2^53 (a bigint or a Long too large) neighbours collapse: not a usable number.
  return result !== undefined && Number.isSafeInteger(result) && result >= 0 ? result : undefined;
}

/** ISO 8601 date-time, seconds required, fraction of any length, zone optional. */
const isoDateTime =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * An enqueued time as epoch ms: a Date, epoch ms, or an ISO 8601 string; a string without a
 * zone is UTC (see the module comment). Newtonsoft may write up to seven fraction digits
 * (.NET ticks); digits beyond milliseconds are cut, so a time never moves into the next
 * millisecond. Undefined when it is not a real time.
 */
export function enqueuedTimeOf(value: unknown): number | undefined {
  let ms: number | undefined;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const match = isoDateTime.exec(value);
    if (!match) return undefined;
    const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match;
    const fields = [year, month, day, hour, minute, second].map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const [y, mo, d, h, mi, s] = fields;
    const utc = Date.UTC(y, mo - 1, d, h, mi, s, Number(fraction.padEnd(3, '0').slice(0, 3)));
    // Date.UTC rolls 2026-02-30 over into March; a real time round-trips its fields.
    const check = new Date(utc);
    if (
      y < 1000 ||
      check.getUTCFullYear() !== y ||
      check.getUTCMonth() !== mo - 1 ||
      check.getUTCDate() !== d ||
      check.getUTCHours() !== h ||
      check.getUTCMinutes() !== mi ||
      check.getUTCSeconds() !== s
    ) {
      return undefined;
    }
    let offsetMinutes = 0;
    if (zone !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const zoneHours = Number(zone.slice(1, 3));
      const zoneMinutes = Number(zone.slice(4, 6));
      if (zoneHours > 23 || zoneMinutes > 59) return undefined;
      offsetMinutes = sign * (zoneHours * 60 + zoneMinutes);
    }
    ms = utc - offsetMinutes * 60_000;
  }
  return ms !== undefined && Number.isFinite(ms) && Number.isInteger(ms) ? ms : undefined;
}

/** Each entry read with `read`, and a description of those that could not be. */
function readArray(
  name: string,
  value: unknown,
  read: (entry: unknown) => number | undefined,
): { values: (number | null)[] | undefined; problem: string | undefined } {
  if (!Array.isArray(value)) {
    return {
      values: undefined,
      problem: `${name}: ${value === undefined ? 'missing' : 'not an array'}`,
    };
  }
  const entries: readonly unknown[] = value;
  const values = entries.map((entry) => read(entry) ?? null);
  const bad = values.flatMap((v, i) => (v === null ? [i] : []));
  if (!bad.length) return { values, problem: undefined };
  const first = bad[0] ?? 0;
  let shown: string;
  try {
    // Inside the try: JSON.stringify of a function gives undefined, despite its type.
    const entry = entries[first];
    shown = (entry === undefined ? 'undefined' : JSON.stringify(entry)).slice(0, 80);
  } catch {
    shown = String(entries[first]).slice(0, 80);
  }
  return {
    values,
    problem: `${name}: ${bad.length} unusable ${bad.length === 1 ? 'entry' : 'entries'} (first at ${first}: ${shown})`,
  };
}

/**
 * Pairs each message with its sequence number and enqueued time, or says why it cannot.
 * Never throws for any input.
 */
export function readTriggerBatch(
  messages: readonly unknown[],
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
): TriggerBatch {
  const metadata = triggerMetadata ?? {};
  const problems: string[] = [];
  if (triggerMetadata === undefined) problems.push('no trigger metadata');

  const context = metadata['partitionContext'];
  const rawPartitionId =
    typeof context === 'object' && context !== null
      ? (context as Record<string, unknown>)['partitionId']
      : undefined;
  const partitionId =
    typeof rawPartitionId === 'string' && rawPartitionId.length > 0 ? rawPartitionId : undefined;
  if (partitionId === undefined) problems.push('partitionContext.partitionId: missing or empty');

  const sequence = readArray(
    'sequenceNumberArray',
    metadata['sequenceNumberArray'],
    sequenceNumberOf,
  );
  const enqueued = readArray(
    'enqueuedTimeUtcArray',
    metadata['enqueuedTimeUtcArray'],
    enqueuedTimeOf,
  );
  if (triggerMetadata !== undefined) {
    if (sequence.problem) problems.push(sequence.problem);
    if (enqueued.problem) problems.push(enqueued.problem);
  }
  for (const [name, values] of [
    ['sequence numbers', sequence.values],
    ['enqueued times', enqueued.values],
  ] as const) {
    if (values && values.length !== messages.length) {
      problems.push(`${messages.length} events but ${values.length} ${name}`);
    }
  }

  if (problems.length || partitionId === undefined || !sequence.values || !enqueued.values) {
    return {
      readable: false,
      batch: {
        detail: problems.join('; '),
        bodies: messages,
        partitionId,
        sequenceNumbers: sequence.values,
        enqueuedTimesMs: enqueued.values,
      },
    };
  }
  const sequenceNumbers = sequence.values;
  const enqueuedTimes = enqueued.values;
  return {
    readable: true,
    partitionId,
    events: messages.map((body, i) => ({
      body,
      // No entry is null here: an unusable one is a problem above.
      sequenceNumber: sequenceNumbers[i] ?? -1,
      enqueuedTimeMs: enqueuedTimes[i] ?? 0,
    })),
  };
}

/**
 * The newest event the hub holds for the batch's partition, when the trigger metadata says.
 * The Event Hubs extension tracks it only with `trackLastEnqueuedEventProperties: true`
 * (host.json `extensions.eventHubs`), and passes it in `partitionContext` as the property
 * `LastEnqueuedEventProperties` ({ SequenceNumber, EnqueuedTime, ... }) in the 5.x extension
 * (Azure/azure-sdk-for-net sdk/eventhub/Microsoft.Azure.WebJobs.Extensions.EventHubs
 * src/Processor/EventProcessorHostPartition.cs); later versions turned it into the method
 * `TriggerPartitionContext.ReadLastEnqueuedEventProperties()`, which does not travel to an
 * out-of-process worker, so the lag gauges are absent there. Either casing is read (the host
 * serialises binding data camel-cased); the local host (dev/triggerHost.ts) passes it too.
 */
export function lastEnqueuedOf(
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
): { sequenceNumber: number | undefined; enqueuedTimeMs: number | undefined } | undefined {
  const context = triggerMetadata?.['partitionContext'];
  if (typeof context !== 'object' || context === null) return undefined;
  const record = context as Record<string, unknown>;
  const properties = record['lastEnqueuedEventProperties'] ?? record['LastEnqueuedEventProperties'];
  if (typeof properties !== 'object' || properties === null) return undefined;
  const fields = properties as Record<string, unknown>;
  const sequenceNumber = sequenceNumberOf(fields['sequenceNumber'] ?? fields['SequenceNumber']);
  const enqueuedTimeMs = enqueuedTimeOf(
    fields['enqueuedTime'] ?? fields['EnqueuedTime'] ?? fields['enqueuedOn'],
  );
  if (sequenceNumber === undefined && enqueuedTimeMs === undefined) return undefined;
  return { sequenceNumber, enqueuedTimeMs };
}
