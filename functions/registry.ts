/** Every function the app declares: the single list both the Azure entry and the local host use. */
import type { FunctionDeclaration } from '../lib/host/declarations.js';
import { alertCommentsFunction } from './alertComments.js';
import { alertDeliveriesFunction } from './alertDeliveries.js';
import { alertFunctions } from './alerts.js';
import { assignmentFunctions } from './assignments.js';
import { closeIdleWindowsFunction } from './closeIdleWindows.js';
import { dashboardFunction } from './dashboard.js';
import { deadLetterFunction } from './deadLetters.js';
import { deliverAlertsFunction } from './deliverAlerts.js';
import { detectOfflineFunction } from './detectOffline.js';
import { equipmentFunctions } from './equipment.js';
import { equipmentHistoryFunction } from './equipmentHistory.js';
import { equipmentOfflineTimeoutFunction } from './equipmentOfflineTimeout.js';
import { notificationPreferencesFunction } from './notificationPreferences.js';
import { equipmentThresholdsFunction } from './equipmentThresholds.js';
import { fleetFunction } from './fleet.js';
import { healthFunction } from './health.js';
import { ingestTelemetryFunction } from './ingestTelemetry.js';
import { locationFunctions } from './locations.js';
import { negotiateFunctions } from './negotiate.js';
import { openApiFunction } from './openapi.js';
import { operationsFunction } from './operations.js';
import { serviceRecordFunctions } from './serviceRecords.js';
import { silenceFunctions } from './silences.js';
import { technicianFunctions } from './technicians.js';
import { telemetryFunction } from './telemetry.js';
import { webhookFunctions } from './webhooks.js';
import { webPubSubEventsFunction } from './webPubSubEvents.js';

export const functionDeclarations: readonly FunctionDeclaration[] = [
  healthFunction,
  openApiFunction,
  ...equipmentFunctions,
  fleetFunction,
  ...assignmentFunctions,
  equipmentHistoryFunction,
  equipmentThresholdsFunction,
  equipmentOfflineTimeoutFunction,
  notificationPreferencesFunction,
  ...technicianFunctions,
  ...serviceRecordFunctions,
  telemetryFunction,
  ...alertFunctions,
  alertCommentsFunction,
  alertDeliveriesFunction,
  ...silenceFunctions,
  ...webhookFunctions,
  deadLetterFunction,
  operationsFunction,
  ingestTelemetryFunction,
  closeIdleWindowsFunction,
  detectOfflineFunction,
  ...negotiateFunctions,
  ...locationFunctions,
  webPubSubEventsFunction,
  deliverAlertsFunction,
  dashboardFunction,
];
