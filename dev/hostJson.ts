/** The parts of host.json the local host honours, read the way the Functions host reads them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './settings.js';

const timeSpan = z
  .string()
  .regex(/^\d{2}:\d{2}:\d{2}$/, { error: 'expected hh:mm:ss' })
  .transform((value) => {
    const [h = 0, m = 0, s = 0] = value.split(':').map(Number);
    return (h * 60 + m) * 60 + s;
  });

/**
 * The extension's defaults (Azure/azure-sdk-for-net sdk/eventhub/
 * Microsoft.Azure.WebJobs.Extensions.EventHubs/src/Config/EventHubOptions.cs).
 */
const eventHubsDefaults = {
  maxEventBatchSize: 100,
  minEventBatchSize: 1,
  maxWaitTime: 60,
  prefetchCount: 300,
};

const hostJsonSchema = z.object({
  extensions: z.object({
    eventHubs: z
      .object({
        maxEventBatchSize: z.number().int().positive().default(eventHubsDefaults.maxEventBatchSize),
        minEventBatchSize: z.number().int().positive().default(eventHubsDefaults.minEventBatchSize),
        maxWaitTime: timeSpan.default(eventHubsDefaults.maxWaitTime),
        prefetchCount: z.number().int().positive().default(eventHubsDefaults.prefetchCount),
      })
      .default(eventHubsDefaults),
  }),
});

/**
 * Event Hubs trigger batching from host.json, which the local trigger host applies the way
 * the extension does (dev/triggerHost.ts `PartitionBatcher`).
 */
export function hostJsonEventHubs(root = projectRoot): {
  maxEventBatchSize: number;
  minEventBatchSize: number;
  maxWaitTimeSeconds: number;
  prefetchCount: number;
} {
  const parsed = hostJsonSchema.parse(JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')));
  const { maxEventBatchSize, minEventBatchSize, maxWaitTime, prefetchCount } =
    parsed.extensions.eventHubs;
  return { maxEventBatchSize, minEventBatchSize, maxWaitTimeSeconds: maxWaitTime, prefetchCount };
}
