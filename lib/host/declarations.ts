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

export function httpFunction(declaration: Omit<HttpFunctionDeclaration, 'kind' | 'authLevel'>): HttpFunctionDeclaration {
  // Authorization is the app's own (bearer tokens), so the platform's function keys are not used.
  return { kind: 'http', authLevel: 'anonymous', ...declaration };
}
