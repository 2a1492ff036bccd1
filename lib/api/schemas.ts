/**
 * The API's shapes: one zod schema per body, query and resource, used both to validate
 * requests and to generate the OpenAPI document, so the two cannot drift apart. String
 * limits match the MySQL column sizes (zod counts UTF-16 units, MySQL counts characters, so
 * zod is never the looser of the two).
 */
import { z } from 'zod';

// ---------- shared pieces ----------

/** An id in a JSON body: a JSON number, never a string or boolean coerced into one. */
export const bodyIdSchema = z
  .number({ error: 'Expected a positive whole number' })
  .int({ error: 'Expected a positive whole number' })
  .positive({ error: 'Expected a positive whole number' })
  .max(Number.MAX_SAFE_INTEGER);

/** An id in a query string (text by nature): digits coerced to a number. */
export const idSchema = z.coerce
  .number({ error: 'Expected a positive whole number' })
  .int({ error: 'Expected a positive whole number' })
  .positive({ error: 'Expected a positive whole number' })
  .max(Number.MAX_SAFE_INTEGER);

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Input text: JSON can carry lone UTF-16 surrogates, which utf8mb4 cannot store; they are
 * refused rather than silently replaced, so whatever is stored is what was sent.
 */
const inputString = () =>
  z.string().refine((value) => !loneSurrogate.test(value), {
    error: 'Contains an unpaired UTF-16 surrogate',
  });
export const text = (max: number) =>
  inputString().trim().min(1, { error: 'Must not be empty' }).max(max);
/** Optional text: absent, null and empty (after trimming) all store as null. */
const optionalText = (max: number) =>
  inputString()
    .trim()
    .max(max)
    .transform((value) => (value === '' ? null : value))
    .nullable()
    .optional();

export const isoDateTime = z.iso
  .datetime({ offset: true, error: 'Expected an ISO 8601 date-time with a time zone' })
  .refine(
    (value) => {
      const year = new Date(value).getUTCFullYear();
      return year >= 1900 && year < 2200;
    },
    { error: 'Expected a date-time between 1900 and 2199' },
  );

const isoDate = z.iso
  .date({ error: 'Expected a date as YYYY-MM-DD' })
  .refine((value) => value >= '1900-01-01' && value < '2200-01-01', {
    error: 'Expected a date between 1900 and 2199',
  });

/**
 * A calendar day, as the seed's DATE columns hold it: `YYYY-MM-DD`, or an ISO 8601
 * date-time with a time zone taken as its UTC date (so clients sending a moment still work,
 * and every server stores the same day for it).
 */
const calendarDay = z.union(
  [isoDate, isoDateTime.transform((value) => new Date(value).toISOString().slice(0, 10))],
  {
    error: 'Expected a date as YYYY-MM-DD, or an ISO 8601 date-time with a time zone',
  },
);

export const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'Expected a whole number from 1 to 200' })
    .int({ error: 'Expected a whole number from 1 to 200' })
    .min(1, { error: 'Expected a whole number from 1 to 200' })
    .max(200, { error: 'Expected a whole number from 1 to 200' })
    .default(50)
    .meta({ description: 'Page size, 1 to 200 (default 50).' }),
  cursor: z
    .string()
    .max(512)
    .optional()
    .meta({ description: "Opaque cursor from the previous page's `nextCursor`." }),
});

const boolQuery = z
  .enum(['true', 'false'], { error: 'Expected true or false' })
  .transform((v) => v === 'true');

const timestamps = {
  version: z.number().int().meta({ description: 'Row version; the ETag of the resource.' }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
};

/** Envelope of every list. */
export function pageSchema<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .meta({ description: 'Pass as `cursor` for the next page; null at the end.' }),
    })
    .meta({ id });
}

// ---------- equipment ----------

/**
 * The seed's statuses as it spells them, plus `Retired`: equipment with service records
 * cannot be deleted, so it is retired instead.
 */
export const equipmentStatuses = ['Operational', 'Maintenance', 'Offline', 'Retired'] as const;

