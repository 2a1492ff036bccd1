/**
 * Traces through the OpenTelemetry API (no-op without a registered tracer provider, as for
 * the metrics). An event's trace comes from its producer: the Event Hubs SDK puts the W3C
 * `traceparent` of the event's "message" span in the application property `Diagnostic-Id`
 * when tracing is on (Azure/azure-sdk-for-js sdk/eventhub/event-hubs
 * src/diagnostics/instrumentEventData.ts, `TRACEPARENT_PROPERTY = "Diagnostic-Id"`). A
 * batch's processing span links to every event's context (a batch has many parents; span
 * links are how OpenTelemetry's messaging conventions model that), and what the processing
 * does (Cosmos requests, the alert delivery) runs inside it, so one event's trace id leads
 * from its producer to its batch, and from there to the Cosmos writes and the delivery.
 */
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';

/** The tracer (instrumentation scope) name. */
export const tracerName = 'sis';

/** The application property the Event Hubs SDK writes an event's traceparent to. */
export const diagnosticIdProperty = 'Diagnostic-Id';

/** The context a W3C `traceparent` (and `tracestate`) carries, under `parent`. */
export function contextFromTraceparent(
  traceparent: string | undefined,
  tracestate?: string,
  parent: Context = context.active(),
): Context {
  if (!traceparent) return parent;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate) carrier['tracestate'] = tracestate;
  return propagation.extract(parent, carrier);
}

/**
 * A link to each event's producer context, from the `Diagnostic-Id` of each entry of the
 * trigger's `propertiesArray` (one per event; missing or unparseable ones are skipped).
 */
export function producerLinks(propertiesArray: unknown): Link[] {
  if (!Array.isArray(propertiesArray)) return [];
  const links: Link[] = [];
  for (const properties of propertiesArray as unknown[]) {
    if (typeof properties !== 'object' || properties === null) continue;
    const id = (properties as Record<string, unknown>)[diagnosticIdProperty];
    if (typeof id !== 'string') continue;
    const spanContext = trace.getSpanContext(
      contextFromTraceparent(id, undefined, context.active()),
    );
    if (spanContext && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return links;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; default: the active context. */
  parent?: Context;
}

/**
 * Runs `work` in a new span (active while it runs), ends it, and marks it failed with the
 * exception when `work` throws.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = trace.getTracer(tracerName).startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links?.length ? { links: options.links } : {}),
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}

export { SpanKind };
