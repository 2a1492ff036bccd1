/**
 * Timer trigger: closes the windows of partitions that went quiet, once their end plus the
 * allowed lateness plus the idle grace has passed on the wall clock; and measures each
 * partition's lag against the hub (`sis.ingest.lag.*`), which grows while nothing consumes.
 */
import type { TimerFunctionDeclaration } from '../lib/host/declarations.js';
import { withServices } from '../lib/services.js';
import { recordHubLags } from '../lib/telemetry/hubProbe.js';
import { withTransientRetry } from '../lib/telemetry/retry.js';

export const closeIdleWindowsFunction: TimerFunctionDeclaration = {
  kind: 'timer',
  name: 'closeIdleWindows',
  schedule: '0 * * * * *',
  handler: withServices(async (services, _timer, context) => {
    const graceMs = services.config.section('telemetry').TELEMETRY_IDLE_GRACE_SECONDS * 1000;
    const result = await withTransientRetry(() =>
      services.telemetryProcessor.closeIdleWindows(Date.now(), graceMs, services.hubProbe),
    );
    for (const failure of result.failures) {
      const detail =
        failure.error instanceof Error
          ? (failure.error.stack ?? failure.error.message)
          : String(failure.error);
      context.error(`partition ${failure.partitionId}: closing idle windows failed: ${detail}`);
    }
    if (result.windowsClosed) {
      context.log(
        `closed ${result.windowsClosed} idle windows across ${result.partitions} partitions`,
      );
    }
    const states = await services.telemetryStore.listStates();
    await recordHubLags(
      states.map(({ state }) => state),
      services.hubLag,
    );
  }),
};
