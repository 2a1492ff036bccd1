/**
 * With `BENCH_INSTRUMENTED=1`, the OpenTelemetry SDK is registered first (metrics into the
 * Prometheus exporter; spans sampled and batched as deployed, see dev/tracing.ts
 * `TracingOptions`, into memory emptied every second): what `api_get_instrumented_ratio`
 * compares with the plain host.
 *
 * The local functions host serving every declared HTTP function, for the API benchmarks:
 * the same host `npm start` runs (dev/httpHost.ts), against `MYSQL_URL`, verifying tokens of
 * the dev issuer whose keys are in `BENCH_ISSUER_DIR` (services built from those settings). Prints `listening PORT`; stops on
 * SIGTERM.
 */
import { functionDeclarations } from '../../functions/registry.js';
import { httpDeclarations } from '../../lib/host/declarations.js';
import { configSections } from '../../lib/config.js';
import { createServices, useServices } from '../../lib/services.js';
import { createLocalHttpHost, listen } from '../../dev/httpHost.js';
import { loadDevIssuer } from '../../dev/issuer.js';
import { devIssuerSettings, devJwksRoutes } from '../../dev/localStack.js';
import { startMetricsEndpoint } from '../../dev/metrics.js';
import { unusedPort } from '../../dev/ports.js';
import { deployedSamplingRatio, startTracing } from '../../dev/tracing.js';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';

if (process.env['BENCH_INSTRUMENTED'] === '1') {
  // A free port, not 0: the Prometheus exporter reads 0 as "unset" and serves on its default
  // 9464 (@opentelemetry/exporter-prometheus PrometheusExporter: `config.port || …`), where a
  // second bench run or `npm start` on the same machine already listens.
  await startMetricsEndpoint(await unusedPort());
  const spans = new InMemorySpanExporter();
  startTracing(spans, { production: { samplingRatio: deployedSamplingRatio } });
  setInterval(() => {
    spans.reset();
  }, 1000).unref();
}
const issuer = await loadDevIssuer(process.env['BENCH_ISSUER_DIR'] ?? '');
const server = createLocalHttpHost({
  declarations: httpDeclarations(functionDeclarations),
  routePrefix: 'api',
  // Quiet: a log line per request would measure the terminal.
  log: (level, name, message) => {
    if (level === 'error') console.error(`${name}: ${message}`);
  },
  extraRoutes: devJwksRoutes(issuer),
});
const port = await listen(server, 0);
// The settings this child was given, plus the issuer whose keys this host serves.
const services = createServices(
  configSections({ ...process.env, ...devIssuerSettings(issuer, port) }),
);
useServices(services);
console.log(`listening ${port}`);
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void services.close().then(() => process.exit(0));
});
