/** /api/equipment and /api/equipment/{id} */
import {
  createEquipment,
  deleteEquipment,
  getEquipment,
  equipmentTable,
  listEquipment,
  replaceEquipment,
} from '../lib/api/equipment.js';
import { equipmentInputSchema, equipmentQuerySchema } from '../lib/api/schemas.js';
import { crudFunctions } from '../lib/http/crud.js';

export const equipmentFunctions = crudFunctions({
  name: 'equipment',
  route: 'equipment',
  querySchema: equipmentQuerySchema,
  inputSchema: equipmentInputSchema,
  list: listEquipment,
  get: getEquipment,
  version: (pool, id) => equipmentTable.version(pool, id),
  create: createEquipment,
  replace: replaceEquipment,
  writerRoles: ['Admin'],
  remove: deleteEquipment,
  cache: (services) => services.equipmentCache,
});
