/**
 * /api/fleet: every machine the caller may see (admins: all; technicians: their assigned
 * ones), compact, with its latest reading time, in one answer for the dashboard's grid.
 * A route of its own rather than `equipment/…`, which `equipment/{id}` would claim.
 */
import { fleetQuerySchema, loadFleetMachines, readFleet } from '../lib/api/fleet.js';
import { accessScope } from '../lib/fanout/audience.js';
import { httpFunction } from '../lib/host/declarations.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const fleetFunction = httpFunction({
  name: 'fleet',
  route: 'fleet',
  methods: ['GET'],
  handler: protectedHandler({
    GET: async ({ request, principal, services }) => {
      const query = parseOrThrow(fleetQuerySchema, queryObject(request), 'query');
      const fleet = await readFleet(
        {
          // From the primary: a copy stored under the current version must not be older
          // than it, which a lagging replica could make it.
          machines: () => services.fleetCache.get(() => loadFleetMachines(services.pool)),
          presence: () => services.telemetryStore.listPresence(),
          scope: () => accessScope(services.pool, principal),
        },
        query,
      );
      return jsonResponse(fleet);
    },
  }),
});
