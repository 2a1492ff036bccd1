/**
 * Timer trigger: the outbox sweep. Takes the escalation steps and reminders that are due
 * (ALERT_ESCALATION_POLICY) and delivers them, and delivers every alert whose delivery failed
 * (once its backoff has passed) or was left undone (a crash between storing and delivering),
 * so a Web PubSub or push outage only delays alerts.
 */
import type { TimerFunctionDeclaration } from '../lib/host/declarations.js';
import { withServices } from '../lib/services.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';

export const deliverAlertsFunction: TimerFunctionDeclaration = {
  kind: 'timer',
  name: 'deliverAlerts',
  schedule: '*/10 * * * * *',
  handler: withServices(async (services, _timer, context) => {
    const report = await withTransientRetry(() => services.alertDeliverer.sweep());
    if (report.delivered || report.pending) {
      context.log(
        `alert sweep: ${report.delivered} delivered, ${report.pending} still owed (retried later)`,
      );
    }
  }),
};
