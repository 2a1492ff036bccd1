/**
 * Tracing for the local host and tests: a tracer provider writing to `exporter`, the W3C
 * propagator, a context manager so the active span follows `await`s, and the Azure SDKs'
 * tracing (@azure/core-tracing) routed into OpenTelemetry, so the Event Hubs producer writes
 * `Diagnostic-Id` on the events it sends. In Azure the Azure Monitor distro registers all of
 * these itself (lib/observability/azure.ts).
 *
 * The core-tracing instrumenter is small and written here: the package that ships it
 * (@azure/opentelemetry-instrumentation-azure-sdk) registers it only by patching `require`,
 * which an ES module or the bundle never goes through.
 */
import {
  useInstrumenter,
  type Instrumenter,
  type InstrumenterSpanOptions,
  type TracingSpan,
  type TracingSpanKind,
} from '@azure/core-tracing';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Link,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

const spanKinds: Record<TracingSpanKind, SpanKind> = {
  client: SpanKind.CLIENT,
  server: SpanKind.SERVER,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/**
 * The Azure SDKs' spans as OpenTelemetry spans: what @azure/opentelemetry-instrumentation-azure-sdk
 * does (Azure/azure-sdk-for-js sdk/instrumentation/opentelemetry-instrumentation-azure-sdk
 * src/instrumenter.ts), for the parts the SDKs use here. TracingContext and OpenTelemetry's
 * Context have the same shape, so contexts pass through unchanged.
 */
const openTelemetryInstrumenter: Instrumenter = {
  startSpan(name: string, options: InstrumenterSpanOptions) {
    const parent = options.tracingContext ?? context.active();
    const links: Link[] = (options.spanLinks ?? []).flatMap((link) => {
      const spanContext = trace.getSpanContext(link.tracingContext);
      return spanContext ? [{ context: spanContext }] : [];
    });
    const span = trace.getTracer(options.packageName, options.packageVersion).startSpan(
      name,
      {
        kind: spanKinds[options.spanKind ?? 'internal'],
        links,
        attributes: Object.fromEntries(
          Object.entries(options.spanAttributes ?? {}).filter(
            (entry): entry is [string, string | number | boolean] =>
              ['string', 'number', 'boolean'].includes(typeof entry[1]),
          ),
        ),
      },
      parent,
    );
    const tracingSpan: TracingSpan = {
      setStatus: (status) =>
        span.setStatus(
          status.status === 'success'
            ? { code: SpanStatusCode.OK }
            : { code: SpanStatusCode.ERROR },
        ),
      setAttribute: (key, value) => {
        if (['string', 'number', 'boolean'].includes(typeof value)) {
          span.setAttribute(key, value as string | number | boolean);
        }
      },
      end: () => {
        span.end();
      },
      recordException: (exception) => {
        span.recordException(exception);
      },
      isRecording: () => span.isRecording(),
    };
    return { span: tracingSpan, tracingContext: trace.setSpan(parent, span) };
  },
  withContext(tracingContext, callback, ...args) {
    return context.with(tracingContext, callback, undefined, ...args);
  },
  parseTraceparentHeader(header) {
    return propagation.extract(context.active(), { traceparent: header });
  },
  createRequestHeaders(tracingContext) {
    const headers: Record<string, string> = {};
    propagation.inject(tracingContext ?? context.active(), headers);
    return headers;
  },
};

export interface LocalTracing {
  stop(): Promise<void>;
}

/**
 * How spans are kept. The default records every span and exports each as it ends (the local
 * console, the tests). `production` does what the Azure Monitor distro does with the
 * template's settings: a share of traces sampled by trace id (`TRACES_SAMPLING_RATIO`, 0.1 in
 * bicep/main.bicep) and a batching processor
 * (@azure/monitor-opentelemetry src/traces/handler.ts: `ApplicationInsightsSampler(samplingRatio)`
 * and `BatchSpanProcessor`) — what the instrumented benchmarks measure.
 */
export interface TracingOptions {
  production?: { samplingRatio: number };
}

/** A tracer provider exporting into `exporter` as `options` say (not registered). */
export function tracerProvider(
  exporter: SpanExporter,
  options: TracingOptions = {},
): BasicTracerProvider {
  const { production } = options;
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'sis' }),
    ...(production ? { sampler: new TraceIdRatioBasedSampler(production.samplingRatio) } : {}),
    spanProcessors: [
      production ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter),
    ],
  });
}

/** The share of traces the Bicep template keeps (bicep/main.bicep `tracesSamplingRatio`). */
export const deployedSamplingRatio = 0.1;

/** Registers tracing into `exporter` for this process (once). */
export function startTracing(exporter: SpanExporter, options: TracingOptions = {}): LocalTracing {
  const provider = tracerProvider(exporter, options);
  const contextManager = new AsyncLocalStorageContextManager().enable();
  if (
    !trace.setGlobalTracerProvider(provider) ||
    !context.setGlobalContextManager(contextManager) ||
    !propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  ) {
    throw new Error('Tracing is already registered in this process');
  }
  useInstrumenter(openTelemetryInstrumenter);
  return {
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** `OTEL_TRACES_EXPORTER=console`: spans written to the console (the only exporter here). */
export function tracingFromSettings(exporterSetting: string | undefined): LocalTracing | undefined {
  if (exporterSetting === undefined || exporterSetting === '' || exporterSetting === 'none') {
    return undefined;
  }
  if (exporterSetting !== 'console') {
    throw new Error('OTEL_TRACES_EXPORTER: only "console" (or "none") is supported locally');
  }
  return startTracing(new ConsoleSpanExporter());
}
