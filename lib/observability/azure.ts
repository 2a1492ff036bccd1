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
