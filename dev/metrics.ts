/**
 * The local metrics exporter: an OpenTelemetry meter provider registered globally, read by
 * the Prometheus exporter, which serves the text format at http://127.0.0.1:PORT/metrics.
 * Every instrument of lib/observability/instruments.ts then records into it; without this
 * (tests, METRICS_PORT=0) they record into the API's no-op provider.
 */
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { registerGauges } from '../lib/observability/instruments.js';

/** Where the metrics are served, when they are. */
export const defaultMetricsPort = 9464;

/** The METRICS_PORT setting: a port, 0 for none; default {@link defaultMetricsPort}. */
export function metricsPortOf(setting: string | undefined): number {
  if (setting === undefined || setting === '') return defaultMetricsPort;
  const port = Number(setting);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error('METRICS_PORT must be a port number (0: no metrics endpoint)');
  }
  return port;
}

export interface MetricsEndpoint {
  /** `http://127.0.0.1:PORT/metrics` */
  url: string;
  stop(): Promise<void>;
}

/**
 * Registers the process's meter provider and serves it on loopback `port`. Once per process:
 * the global meter provider cannot be replaced (@opentelemetry/api `registerGlobal` refuses a
 * second one), so a second call throws rather than serving nothing.
 */
export async function startMetricsEndpoint(port: number): Promise<MetricsEndpoint> {
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port, preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'sis' }),
    readers: [exporter],
  });
  if (!metrics.setGlobalMeterProvider(provider)) {
    await provider.shutdown();
    throw new Error('A meter provider is already registered in this process');
  }
  registerGauges();
  await exporter.startServer();
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    async stop() {
      // Shuts the exporter's server down too.
      await provider.shutdown();
      metrics.disable();
    },
  };
}
