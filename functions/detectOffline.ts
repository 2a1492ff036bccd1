/**
 * Timer trigger: raises `offline` alerts for machines silent past their offline timeout and
 * resolves them when readings return (lib/telemetry/offlineDetector.ts). Safe to run on
 * several instances at once: the alert slot and compare-and-set status changes dedupe.
 */
import type { TimerFunctionDeclaration } from '../lib/host/declarations.js';
import { withServices } from '../lib/services.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';

export const detectOfflineFunction: TimerFunctionDeclaration = {
  kind: 'timer',
  name: 'detectOffline',
  // Every 30 seconds: a machine is reported at most half a minute after its timeout.
  schedule: '*/30 * * * * *',
  handler: withServices(async (services, _timer, context) => {
    const report = await withTransientRetry(() => services.detectOffline(Date.now()));
    for (const failure of report.failures) {
      const detail =
        failure.error instanceof Error
          ? (failure.error.stack ?? failure.error.message)
          : String(failure.error);
      context.error(`equipment ${failure.equipmentId}: offline detection failed: ${detail}`);
    }
    if (report.raised || report.backOnline) {
      context.log(`offline: ${report.raised} raised, ${report.backOnline} back online`);
    }
  }),
};
