/**
 * Timer trigger: the outbox sweep. Delivers every alert whose delivery failed (once its
 * backoff has passed) or was left undone (a crash between storing and delivering), so a
 * Web PubSub or push outage only delays alerts.
 */
import type { TimerFunctionDeclaration } from '../lib/host/declarations.js';
import { getAlertDeliverer } from '../lib/fanout/runtime.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';
import { getTelemetryDatabase } from '../lib/telemetry/runtime.js';

export const deliverAlertsFunction: TimerFunctionDeclaration = {
  kind: 'timer',
  name: 'deliverAlerts',
  schedule: '*/10 * * * * *',
  handler: async (_timer, context) => {
    const report = await withTransientRetry(() =>
      getAlertDeliverer(getTelemetryDatabase()).sweep(),
    );
    if (report.delivered || report.pending) {
      context.log(
        `alert sweep: ${report.delivered} delivered, ${report.pending} still owed (retried later)`,
      );
    }
  },
};
