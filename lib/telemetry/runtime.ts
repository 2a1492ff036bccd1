/**
 * TEMPORARY: the old accessor, for the e2e tests and benchmark that still use it until they
 * build their own services (lib/services.ts). Removed with them.
 */
import { getServices } from '../services.js';
import type { ProcessorOptions } from './processor.js';
import { defaultFutureToleranceMs } from './reading.js';

/** The processor options of this process. */
export function getTelemetryProcessor(): ProcessorOptions {
  const services = getServices();
  return {
    store: services.telemetryStore,
    fanOut: services.pipelineFanOut,
    settings: {
      allowedLatenessMs:
        services.config.section('telemetry').TELEMETRY_ALLOWED_LATENESS_SECONDS * 1000,
      futureToleranceMs: defaultFutureToleranceMs,
    },
    rules: services.severityRules,
    registry: services.equipmentRegistry,
  };
}
