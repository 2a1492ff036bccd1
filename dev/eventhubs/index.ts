/** The Event Hubs stand-in: see dev/eventhubs/README.md. */
export {
  startEventHubsStandIn,
  type EventHubConfig,
  type EventHubsStandIn,
  type EventHubsStandInOptions,
} from './standIn.js';
export { defaultRetention, type RetentionPolicy } from './partition.js';
export { createSasToken, verifySasToken, type AccessRight, type SharedAccessKey } from './sas.js';
export { partitionIndexForKey } from './partitionKey.js';
