/**
 * Azure entry point (`main` in package.json): registers every declared function with the
 * Functions host's v4 programming model.
 */
import type { EventHubFunctionOptions } from '@azure/functions';
import type { EventHubFunctionDeclaration, FunctionDeclaration } from '../lib/host/declarations.js';
import { processConfig } from '../lib/config.js';
import { app } from '../lib/host/azureFunctions.js';
import { joinHostTraces, startAzureMonitor } from '../lib/observability/azure.js';
import { functionDeclarations } from './registry.js';

// Metrics and traces to Application Insights (when configured) before any function runs; the
// host exports its own (host.json `telemetryMode`), and each invocation joins its trace.
if (await startAzureMonitor(processConfig().section('monitor'))) joinHostTraces(app);

// Request bodies arrive as streams, so the 1 MiB limit is enforced while reading.
app.setup({ enableHttpStream: true });

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

for (const declaration of functionDeclarations) register(declaration);
