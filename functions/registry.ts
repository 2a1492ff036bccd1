/** Every function the app declares: the single list both the Azure entry and the local host use. */
import type { FunctionDeclaration } from '../lib/host/declarations.js';
import { assignmentFunctions } from './assignments.js';
import { equipmentFunctions } from './equipment.js';
import { healthFunction } from './health.js';
import { openApiFunction } from './openapi.js';
import { serviceRecordFunctions } from './serviceRecords.js';
import { technicianFunctions } from './technicians.js';

export const functionDeclarations: readonly FunctionDeclaration[] = [
  healthFunction,
  openApiFunction,
  ...equipmentFunctions,
  ...assignmentFunctions,
  ...technicianFunctions,
  ...serviceRecordFunctions,
];
