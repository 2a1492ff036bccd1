/** /api/service-records and /api/service-records/{id} */
import { serviceRecordInputSchema, serviceRecordQuerySchema } from '../lib/api/schemas.js';
import {
  createServiceRecord,
  deleteServiceRecord,
  getServiceRecord,
  serviceRecordTable,
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
  version: (pool, id) => serviceRecordTable.version(pool, id),
  create: createServiceRecord,
  replace: replaceServiceRecord,
  writerRoles: ['Admin', 'Technician'],
  remove: deleteServiceRecord,
});
