/**
 * The non-HTTP half of the local functions host: timer triggers on their NCRONTAB schedules
 * (croner reads the same six fields) and Event Hub triggers through the real
 * `EventHubConsumerClient` with the blob checkpoint store, shaped like the Functions host:
 * batches up to `maxEventBatchSize`, trigger metadata arrays aligned with the events (in
 * the shapes Azure sends them, see {@link TriggerFidelity}), the function's retry policy,
 * and a checkpoint after every batch whether or not it threw.
 */
import { randomUUID } from 'node:crypto';
import type {
  Duration,
  ExponentialBackoffRetryOptions,
  InvocationContext as Context,
  Timer,
} from '@azure/functions';
import type {
  CheckpointStore,
  PartitionContext,
  ReceivedEventData,
  Subscription,
} from '@azure/event-hubs';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { Cron } from 'croner';
import type { Settings } from '../lib/config.js';
import { InvocationContext } from '../lib/host/azureFunctions.js';
import type {
  EventHubFunctionDeclaration,
  TimerFunctionDeclaration,
} from '../lib/host/declarations.js';

export type HostLog = (
  level: 'information' | 'warning' | 'error',
  functionName: string,
  message: string,
) => void;

export const defaultLog: HostLog = (level, functionName, message) => {
  const line = `[${new Date().toISOString()}] ${level.padEnd(11)} ${functionName}: ${message}`;
  if (level === 'information') console.log(line);
  else console.error(line);
};

function contextFor(
  functionName: string,
  log: HostLog,
  triggerMetadata?: Record<string, unknown>,
): Context {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    ...(triggerMetadata ? { triggerMetadata } : {}),
    logHandler: (level, ...args) => {
      const text = args.map((a) => (typeof a === 'string' ? a : String(a))).join(' ');
      log(
        level === 'error' ? 'error' : level === 'warning' ? 'warning' : 'information',
        functionName,
        text,
      );
    },
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** Resolves `%SETTING%` binding expressions from the app's settings, as the host does. */
export function resolveSetting(expression: string, settings: Settings): string {
  return expression.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = settings[name];
    if (!value) throw new Error(`App setting ${name} (used as %${name}%) is not set`);
    return value;
  });
}

export interface Running {
  stop(): Promise<void>;
}

/** Runs every timer declaration on its schedule until stopped. */
export function startTimers(
  declarations: readonly TimerFunctionDeclaration[],
  log: HostLog = defaultLog,
): Running {
  const jobs = declarations.map((declaration) => {
    let last = Date.now();
    // `protect`: an invocation still running when the next tick comes is not overlapped,
    // like the host's singleton timer lock.
    return new Cron(declaration.schedule, { protect: true }, async (job: Cron) => {
      const next = job.nextRun()?.getTime();
      const timer: Timer = {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: {
          last: new Date(last).toISOString(),
          next: next === undefined ? '' : new Date(next).toISOString(),
          lastUpdated: new Date().toISOString(),
        },
      };
      last = Date.now();
      try {
        await declaration.handler(timer, contextFor(declaration.name, log));
      } catch (error) {
        log('error', declaration.name, `failed: ${describe(error)}`);
      }
    });
  });
  return {
    stop: () => {
      for (const job of jobs) job.stop();
      return Promise.resolve();
    },
  };
}

export interface EventHubTriggerOptions {
  /** Connection string of the namespace (the app setting named by the declaration). */
  connectionString: string;
  /** The app's settings, which `%SETTING%` expressions in a declaration name. */
  settings: Settings;
  checkpointStore: CheckpointStore;
  /** From host.json `extensions.eventHubs`; see {@link PartitionBatcher} for how they act. */
  maxEventBatchSize: number;
  minEventBatchSize: number;
  maxWaitTimeSeconds: number;
  /** Events the SDK receives ahead per partition (host.json `prefetchCount`). */
  prefetchCount?: number;
  log?: HostLog;
  /** Waits between retries (a seam for tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Which shapes the handler gets (default `azure`: what the Azure host sends). */
  fidelity?: TriggerFidelity;
}

function durationMs(duration: Duration | number): number {
  if (typeof duration === 'number') return duration;
  return (
    (duration.milliseconds ?? 0) +
    (duration.seconds ?? 0) * 1000 +
    (duration.minutes ?? 0) * 60_000 +
    (duration.hours ?? 0) * 3_600_000
  );
}

