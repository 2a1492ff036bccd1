/** /api/operations: pipeline lag, recent dead letters and delivery backlog (admins only). */
import { requireRole } from '../lib/auth.js';
import { readOperations } from '../lib/api/operations.js';
import { httpFunction } from '../lib/host/declarations.js';
import { protectedHandler } from '../lib/http/handler.js';
import { jsonResponse } from '../lib/http/response.js';

export const operationsFunction = httpFunction({
  name: 'operations',
  route: 'operations',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ principal, services, context }) => {
      // Dead-letter reasons and partition figures describe the whole fleet: admins only.
      requireRole(principal, 'Admin');
      const operations = await readOperations(
        {
          telemetryDatabase: () => services.telemetryDatabase,
          partitionStates: async () =>
            (await services.telemetryStore.listStates()).map(({ state }) => state),
          hubPartitions: () => services.hubPartitions,
          hubLag: () => services.hubLag,
          log: (message) => {
            context.warn(message);
          },
        },
        Date.now(),
      );
      return jsonResponse(operations);
    },
  }),
});