export const equipmentInputSchema = z
  .strictObject({
    serialNumber: optionalText(64).meta({
      example: 'CAT-336-00042',
      description: 'Unique when given.',
    }),
    name: text(200).meta({ example: 'Excavator 42' }),
    type: text(50).meta({ example: 'excavator' }),
    manufacturer: optionalText(100),
    model: optionalText(100),
    location: optionalText(200).meta({ example: 'Quarry North' }),
    latitude: z
      .number()
      .min(-90)
      .max(90)
      .nullable()
      .optional()
      .meta({ description: 'WGS 84 degrees; with longitude, or neither.', example: 59.9139 }),
    longitude: z
      .number()
      .min(-180)
      .max(180)
      .nullable()
      .optional()
      .meta({ description: 'WGS 84 degrees; with latitude, or neither.', example: 10.7522 }),
    status: z.enum(equipmentStatuses).default('Operational'),
    commissionedOn: isoDate.nullable().optional(),
  })
  .refine((v) => (v.latitude ?? null) === null || (v.longitude ?? null) !== null, {
    path: ['longitude'],
    message: 'Give longitude with latitude',
  })
  .refine((v) => (v.longitude ?? null) === null || (v.latitude ?? null) !== null, {
    path: ['latitude'],
    message: 'Give latitude with longitude',
  })
  .meta({ id: 'EquipmentInput' });
export type EquipmentInput = z.output<typeof equipmentInputSchema>;

export const equipmentSchema = z
  .object({
    id: z.number().int(),
    serialNumber: z.string().nullable(),
    name: z.string(),
    type: z.string(),
    manufacturer: z.string().nullable(),
    model: z.string().nullable(),
    location: z.string().nullable(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    status: z.enum(equipmentStatuses),
    commissionedOn: z.string().nullable(),
    ...timestamps,
  })
  .meta({ id: 'Equipment' });
export type Equipment = z.output<typeof equipmentSchema>;

export const equipmentQuerySchema = pageQuerySchema
  .extend({
    status: z.enum(equipmentStatuses).optional(),
    type: z.string().max(50).optional(),
    location: z.string().max(200).optional(),
  })
  .strict();

// ---------- technicians ----------

export const technicianInputSchema = z
  .strictObject({
    externalId: inputString().trim().min(1).max(128).nullable().optional().meta({
      description: "Subject (`sub`) of the technician's tokens; links a login to this row.",
    }),
    name: text(200),
    email: z
      .email({ error: 'Expected an email address' })
      .max(254)
      .transform((v) => v.toLowerCase()),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ()-]{3,32}$/, { error: 'Expected a phone number' })
      .max(32)
      .nullable()
      .optional(),
    specialization: text(100).meta({ example: 'hydraulics' }),
    isActive: z.boolean().default(true),
  })
  .meta({ id: 'TechnicianInput' });
export type TechnicianInput = z.output<typeof technicianInputSchema>;

export const technicianSchema = z
  .object({
    id: z.number().int(),
    externalId: z.string().nullable(),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    specialization: z.string(),
    isActive: z.boolean(),
    ...timestamps,
  })
  .meta({ id: 'Technician' });
export type Technician = z.output<typeof technicianSchema>;

export const technicianQuerySchema = pageQuerySchema
  .extend({
    active: boolQuery.optional(),
    specialization: z.string().max(100).optional(),
  })
  .strict();

// ---------- service records ----------

/** Common service types: suggestions (OpenAPI examples), not a closed list. */
export const commonServiceTypes = ['inspection', 'preventive', 'repair', 'emergency'] as const;
/** The statuses the product writes and documents; the field itself is free text. */
export const knownServiceStatuses = ['scheduled', 'in_progress', 'completed', 'cancelled'] as const;
const serviceStatusDescription =
  'Free text up to 20 characters. The product uses `scheduled` (the default), `in_progress`, `completed` (also what resolving an alert records) and `cancelled`.';

