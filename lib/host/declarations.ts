/**
 * A function declared once: its name, trigger and options, and its handler. The Azure entry
 * (`functions/index.ts`) hands these to `app.*`; the local host (`dev/`) serves the same
 * objects, so both run identical code behind identical routes.
 */
import type {
  EventHubHandler,
  ExponentialBackoffRetryOptions,
  HttpHandler,
  HttpMethod,
  TimerHandler,
} from '@azure/functions';

export interface HttpFunctionDeclaration {
  kind: 'http';
  name: string;
  /** Route template without the `api/` prefix, e.g. `equipment/{id}`. */
  route: string;
  methods: readonly HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

export interface EventHubFunctionDeclaration {
  kind: 'eventHub';
  name: string;
  /** App-setting prefix of the connection (`EventHubConnection__fullyQualifiedNamespace`...). */
  connection: string;
  /** `%SETTING%` expressions are resolved from app settings, as the host does. */
  eventHubName: string;
  consumerGroup: string;
  cardinality: 'many';
  /**
   * How the host hands over each event body. `binary`: a Buffer per event, an empty body
   * kept as an empty Buffer. Without it the bodies travel as strings and the host drops the
   * empty ones from the batch unless the worker advertises `IncludeEmptyEntriesInMessagePayload`,
   * which the Node worker does not (https://github.com/Azure/azure-functions-nodejs-worker/issues/639),
   * leaving fewer bodies than metadata entries.
   */
  dataType: 'binary' | 'string';
  retry: ExponentialBackoffRetryOptions;
  handler: EventHubHandler;
}

export interface TimerFunctionDeclaration {
  kind: 'timer';
  name: string;
  /** NCRONTAB, six fields: second minute hour day month day-of-week. */
  schedule: string;
  handler: TimerHandler;
}

/** Every kind of trigger the product declares. */
export type FunctionDeclaration =
  HttpFunctionDeclaration | EventHubFunctionDeclaration | TimerFunctionDeclaration;

/** The HTTP functions among `declarations`. */
export function httpDeclarations(
  declarations: readonly FunctionDeclaration[],
): HttpFunctionDeclaration[] {
  return declarations.filter((d): d is HttpFunctionDeclaration => d.kind === 'http');
}

export function httpFunction(
  declaration: Omit<HttpFunctionDeclaration, 'kind' | 'authLevel'>,
): HttpFunctionDeclaration {
  // Authorization is the app's own (bearer tokens), so the platform's function keys are not used.
  return { kind: 'http', authLevel: 'anonymous', ...declaration };
}

/** A declaration without its handler: what the host needs to know at registration. */
export type FunctionMetadata = WithoutHandler<FunctionDeclaration>;
/** `Omit` of each member of a union (a plain `Omit` of the union would merge them). */
type WithoutHandler<D> = D extends unknown ? Omit<D, 'handler'> : never;

/** What a declaration says, without its handler (plain data: it goes into the bundle as JSON). */
export function metadataOf(declaration: FunctionDeclaration): FunctionMetadata {
  const { handler: _handler, ...metadata } = declaration;
  return metadata;
}
