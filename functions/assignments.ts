/** /api/equipment/{id}/technicians and /api/equipment/{id}/technicians/{technicianId} */
import { assignTechnician, listAssignments, unassignTechnician } from '../lib/api/assignments.js';
import { assignmentQuerySchema } from '../lib/api/schemas.js';
import { httpFunction } from '../lib/host/declarations.js';
import { routeId } from '../lib/http/crud.js';
import { protectedHandler } from '../lib/http/handler.js';
import { queryObject } from '../lib/http/request.js';
import { jsonResponse, listResponse, noContent } from '../lib/http/response.js';
import { parseOrThrow } from '../lib/http/validation.js';

export const assignmentFunctions = [
  httpFunction({
    name: 'equipment-technicians',
    route: 'equipment/{id}/technicians',
    methods: ['GET'],
    handler: protectedHandler({
      GET: async ({ request, db }) => {
        const equipmentId = routeId(request.params);
        const query = parseOrThrow(assignmentQuerySchema, queryObject(request), 'query');
        return listResponse(request, await listAssignments(db, equipmentId, query));
      },
    }),
  }),
  httpFunction({
    name: 'equipment-technician',
    route: 'equipment/{id}/technicians/{technicianId}',
    methods: ['PUT', 'DELETE'],
    handler: protectedHandler({
      PUT: async ({ request, db: pool, principal }) => {
        const equipmentId = routeId(request.params);
        const technicianId = routeId(request.params, 'technicianId');
        const { assignment, created } = await assignTechnician(
          pool,
          principal,
          equipmentId,
          technicianId,
        );
        return jsonResponse(assignment, { status: created ? 201 : 200 });
      },
      DELETE: async ({ request, db: pool, principal }) => {
        await unassignTechnician(
          pool,
          principal,
          routeId(request.params),
          routeId(request.params, 'technicianId'),
        );
        return noContent();
      },
    }),
  }),
];