/** Money: DECIMAL(10,2), non-negative, in US dollars. */
const cost = z
  .number({ error: 'Expected a non-negative amount with at most two decimals' })
  .min(0, { error: 'Must not be negative' })
  .max(99999999.99, { error: 'At most 99999999.99' })
  // The shortest decimal that round-trips: a float like 0.1 + 0.2 has more than two places.
  // (A sign is left to the minimum, so a negative amount gets one error, not two.)
  .refine((value) => /^-?\d+(\.\d{1,2})?$/.test(String(value)), {
    error: 'At most two decimal places',
  });

export const serviceRecordInputSchema = z
  .strictObject({
    equipmentId: bodyIdSchema,
    technicianId: bodyIdSchema.nullable().optional(),
    serviceType: text(50).meta({
      description: 'Free text up to 50 characters.',
      examples: [...commonServiceTypes],
    }),
    status: text(20)
      .default('scheduled')
      .meta({ description: serviceStatusDescription, examples: [...knownServiceStatuses] }),
    serviceDate: calendarDay.meta({
      description:
        'The day of the service, `YYYY-MM-DD`; a date-time with a time zone is stored as its UTC date.',
      examples: ['2026-11-20'],
    }),
    description: text(4000),
    laborHours: z
      .number()
      .min(0)
      .max(9999.99)
      .refine((v) => Math.abs(Math.round(v * 100) - v * 100) < 1e-6, {
        error: 'At most two decimal places',
      })
      .nullable()
      .optional(),
    cost: cost
      .nullable()
      .optional()
      .meta({ description: 'Cost in US dollars (USD), at most two decimals.', examples: [125.5] }),
  })
  .meta({ id: 'ServiceRecordInput' });
export type ServiceRecordInput = z.output<typeof serviceRecordInputSchema>;

/**
 * The work reported when resolving an alert (`PATCH /api/alerts/{id}`): a service record's
 * own fields with their own rules, so the two ways of writing a record cannot drift apart.
 */
export const alertResolutionWorkSchema = serviceRecordInputSchema
  .pick({ description: true, laborHours: true })
  .extend({
    serviceType: serviceRecordInputSchema.shape.serviceType
      .optional()
      .meta({ description: 'Default `repair`.' }),
  });
export type AlertResolutionWork = z.output<typeof alertResolutionWorkSchema>;

export const serviceRecordSchema = z
  .object({
    id: z.number().int(),
    equipmentId: z.number().int(),
    technicianId: z.number().int().nullable(),
    serviceType: z.string().meta({ examples: [...commonServiceTypes] }),
    status: z.string().meta({ description: serviceStatusDescription }),
    serviceDate: z.iso.date(),
    description: z.string(),
    laborHours: z.number().nullable(),
    cost: z.number().nullable().meta({ description: 'US dollars (USD).' }),
    alertId: z
      .string()
      .nullable()
      .meta({ description: 'The alert whose resolution this record documents, if any.' }),
    ...timestamps,
  })
  .meta({ id: 'ServiceRecord' });
export type ServiceRecord = z.output<typeof serviceRecordSchema>;

export const serviceRecordQuerySchema = pageQuerySchema
  .extend({
    equipmentId: idSchema.optional(),
    technicianId: idSchema.optional(),
    status: z.string().max(20).optional(),
    from: calendarDay.optional().meta({
      description: 'Earliest `serviceDate`, inclusive (a date-time counts as its UTC date).',
    }),
    to: calendarDay.optional().meta({
      description: 'Latest `serviceDate`, exclusive (a date-time counts as its UTC date).',
    }),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from < q.to, {
    error: '`from` must be before `to`',
    path: ['from'],
  });

// ---------- assignments ----------

export const assignmentSchema = z
  .object({
    equipmentId: z.number().int(),
    technician: technicianSchema,
    assignedAt: z.iso.datetime(),
  })
  .meta({ id: 'Assignment' });
export type Assignment = z.output<typeof assignmentSchema>;

export const assignmentQuerySchema = pageQuerySchema.strict();
