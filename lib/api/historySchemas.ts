/** Request and response shapes of `GET /api/equipment/{id}/history`. */
import { z } from 'zod';
import { isoDateTime, pageQuerySchema, pageSchema } from './schemas.js';

/** Every event an equipment's history holds. */
export const equipmentEventTypes = [
  'EquipmentCreated',
  'StatusChanged',
  'LocationUpdated',
  'EquipmentUpdated',
  'EquipmentDeleted',
  'TechnicianAssigned',
  'TechnicianUnassigned',
  'ServiceRecorded',
  'ThresholdsChanged',
  'OfflineTimeoutChanged',
] as const;
export type EquipmentEventType = (typeof equipmentEventTypes)[number];

const eventTypeList = z
  .string()
  .max(400)
  .transform((value) => value.split(',').map((part) => part.trim()))
  .pipe(
    z.array(
      z.enum(equipmentEventTypes, {
        error: `Expected event types from: ${equipmentEventTypes.join(', ')}`,
      }),
    ),
  );

export const equipmentHistoryQuerySchema = pageQuerySchema
  .extend({
    // A comma list rather than a repeated parameter: the API refuses repeated parameters.
    type: eventTypeList.optional().meta({
      description: `Only these event types, comma-separated (e.g. \`StatusChanged,LocationUpdated\`): ${equipmentEventTypes.join(', ')}.`,
    }),
    from: isoDateTime.optional().meta({ description: 'Earliest `occurredAt`, inclusive.' }),
    to: isoDateTime.optional().meta({ description: 'Latest `occurredAt`, exclusive.' }),
  })
  .strict()
  .refine((q) => !q.from || !q.to || new Date(q.from) < new Date(q.to), {
    error: '`from` must be before `to`',
    path: ['from'],
  });
export type EquipmentHistoryQuery = z.output<typeof equipmentHistoryQuerySchema>;

const fields = z
  .record(z.string(), z.unknown())
  .nullable()
  .meta({ description: 'The changed fields, as the API spells them; null when not applicable.' });

export const equipmentEventSchema = z
  .object({
    id: z
      .number()
      .int()
      .meta({ description: 'Position in the log; later events have larger ids.' }),
    equipmentId: z.number().int(),
    type: z.enum(equipmentEventTypes),
    actor: z.string().meta({ description: "Who made the change: the token's subject." }),
    occurredAt: z.iso.datetime(),
    version: z.number().int().nullable().meta({
      description: "The equipment's version after the change; null if the row did not change.",
    }),
    before: fields,
    after: fields,
  })
  .meta({ id: 'EquipmentEvent' });
export type EquipmentEvent = z.output<typeof equipmentEventSchema>;

export const equipmentHistoryPageSchema = pageSchema(equipmentEventSchema, 'EquipmentEventPage');
