/**
 * Registers the app's functions with the Functions host's v4 programming model: what both
 * the source entry (`functions/index.ts`) and the deployable bundle's entry (dev/bundle.ts)
 * run at import. The bundle registers the same declarations with deferred handlers
 * (`deferredDeclarations`), so the modules behind them load at the first invocation.
 */
import type { EventHubFunctionOptions, InvocationContext } from '@azure/functions';
import type {
  EventHubFunctionDeclaration,
  FunctionDeclaration,
  FunctionMetadata,
} from './declarations.js';
import { processConfig } from '../config.js';
import { app } from './azureFunctions.js';
import { joinHostTraces, startAzureMonitor } from '../observability/azure.js';

/** One registrar per trigger kind; a new kind fails to compile until it is registered here. */
const registrars: {
  [K in FunctionDeclaration['kind']]: (
    declaration: Extract<FunctionDeclaration, { kind: K }>,
  ) => void;
} = {
  http: (declaration) => {
    app.http(declaration.name, {
      route: declaration.route,
      methods: [...declaration.methods],
      authLevel: declaration.authLevel,
      handler: declaration.handler,
    });
  },
  eventHub: (declaration) => {
    // `dataType` is not in EventHubFunctionOptions' type, but the library copies every
    // trigger option into the binding the host reads (`rawBindings`), where `dataType`
    // picks `byte[]` per event
    // (Azure/azure-functions-host src/WebJobs.Script/Binding/GeneralScriptBindingProvider.cs).
    const options: EventHubFunctionOptions & Pick<EventHubFunctionDeclaration, 'dataType'> = {
      connection: declaration.connection,
      eventHubName: declaration.eventHubName,
      consumerGroup: declaration.consumerGroup,
      cardinality: declaration.cardinality,
      dataType: declaration.dataType,
      retry: declaration.retry,
      handler: declaration.handler,
    };
    app.eventHub(declaration.name, options);
  },
  timer: (declaration) => {
    app.timer(declaration.name, { schedule: declaration.schedule, handler: declaration.handler });
  },
};

function register(declaration: FunctionDeclaration): void {
  // The mapped type pairs each kind with its registrar; TypeScript cannot follow the
  // correlation through a union, hence the one cast.
  (registrars[declaration.kind] as (d: FunctionDeclaration) => void)(declaration);
}

/** Starts telemetry, sets the app up and registers `declarations`. */
export async function registerApp(declarations: readonly FunctionDeclaration[]): Promise<void> {
  // Metrics and traces to Application Insights (when configured) before any function runs; the
  // host exports its own (host.json `telemetryMode`), and each invocation joins its trace.
  if (await startAzureMonitor(processConfig().section('monitor'))) joinHostTraces(app);
  // Request bodies arrive as streams, so the 1 MiB limit is enforced while reading.
  app.setup({ enableHttpStream: true });
  for (const declaration of declarations) register(declaration);
}

/**
 * `metadata` as declarations whose handlers call `load` at the first invocation (once for
 * all of them) and then the loaded declaration's handler of the same name. What the bundle
 * registers: importing it evaluates the registration alone, not the app's modules (the
 * MySQL, Cosmos, Redis and Web PubSub clients, zod schemas) behind the handlers.
 */
export function deferredDeclarations(
  metadata: readonly FunctionMetadata[],
  load: () => Promise<readonly FunctionDeclaration[]>,
): FunctionDeclaration[] {
  type AnyHandler = (trigger: unknown, context: InvocationContext) => unknown;
  let handlers: Promise<Map<string, AnyHandler>> | undefined;
  const loaded = () =>
    (handlers ??= load().then(
      (declarations) =>
        new Map(declarations.map((d) => [d.name, d.handler as AnyHandler] as const)),
      (error: unknown) => {
        // A failed load (a module that threw) is tried again at the next invocation.
        handlers = undefined;
        throw error;
      },
    ));
  return metadata.map((entry) => {
    const handler = async (trigger: unknown, context: InvocationContext) => {
      const found = (await loaded()).get(entry.name);
      if (!found) throw new Error(`Function ${entry.name} is registered but not declared`);
      return found(trigger, context);
    };
    // Each kind's handler takes (trigger, context); the deferred one forwards both as given.
    return { ...entry, handler } as FunctionDeclaration;
  });
}