/**
 * How closely the local host imitates the Azure one.
 * - `azure`: the shapes Azure really delivers (see lib/telemetry/trigger.ts for sources):
 *   sequence numbers as Long objects, enqueued times without a zone, and bodies as the host
 *   passes them for the declared `dataType` (binary: the raw body bytes as a Buffer; string:
 *   the body text, JSON-parsed where it parses, and empty bodies dropped from the array).
 * - `plain`: numbers, ISO times with `Z`, and bodies as the SDK decodes them.
 */
export type TriggerFidelity = 'azure' | 'plain';

/** A 64-bit integer as long.js holds it (what the Node worker passes without `longs: Number`). */
export function longOf(value: number): { low: number; high: number; unsigned: false } {
  return { low: (value % 2 ** 32) | 0, high: Math.floor(value / 2 ** 32) | 0, unsigned: false };
}

/**
 * A UTC time as Newtonsoft writes a `DateTime` of unspecified kind: no zone, and the
 * fraction only as long as it needs to be (format `yyyy-MM-ddTHH:mm:ss.FFFFFFF`).
 */
export function zonelessTimeOf(time: Date): string {
  const [seconds = '', fraction = ''] = time.toISOString().slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed ? `${seconds}.${trimmed}` : seconds;
}

/** The trigger metadata the Functions host passes with `cardinality: 'many'`. */
export function triggerMetadataFor(
  events: readonly Pick<
    ReceivedEventData,
    'sequenceNumber' | 'offset' | 'enqueuedTimeUtc' | 'partitionKey' | 'properties'
  >[],
  partition: {
    partitionId: string;
    eventHubName: string;
    consumerGroup: string;
    fullyQualifiedNamespace: string;
    lastEnqueuedEventProperties?: { sequenceNumber: number; enqueuedTime: string | undefined };
  },
  fidelity: TriggerFidelity = 'azure',
): Record<string, unknown> {
  const time = (e: Pick<ReceivedEventData, 'enqueuedTimeUtc'>) =>
    fidelity === 'azure' ? zonelessTimeOf(e.enqueuedTimeUtc) : e.enqueuedTimeUtc.toISOString();
  return {
    partitionContext: partition,
    sequenceNumberArray: events.map((e) =>
      fidelity === 'azure' ? longOf(e.sequenceNumber) : e.sequenceNumber,
    ),
    offsetArray: events.map((e) => e.offset),
    enqueuedTimeUtcArray: events.map(time),
    partitionKeyArray: events.map((e) => e.partitionKey ?? null),
    propertiesArray: events.map((e) => e.properties ?? {}),
    // Objects travel as JSON, so their numbers stay numbers; the times match the array's.
    systemPropertiesArray: events.map((e) => ({
      'x-opt-sequence-number': e.sequenceNumber,
      'x-opt-offset': e.offset,
      'x-opt-enqueued-time': time(e),
      'x-opt-partition-key': e.partitionKey ?? null,
    })),
  };
}

/** A body received with `skipParsingBodyAsJson` as the bytes of its AMQP data section. */
function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body === null || body === undefined) return Buffer.alloc(0);
  // An AMQP value or sequence section (not what the SDK's producers send): its JSON.
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/**
 * The messages the handler gets for `bodies` (received with `skipParsingBodyAsJson` under
 * `azure` fidelity). Binary: one Buffer per event, empty ones kept
 * (Azure/azure-functions-host GrpcMessageConversionExtensions.cs `ToRpcByteArray`;
 * Azure/azure-functions-nodejs-library src/converters/fromRpcTypedData.ts maps each to
 * `Buffer.from`). String: empty strings dropped (`ToRpcStringArray` without the worker's
 * `IncludeEmptyEntriesInMessagePayload`, https://github.com/Azure/azure-functions-nodejs-worker/issues/639),
 * the rest JSON-parsed where they parse (the library's `tryJsonParse`).
 */
export function triggerMessagesFor(
  bodies: readonly unknown[],
  dataType: EventHubFunctionDeclaration['dataType'],
  fidelity: TriggerFidelity = 'azure',
): unknown[] {
  if (fidelity === 'plain') return [...bodies];
  const bytes = bodies.map(bodyBytes);
  if (dataType === 'binary') return bytes;
  return bytes
    .map((b) => b.toString('utf8'))
    .filter((text) => text.length > 0)
    .map((text): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    });
}

/**
 * Runs one invocation under the function's retry policy, as the Functions host does for an
 * Event Hub trigger: after a failure it waits `minimumInterval × 2^attempt` (at most
 * `maximumInterval`) and runs the batch again; `maxRetryCount` -1 retries indefinitely
 * ("-1 means to retry indefinitely", `ExponentialBackoffRetryOptions` in @azure/functions'
 * types; learn.microsoft.com azure-functions-bindings-error-pages, "Retries"). Returns
 * whether the batch succeeded, was given up (the host then checkpoints past it anyway), or
 * the host is stopping (no checkpoint: the next owner gets the batch again).
 */
