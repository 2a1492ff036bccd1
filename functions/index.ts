/**
 * Azure entry point (`main` in package.json): registers every declared function with the
 * Functions host's v4 programming model.
 */
import { app } from '../lib/host/azureFunctions.js';
import { functionDeclarations } from './registry.js';

app.setup({ enableHttpStream: true });

for (const declaration of functionDeclarations) {
  switch (declaration.kind) {
    case 'http':
      app.http(declaration.name, {
        route: declaration.route,
        methods: [...declaration.methods],
        authLevel: declaration.authLevel,
        handler: declaration.handler,
      });
      break;
  }
}
