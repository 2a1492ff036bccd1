/**
 * The fan-out's process-wide wiring, built once from app settings: one Web PubSub client,
 * the optional push sender, the alert deliverer and the equipment status publisher.
 */
import type { Database } from '@azure/cosmos';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { getSection } from '../config.js';
import { getPool } from '../mysql/pool.js';
import type { BatchPartial } from '../telemetry/partition.js';
import type { PipelineFanOut } from '../telemetry/processor.js';
import { assignedUserIds } from './audience.js';
import { AlertDeliverer } from './deliverer.js';
import { AlertOutbox } from './outbox.js';
import { createPushSender } from './push.js';
import { EquipmentStatusPublisher } from './status.js';
import { createWebPubSubClient, webPubSubSender } from './webPubSub.js';

/** Fan-out messages go to the process log (the Functions host collects console output). */
function log(message: string): void {
  console.warn(`[fan-out] ${message}`);
}

let client: WebPubSubServiceClient | undefined;

/** The process's Web PubSub service client. */
export function getWebPubSubClient(): WebPubSubServiceClient {
  client ??= createWebPubSubClient(getSection('webPubSub'));
  return client;
}

let deliverer: AlertDeliverer | undefined;

/** The process's alert deliverer (the pipeline, the alert API and the sweep share it). */
export function getAlertDeliverer(database: Database): AlertDeliverer {
  if (!deliverer) {
    const push = createPushSender(getSection('push'));
    if (!push)
      console.info(
        '[fan-out] Push notifications are off: NOTIFICATION_HUBS_CONNECTION is not set.',
      );
    deliverer = new AlertDeliverer({
      outbox: new AlertOutbox(database.container('alerts')),
      webPubSub: webPubSubSender(getWebPubSubClient()),
      push,
      audience: (equipmentIds) => assignedUserIds(getPool(), equipmentIds),
      log,
    });
  }
  return deliverer;
}

/** The pipeline's fan-out: alerts to people, and live equipment status. */
export function pipelineFanOut(
  database: Database,
  readPartials: (partitionId: string, ids: readonly string[]) => Promise<BatchPartial[]>,
): PipelineFanOut {
  const status = new EquipmentStatusPublisher({
    webPubSub: webPubSubSender(getWebPubSubClient()),
    readPartials,
    intervalMs: getSection('webPubSub').EQUIPMENT_STATUS_INTERVAL_SECONDS * 1000,
    log,
  });
  return {
    alertsWritten: async (alerts) => {
      await getAlertDeliverer(database).deliverWritten(alerts);
    },
    batchCommitted: async (state, partial) => {
      try {
        await status.batchCommitted(state, partial);
      } catch (error) {
        log(`Equipment status skipped for partition ${state.partitionId}: ${String(error)}`);
      }
    },
  };
}
