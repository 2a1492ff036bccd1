/**
 * Reads what the Functions host passes an Event Hub trigger with `cardinality: 'many'`: the
 * event bodies, and per-event metadata arrays aligned with them (`sequenceNumberArray`,
 * `enqueuedTimeUtcArray`, ...) plus `partitionContext` naming the partition. Sequence numbers
 * are what makes processing idempotent, so a batch without them is refused outright.
 */
import { z } from 'zod';
import type { PartitionEvent } from './partition.js';

const enqueuedTime = z.union([z.string(), z.date(), z.number()]).transform((value, ctx) => {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'not a time' });
    return z.NEVER;
  }
  return ms;
});

const triggerMetadataSchema = z.object({
  partitionContext: z.object({ partitionId: z.string().min(1) }),
  sequenceNumberArray: z.array(
    z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]),
  ),
  enqueuedTimeUtcArray: z.array(enqueuedTime),
});

/** Thrown when the host's metadata is missing or misaligned: a deployment fault, not bad data. */
export class TriggerMetadataError extends Error {
  constructor(detail: string) {
    super(`Event Hub trigger metadata is unusable: ${detail}`);
    this.name = 'TriggerMetadataError';
  }
}

export function eventsFromTrigger(
  messages: readonly unknown[],
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
): { partitionId: string; events: PartitionEvent[] } {
  const parsed = triggerMetadataSchema.safeParse(triggerMetadata ?? {});
  if (!parsed.success) {
    throw new TriggerMetadataError(
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  const { partitionContext, sequenceNumberArray, enqueuedTimeUtcArray } = parsed.data;
  if (
    sequenceNumberArray.length !== messages.length ||
    enqueuedTimeUtcArray.length !== messages.length
  ) {
    throw new TriggerMetadataError(
      `${messages.length} events but ${sequenceNumberArray.length} sequence numbers and ${enqueuedTimeUtcArray.length} enqueued times`,
    );
  }
  return {
    partitionId: partitionContext.partitionId,
    events: messages.map((body, i) => ({
      body,
      sequenceNumber: sequenceNumberArray[i] ?? -1,
      enqueuedTimeMs: enqueuedTimeUtcArray[i] ?? 0,
    })),
  };
}