export async function runWithRetryPolicy(
  invoke: () => Promise<void>,
  retry: ExponentialBackoffRetryOptions,
  options: {
    sleep: (ms: number) => Promise<void>;
    isStopping: () => boolean;
    log: (level: 'warning' | 'error', message: string) => void;
  },
): Promise<'succeeded' | 'gave-up' | 'stopped'> {
  for (let attempt = 0; ; attempt++) {
    try {
      await invoke();
      return 'succeeded';
    } catch (error) {
      if (options.isStopping()) return 'stopped';
      if (retry.maxRetryCount >= 0 && attempt >= retry.maxRetryCount) {
        options.log(
          'error',
          `failed after ${attempt + 1} attempts; checkpointing anyway: ${describe(error)}`,
        );
        return 'gave-up';
      }
      const delay = Math.min(
        durationMs(retry.maximumInterval),
        durationMs(retry.minimumInterval) * 2 ** Math.min(attempt, 30),
      );
      options.log(
        'warning',
        `attempt ${attempt + 1} failed, retrying in ${delay} ms: ${describe(error)}`,
      );
      await options.sleep(delay);
      if (options.isStopping()) return 'stopped';
    }
  }
}

/**
 * One partition's batching as the Event Hubs extension does it for a batch function
 * (Azure/azure-sdk-for-net sdk/eventhub/Microsoft.Azure.WebJobs.Extensions.EventHubs/src/
 * Listeners/EventHubListener.PartitionProcessor.cs and PartitionProcessorEventsManager.cs):
 *
 * - `minEventBatchSize` 1 (the default): every batch the client reads (up to
 *   `maxEventBatchSize`) is dispatched at once; `maxWaitTime` is unused.
 * - Above 1: received events are held; once the held ones number `minEventBatchSize`, up to
 *   `maxEventBatchSize` of them are dispatched (the rest stay held). When events are held and
 *   no timer runs, a timer of `maxWaitTime` starts; when it fires, everything held (up to
 *   `maxEventBatchSize`) is dispatched as a partial batch. A dispatch on reaching the minimum
 *   cancels the timer; it starts again if events are still held.
 *
 * Dispatches of one partition never overlap (the extension's semaphore). Not imitated: the
 * extension's shorter first wait after a partition changes owner (`GetAdjustedMaxWaitTime`).
 */
export class PartitionBatcher<Event> {
  readonly #held: Event[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly settings: Pick<
      EventHubTriggerOptions,
      'maxEventBatchSize' | 'minEventBatchSize' | 'maxWaitTimeSeconds'
    >,
    /** Runs the function on a batch and checkpoints it; never called with an empty batch. */
    private readonly dispatch: (events: Event[]) => Promise<void>,
  ) {}

  /** What the client read; resolves once whatever it completed has been dispatched. */
  received(events: readonly Event[]): Promise<void> {
    return this.#serially(async () => {
      if (this.settings.minEventBatchSize <= 1) {
        if (events.length > 0) await this.dispatch([...events]);
        return;
      }
      this.#held.push(...events);
      if (this.#held.length >= this.settings.minEventBatchSize) {
        this.#stopTimer();
        await this.dispatch(this.#held.splice(0, this.settings.maxEventBatchSize));
      }
      if (this.#held.length > 0 && this.#timer === undefined && !this.#closed) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#serially(async () => {
            const partial = this.#held.splice(0, this.settings.maxEventBatchSize);
            if (partial.length > 0) await this.dispatch(partial);
          });
        }, this.settings.maxWaitTimeSeconds * 1000);
      }
    });
  }

  /** Events held now (not yet dispatched). */
  get held(): number {
    return this.#held.length;
  }

  /** Drops what is held (not checkpointed: the next owner reads it again), as on close. */
  close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    this.#held.length = 0;
    return this.#queue;
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #serially(step: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(step);
    // A failed step does not stop the ones after it; its caller sees the failure.
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

