/**
 * `GET /api/operations` (admins): the figures an operator watches, in one answer the
 * dashboard's Operations view polls: how far ingestion is behind Event Hubs per partition,
 * which readings were dead-lettered in the last hour and why, and how many alerts are still
 * owed to someone. Each part comes from its own source and is read on its own, so a source
 * that fails or hangs (the hub unreachable, Cosmos down) leaves the other parts answered and
 * is named in `unavailable`; the cost is bounded (a fixed number of queries, whatever the
 * volume: counts are aggregates, never listings).
 */
import type { Database } from '@azure/cosmos';
import { z } from 'zod';
import { AlertOutbox } from '../fanout/outbox.js';
import type { HubLag, HubPartitions, PartitionProgress } from '../telemetry/hubProbe.js';
import { deadLetterListReasons } from './telemetrySchemas.js';

/** The window of dead letters shown. */
export const deadLetterWindowMs = 3_600_000;
/** Longest wait for Event Hubs before the lag is reported unavailable (the SDK retries for longer). */
export const hubAnswerTimeoutMs = 5_000;

export const operationsParts = ['pipelineLag', 'deadLetters', 'deliveryBacklog'] as const;
export type OperationsPart = (typeof operationsParts)[number];

export const operationsSchema = z
  .object({
    at: z.iso.datetime().meta({ description: 'When the figures were read.' }),
    pipelineLag: z
      .object({
        partitions: z.array(
          z.object({
            partitionId: z.string(),
            events: z.number().int().meta({
              description: 'Events enqueued past the last one the pipeline committed.',
            }),
            seconds: z.number().meta({
              description:
                'Seconds between the newest enqueued event and the newest committed one (0 when caught up, or nothing committed yet).',
            }),
            lastSequenceNumber: z.number().int().nullable().meta({
              description: 'The last sequence number committed; null: never consumed.',
            }),
          }),
        ),
      })
      .nullable()
      .meta({ description: 'Per partition of the hub, as Event Hubs sees it; null: unavailable.' }),
    deadLetters: z
      .object({
        since: z.iso.datetime().meta({ description: 'Start of the window: an hour before `at`.' }),
        total: z
          .number()
          .int()
          .meta({ description: 'Dead-lettered events (and parked batch chunks) in the window.' }),
        href: z.string().meta({
          description: 'The window’s dead letters: `/api/dead-letters` (relative to this route).',
        }),
        byReason: z.array(
          z.object({
            reason: z.enum(deadLetterListReasons),
            count: z.number().int().meta({
              description:
                'Events that lost a reading for this reason (an event with several reasons counts under each).',
            }),
            href: z.string().meta({
              description: 'Those dead letters: `/api/dead-letters` filtered by reason and time.',
            }),
          }),
        ),
      })
      .nullable()
      .meta({
        description: 'Reasons with at least one dead letter, most first; null: unavailable.',
      }),
    deliveryBacklog: z
      .object({
        pending: z.number().int().meta({ description: 'Alerts still owed to someone.' }),
        oldestPendingSince: z.iso.datetime().nullable().meta({
          description: 'When the oldest of them was last written; null: none pending.',
        }),
        oldestPendingAgeSeconds: z.number().nullable(),
      })
      .nullable()
      .meta({ description: 'Null: unavailable.' }),
    unavailable: z
      .array(z.object({ part: z.enum(operationsParts), detail: z.string() }))
      .meta({ description: 'The parts that could not be read this time, and why.' }),
  })
  .meta({ id: 'Operations' });

export type Operations = z.output<typeof operationsSchema>;

/** Where the figures come from: getters, since building a client may itself fail. */
export interface OperationsSources {
  telemetryDatabase(): Database;
  partitionStates(): Promise<readonly ({ partitionId: string } & PartitionProgress)[]>;
  hubPartitions(): HubPartitions;
  hubLag(): HubLag;
  /** Where the cause of an unavailable part goes (the answer names neither host nor error). */
  log(message: string): void;
}

const unavailableDetail: Record<OperationsPart, string> = {
  pipelineLag: 'Event Hubs or the pipeline state could not be read.',
  deadLetters: 'The dead-letter store could not be read.',
  deliveryBacklog: 'The alert store could not be read.',
};

function deadLettersHref(since: string, reason?: string): string {
  const query = new URLSearchParams(reason === undefined ? { since } : { reason, since });
  return `dead-letters?${query.toString()}`;
}

