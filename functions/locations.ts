/** /api/me/location (a technician's live position) and /api/equipment/{id}/nearest-technicians */
import { nearestTechnicians, positionInputSchema, reportMyLocation } from '../lib/api/locations.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { readJsonBody } from '../lib/http/request.js';
import { jsonResponse, noContent } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const locationFunctions = [
  httpFunction({
    name: 'my-location',
    route: 'me/location',
    methods: ['PUT'],
    handler: protectedHandler({
      PUT: async ({ request, services, principal }) => {
        const input = parseOrThrow(positionInputSchema, await readJsonBody(request), 'body');
        await reportMyLocation(
          services.pool,
          services.technicianLocations,
          principal,
          input,
          new Date(),
        );
        return noContent();
      },
    }),
  }),
  httpFunction({
    name: 'nearest-technicians',
    route: 'equipment/{id}/nearest-technicians',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, services, principal, db }) =>
        jsonResponse(
          await nearestTechnicians(
            db,
            services.technicianLocations,
            principal,
            routeId(request.params),
          ),
        ),
    }),
  }),
];