/** Subscribes every Event Hub declaration; resolves once all are subscribed. */
export function startEventHubTriggers(
  declarations: readonly EventHubFunctionDeclaration[],
  options: EventHubTriggerOptions,
): Running {
  const log = options.log ?? defaultLog;
  const fidelity = options.fidelity ?? 'azure';
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const running: {
    client: EventHubConsumerClient;
    subscription: Subscription;
    batchers: Map<string, PartitionBatcher<ReceivedEventData>>;
  }[] = [];
  // Stopping interrupts a batch waiting to be retried (an indefinite policy would otherwise
  // hold the stop up for as long as a dependency stays down).
  let stopRequested = false;
  let requestStop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    requestStop = () => {
      stopRequested = true;
      resolve();
    };
  });
  for (const declaration of declarations) {
    const eventHubName = resolveSetting(declaration.eventHubName, options.settings);
    const consumerGroup = resolveSetting(declaration.consumerGroup, options.settings);
    const client = new EventHubConsumerClient(
      consumerGroup,
      options.connectionString,
      eventHubName,
      options.checkpointStore,
      // Claim every partition at once, as a single local host should, rather than one per
      // 10 s balancing round (the default, made for many instances sharing a hub).
      // A partition held by a host that died is free again after 10 s, not the default 60 s.
      {
        loadBalancingOptions: {
          strategy: 'greedy',
          updateIntervalInMs: 2000,
          partitionOwnershipExpirationIntervalInMs: 10_000,
        },
      },
    );
    /** Each partition's batching (host.json), and the context of its latest read. */
    const batchers = new Map<string, PartitionBatcher<ReceivedEventData>>();
    const latestContext = new Map<string, PartitionContext>();
    /** Runs the function on one batch of a partition, then checkpoints it, as the host does. */
    const dispatch = async (events: ReceivedEventData[], context: PartitionContext) => {
      const metadata = triggerMetadataFor(
        events,
        {
          partitionId: context.partitionId,
          eventHubName: context.eventHubName,
          consumerGroup: context.consumerGroup,
          fullyQualifiedNamespace: context.fullyQualifiedNamespace,
          // As the Event Hubs extension passes it with trackLastEnqueuedEventProperties
          // (lib/telemetry/trigger.ts lastEnqueuedOf): the ingestion lag gauges read it.
          ...(context.lastEnqueuedEventProperties?.sequenceNumber === undefined
            ? {}
            : {
                lastEnqueuedEventProperties: {
                  sequenceNumber: context.lastEnqueuedEventProperties.sequenceNumber,
                  enqueuedTime: context.lastEnqueuedEventProperties.enqueuedOn?.toISOString(),
                },
              }),
        },
        fidelity,
      );
      const messages = triggerMessagesFor(
        events.map((e) => e.body as unknown),
        declaration.dataType,
        fidelity,
      );
      const outcome = await runWithRetryPolicy(
        async () => {
          await declaration.handler(messages, contextFor(declaration.name, log, metadata));
        },
        declaration.retry,
        {
          sleep: (ms) => Promise.race([sleep(ms), stopped]),
          isStopping: () => stopRequested,
          log: (level, message) => {
            log(level, declaration.name, message);
          },
        },
      );
      // Stopping mid-retry: no checkpoint, so the next owner gets the batch again, as
      // when a host instance shuts down.
      if (outcome === 'stopped') return;
      // As the host does: the batch is checkpointed whether or not the function succeeded.
      const last = events.at(-1);
      if (last) await context.updateCheckpoint(last);
    };
    const subscription = client.subscribe(
      {
        processEvents: async (events, context) => {
          latestContext.set(context.partitionId, context);
          let batcher = batchers.get(context.partitionId);
          if (!batcher) {
            const partitionId = context.partitionId;
            batcher = new PartitionBatcher(options, (batch) =>
              dispatch(batch, latestContext.get(partitionId) ?? context),
            );
            batchers.set(partitionId, batcher);
          }
          await batcher.received(events);
        },
        processError: (error, context) => {
          log(
            'warning',
            declaration.name,
            `partition ${context.partitionId || '(none)'}: ${describe(error)}`,
          );
          return Promise.resolve();
        },
      },
      {
        // The client hands over what has arrived (up to a batch) as soon as it arrives, or an
        // empty read after a second of nothing; the batcher does the host's waiting.
        maxBatchSize: options.maxEventBatchSize,
        maxWaitTimeInSeconds: 1,
        ...(options.prefetchCount === undefined ? {} : { prefetchCount: options.prefetchCount }),
        trackLastEnqueuedEventProperties: true,
        startPosition: earliestEventPosition,
        // The host hands the function the body bytes, not the SDK's JSON decoding of them.
        skipParsingBodyAsJson: fidelity === 'azure',
      },
    );
    running.push({ client, subscription, batchers });
  }
  return {
    stop: async () => {
      requestStop();
      for (const { client, subscription, batchers } of running) {
        await subscription.close();
        await Promise.all([...batchers.values()].map((batcher) => batcher.close()));
        await client.close();
      }
    },
  };
}
