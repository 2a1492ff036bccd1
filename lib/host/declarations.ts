/**
 * A function declared once: its name, trigger and options, and its handler. The Azure entry
 * (`functions/index.ts`) hands these to `app.*`; the local host (`dev/`) serves the same
 * objects, so both run identical code behind identical routes.
 */
import type { HttpHandler, HttpMethod } from '@azure/functions';

export interface HttpFunctionDeclaration {
  kind: 'http';
  name: string;
  /** Route template without the `api/` prefix, e.g. `equipment/{id}`. */
  route: string;
  methods: readonly HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

/** Every kind of trigger the product declares; later triggers join this union. */
export type FunctionDeclaration = HttpFunctionDeclaration;

/** The HTTP functions among `declarations`. */
export function httpDeclarations(
  declarations: readonly FunctionDeclaration[],
): HttpFunctionDeclaration[] {
  // Always true until the next trigger kind joins the union; the filter keeps callers right then.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  return declarations.filter((d): d is HttpFunctionDeclaration => d.kind === 'http');
}

export function httpFunction(
  declaration: Omit<HttpFunctionDeclaration, 'kind' | 'authLevel'>,
): HttpFunctionDeclaration {
  // Authorization is the app's own (bearer tokens), so the platform's function keys are not used.
  return { kind: 'http', authLevel: 'anonymous', ...declaration };
}
