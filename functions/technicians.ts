/** /api/technicians and /api/technicians/{id} */
import { technicianInputSchema, technicianQuerySchema } from '../lib/api/schemas.js';
import {
  createTechnician,
  deleteTechnician,
  getTechnician,
  technicianTable,
  listTechnicians,
  replaceTechnician,
} from '../lib/api/technicians.js';
import { crudFunctions } from '../lib/http/crud.js';

export const technicianFunctions = crudFunctions({
  name: 'technicians',
  route: 'technicians',
  querySchema: technicianQuerySchema,
  inputSchema: technicianInputSchema,
  list: listTechnicians,
  get: getTechnician,
  version: (pool, id) => technicianTable.version(pool, id),
  create: createTechnician,
  replace: replaceTechnician,
  writerRoles: ['Admin'],
  remove: deleteTechnician,
});
