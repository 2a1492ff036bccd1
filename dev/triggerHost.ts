/**
 * The non-HTTP half of the local functions host: timer triggers on their NCRONTAB schedules
 * (croner reads the same six fields) and Event Hub triggers through the real
 * `EventHubConsumerClient` with the blob checkpoint store, shaped like the Functions host:
 * batches up to `maxEventBatchSize`, trigger metadata arrays aligned with the events, the
 * function's retry policy, and a checkpoint after every batch whether or not it threw.
 */
import { randomUUID } from 'node:crypto';
import type { Duration, InvocationContext as Context, Timer } from '@azure/functions';
import type { CheckpointStore, ReceivedEventData, Subscription } from '@azure/event-hubs';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { Cron } from 'croner';
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

/** Resolves `%SETTING%` binding expressions from the environment, as the host does. */
export function resolveSetting(expression: string, env: NodeJS.ProcessEnv = process.env): string {
  return expression.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name];
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
  checkpointStore: CheckpointStore;
  /** From host.json `extensions.eventHubs`. */
  maxEventBatchSize: number;
  maxWaitTimeSeconds: number;
  log?: HostLog;
  /** Waits between retries (a seam for tests). */
  sleep?: (ms: number) => Promise<void>;
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
  },
): Record<string, unknown> {
  return {
    partitionContext: partition,
    sequenceNumberArray: events.map((e) => e.sequenceNumber),
    offsetArray: events.map((e) => e.offset),
    enqueuedTimeUtcArray: events.map((e) => e.enqueuedTimeUtc.toISOString()),
    partitionKeyArray: events.map((e) => e.partitionKey ?? null),
    propertiesArray: events.map((e) => e.properties ?? {}),
    systemPropertiesArray: events.map((e) => ({
      'x-opt-sequence-number': e.sequenceNumber,
      'x-opt-offset': e.offset,
      'x-opt-enqueued-time': e.enqueuedTimeUtc.toISOString(),
      'x-opt-partition-key': e.partitionKey ?? null,
    })),
  };
}

/** Subscribes every Event Hub declaration; resolves once all are subscribed. */
export function startEventHubTriggers(
  declarations: readonly EventHubFunctionDeclaration[],
  options: EventHubTriggerOptions,
): Running {
  const log = options.log ?? defaultLog;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const running: { client: EventHubConsumerClient; subscription: Subscription }[] = [];
  for (const declaration of declarations) {
    const eventHubName = resolveSetting(declaration.eventHubName);
    const consumerGroup = resolveSetting(declaration.consumerGroup);
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
    const subscription = client.subscribe(
      {
        processEvents: async (events, context) => {
          if (events.length === 0) return;
          const metadata = triggerMetadataFor(events, {
            partitionId: context.partitionId,
            eventHubName: context.eventHubName,
            consumerGroup: context.consumerGroup,
            fullyQualifiedNamespace: context.fullyQualifiedNamespace,
          });
          const messages = events.map((e) => e.body as unknown);
          const { retry } = declaration;
          for (let attempt = 0; ; attempt++) {
            try {
              await declaration.handler(messages, contextFor(declaration.name, log, metadata));
              break;
            } catch (error) {
              if (attempt >= retry.maxRetryCount) {
                log(
                  'error',
                  declaration.name,
                  `failed after ${attempt + 1} attempts; checkpointing anyway: ${describe(error)}`,
                );
                break;
              }
              const delay = Math.min(
                durationMs(retry.maximumInterval),
                durationMs(retry.minimumInterval) * 2 ** attempt,
              );
              log(
                'warning',
                declaration.name,
                `attempt ${attempt + 1} failed, retrying in ${delay} ms: ${describe(error)}`,
              );
              await sleep(delay);
            }
          }
          // As the host does: the batch is checkpointed whether or not the function succeeded.
          const last = events.at(-1);
          if (last) await context.updateCheckpoint(last);
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
        maxBatchSize: options.maxEventBatchSize,
        maxWaitTimeInSeconds: options.maxWaitTimeSeconds,
        startPosition: earliestEventPosition,
      },
    );
    running.push({ client, subscription });
  }
  return {
    stop: async () => {
      for (const { client, subscription } of running) {
        await subscription.close();
        await client.close();
      }
    },
  };
}
