/**
 * OpenTelemetry in Azure: the Azure Monitor distro (@azure/monitor-opentelemetry
 * `useAzureMonitor`) registers the tracer and meter providers, the context manager and the
 * Azure SDK instrumentation, and exports to Application Insights, signing in with Microsoft
 * Entra ID as the app's managed identity (the resource's local authentication is off,
 * bicep/). Started from the Functions entry (functions/index.ts) when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set, before any function runs.
 *
 * The host's own telemetry follows the same route when host.json says
 * `"telemetryMode": "OpenTelemetry"` (https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto);
 * see README "Operating it".
 */
import type { app as functionsApp } from '@azure/functions';
import { context, propagation } from '@opentelemetry/api';
import type { SectionConfig } from '../config.js';
import { azureCredential } from '../identity.js';
import { registerGauges } from './instruments.js';

/** The managed identity's client id in APPLICATIONINSIGHTS_AUTHENTICATION_STRING, if any. */
export function clientIdOf(authenticationString: string | undefined): string | undefined {
  const match = /(?:^|;)\s*ClientId=([^;]+)/i.exec(authenticationString ?? '');
  return match?.[1]?.trim() || undefined;
}

/**
 * Starts the distro when a connection string is set; returns whether it did. The distro is
 * imported only then: it is heavy, and a cold start elsewhere (tests, the local host) must
 * not pay for it.
 */
export async function startAzureMonitor(settings: SectionConfig<'monitor'>): Promise<boolean> {
  const connectionString = settings.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString) return false;
  const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      credential: azureCredential(clientIdOf(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)),
    },
    samplingRatio: settings.TRACES_SAMPLING_RATIO,
    // 0: sample by samplingRatio rather than by a rate of traces per second.
    tracesPerSecond: 0,
  });
  registerGauges();
  return true;
}

/**
 * Joins the worker's spans to the host's: every invocation runs in the context of the trace
 * the host started for it (`invocationContext.traceContext`), and the worker tells the host
 * it exports OpenTelemetry itself. This is what @azure/functions-opentelemetry-instrumentation
 * registers (Azure/azure-functions-nodejs-opentelemetry src/instrumentation.ts), done here
 * directly because that package finds `@azure/functions` by patching `require`, which the
 * bundled ES module never goes through.
 */
export function joinHostTraces(app: typeof functionsApp): void {
  app.setup({ capabilities: { WorkerOpenTelemetryEnabled: true } });
  app.hook.preInvocation((invocation) => {
    const traceContext = invocation.invocationContext.traceContext;
    if (!traceContext) return;
    invocation.functionHandler = context.bind(
      propagation.extract(context.active(), {
        traceparent: traceContext.traceParent,
        tracestate: traceContext.traceState,
      }),
      invocation.functionHandler,
    );
  });
}