async function pipelineLag(sources: OperationsSources): Promise<Operations['pipelineLag']> {
  const signal = AbortSignal.timeout(hubAnswerTimeoutMs);
  const [ids, states] = await Promise.all([
    sources.hubPartitions()(signal),
    sources.partitionStates(),
  ]);
  const committed = new Map(states.map((state) => [state.partitionId, state]));
  const lag = sources.hubLag();
  const partitions = await Promise.all(
    ids.map(async (partitionId) => {
      const state = committed.get(partitionId);
      // Never consumed: everything the partition holds is behind.
      const progress = state ?? { lastSequenceNumber: -1, lastEnqueuedTimeMs: null };
      const { events, seconds } = await lag(partitionId, progress, signal);
      return {
        partitionId,
        events,
        seconds,
        lastSequenceNumber: state?.lastSequenceNumber ?? null,
      };
    }),
  );
  return { partitions };
}

/**
 * One COUNT per reason, with exactly the filter `/api/dead-letters?reason=…&since=…` applies
 * (lib/telemetry/queries.ts), so the figure and the listing it links to agree. The local
 * Cosmos stand-in has no GROUP BY, and the reasons are a short fixed list.
 */
async function deadLetters(
  database: Database,
  nowMs: number,
): Promise<NonNullable<Operations['deadLetters']>> {
  const since = new Date(nowMs - deadLetterWindowMs).toISOString();
  const container = database.container('deadLetters');
  const count = async (reason?: string) => {
    const { resources } = await container.items
      .query<number>({
        query:
          'SELECT VALUE COUNT(1) FROM c WHERE c.enqueuedTime >= @since' +
          (reason === undefined
            ? ''
            : ' AND (c.reason = @reason OR ARRAY_CONTAINS(c.reasons, @reason))'),
        parameters: [
          { name: '@since', value: since },
          ...(reason === undefined ? [] : [{ name: '@reason', value: reason }]),
        ],
      })
      .fetchAll();
    return resources[0] ?? 0;
  };
  const [total, ...counts] = await Promise.all([
    count(),
    ...deadLetterListReasons.map((reason) => count(reason)),
  ]);
  const byReason = deadLetterListReasons
    .map((reason, i) => ({ reason, count: counts[i] ?? 0, href: deadLettersHref(since, reason) }))
    .filter((entry) => entry.count > 0)
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  return { since, total, href: deadLettersHref(since), byReason };
}

async function deliveryBacklog(
  database: Database,
  nowMs: number,
): Promise<NonNullable<Operations['deliveryBacklog']>> {
  const outbox = new AlertOutbox(database.container('alerts'));
  const [pending, oldestMs] = await Promise.all([outbox.pendingCount(), outbox.oldestPendingMs()]);
  return {
    pending,
    oldestPendingSince: oldestMs === undefined ? null : new Date(oldestMs).toISOString(),
    oldestPendingAgeSeconds: oldestMs === undefined ? null : Math.max(0, nowMs - oldestMs) / 1000,
  };
}

/** Every part at `nowMs`, each read on its own; a failed part is null and listed in `unavailable`. */
export async function readOperations(
  sources: OperationsSources,
  nowMs: number,
): Promise<Operations> {
  const unavailable: Operations['unavailable'] = [];
  const attempt = async <T>(part: OperationsPart, read: () => Promise<T>): Promise<T | null> => {
    try {
      return await read();
    } catch (error) {
      unavailable.push({ part, detail: unavailableDetail[part] });
      sources.log(
        `operations: ${part} unavailable: ${error instanceof Error ? error.message : String(error)}`,
      );
      return null;
    }
  };
  const [lag, letters, backlog] = await Promise.all([
    attempt('pipelineLag', () => pipelineLag(sources)),
    attempt('deadLetters', () => deadLetters(sources.telemetryDatabase(), nowMs)),
    attempt('deliveryBacklog', () => deliveryBacklog(sources.telemetryDatabase(), nowMs)),
  ]);
  unavailable.sort((a, b) => operationsParts.indexOf(a.part) - operationsParts.indexOf(b.part));
  return {
    at: new Date(nowMs).toISOString(),
    pipelineLag: lag,
    deadLetters: letters,
    deliveryBacklog: backlog,
    unavailable,
  };
}
