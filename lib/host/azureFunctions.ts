/**
 * Runtime values of `@azure/functions`. The package is a bundled CommonJS module whose named
 * exports Node's ESM loader cannot detect, so they are taken from its default export here,
 * once. Types are imported from the package directly as usual.
 */
import azureFunctions from '@azure/functions';

export const { app, HttpRequest, HttpResponse, InvocationContext } = azureFunctions;
