/** /api/service-records and /api/service-records/{id} */
import { serviceRecordInputSchema, serviceRecordQuerySchema } from '../lib/api/schemas.js';
import {
  createServiceRecord,
  deleteServiceRecord,
  getServiceRecord,
  listServiceRecords,
  replaceServiceRecord,
} from '../lib/api/serviceRecords.js';
import { crudFunctions } from '../lib/http/crud.js';

export const serviceRecordFunctions = crudFunctions({
  name: 'service-records',
  route: 'service-records',
  querySchema: serviceRecordQuerySchema,
  inputSchema: serviceRecordInputSchema,
  list: listServiceRecords,
  get: getServiceRecord,
  create: createServiceRecord,
  replace: replaceServiceRecord,
  writerRoles: ['Admin', 'Technician'],
  remove: deleteServiceRecord,
});
