/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the handlers validate with.
 * `tests/lib/api/openapi.test.ts` checks that every declared route and method is described.
 */
import { fleetQuerySchema, fleetSchema } from './fleet.js';
import { equipmentHistoryPageSchema, equipmentHistoryQuerySchema } from './historySchemas.js';
import {
  silenceInputSchema,
  silencePageSchema,
  silencePatchSchema,
  silenceQuerySchema,
  silenceSchema,
} from './silences.js';
import { offlineTimeoutInputSchema, offlineTimeoutSchema } from './offlineTimeout.js';
import { notificationPreferencesSchema } from './notificationPreferences.js';
import { notificationPreferencesInputSchema } from '../fanout/preferences.js';
import {
  webhookCreatedSchema,
  webhookHistoryPageSchema,
  webhookHistoryQuerySchema,
  webhookInputSchema,
  webhookPageSchema,
  webhookQuerySchema,
  webhookSchema,
} from './webhooks.js';
import { equipmentThresholdsInputSchema, equipmentThresholdsSchema } from './thresholds.js';
import { nearestTechniciansSchema, positionInputSchema } from './locations.js';
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  assignmentQuerySchema,
  assignmentSchema,
  equipmentInputSchema,
  equipmentQuerySchema,
  equipmentSchema,
  pageSchema,
  serviceRecordInputSchema,
  serviceRecordQuerySchema,
  serviceRecordSchema,
  technicianInputSchema,
  technicianQuerySchema,
  technicianSchema,
} from './schemas.js';
import {
  alertCommentInputSchema,
  alertCommentListSchema,
  alertCommentSchema,
  alertPatchSchema,
  alertQuerySchema,
  alertDetailSchema,
  alertSchema,
  meSchema,
  negotiateSchema,
  deadLetterQuerySchema,
  deadLetterSchema,
  telemetryQuerySchema,
  telemetrySchema,
} from './telemetrySchemas.js';
import { deliveryQuerySchema, deliverySchema } from './deliverySchemas.js';
import { operationsSchema } from './operations.js';

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    errors: z
      .array(
        z.object({
          pointer: z.string().optional(),
          parameter: z.string().optional(),
          header: z.string().optional(),
          detail: z.string(),
        }),
      )
      .optional(),
    invocationId: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' });

const healthSchema = z
  .object({
    status: z.enum(['healthy', 'degraded', 'unhealthy']).meta({
      description:
        '`degraded`: only Redis (a cache and coordinator) is down and the API keeps serving (200); `unhealthy`: MySQL or Cosmos DB is down (503).',
    }),
    checks: z.record(
      z.string(),
      z.object({
        status: z.enum(['up', 'down']),
        latencyMs: z.number(),
        reason: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'Health' });

const problemContent = { 'application/problem+json': { schema: problemSchema } };
const problem = (description: string) => ({ description, content: problemContent });
const etagHeader = {
  ETag: {
    description: 'Version of the resource, for If-Match.',
    schema: { type: 'string' as const },
  },
};
const ifMatchHeader = z.object({
  'if-match': z
    .string()
    .optional()
    .meta({ description: 'ETag from a previous read; 412 when stale.' }),
});
const ifNoneMatchHeader = z.object({
  'if-none-match': z.string().optional().meta({
    description:
      'ETags from previous reads: 304 without a body while one still matches (weak comparison; `*` matches any existing resource).',
  }),
});
const listEtagHeader = {
  ETag: {
    description: 'Weak ETag of this page, for If-None-Match.',
    schema: { type: 'string' as const },
  },
};
/** The answer to a conditional GET whose ETag still matches. */
const notModified = (headers: typeof etagHeader | typeof listEtagHeader) => ({
  description: 'Not modified: the ETag in If-None-Match still matches.',
  headers,
});
const idParams = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]*$/)
    .meta({ description: 'Resource id.' }),
});
const assignmentParams = idParams.extend({
  technicianId: z
    .string()
    .regex(/^[1-9][0-9]*$/)
    .meta({ description: 'Technician id.' }),
});

const authErrors = {
  401: problem('No valid bearer token.'),
  403: problem("The caller's role does not allow this."),
  429: problem(
    'Over the rate limit of this route class: wait Retry-After seconds (RateLimit-Policy and RateLimit say where the caller stands on every answer).',
  ),
  500: problem('Unexpected error; see invocationId.'),
};

function registerCrud(
  registry: OpenAPIRegistry,
  options: {
    path: string;
    tag: string;
    resource: z.ZodType;
    input: z.ZodType;
    query: z.ZodObject;
    pageId: string;
    writers: string;
    /** Names in operation ids: `list${many}`, `create${one}`, `get${one}`... */
    one: string;
    many: string;
  },
): void {
  const { path, tag, resource, input, query, pageId, writers, one, many } = options;
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  const body = { content: json(input), required: true };
  const routes: RouteConfig[] = [
    {
      method: 'get',
      path,
      operationId: `list${many}`,
      summary: `List ${tag.toLowerCase()}`,
      request: { query, headers: ifNoneMatchHeader },
      responses: {
        200: {
          description: 'One page.',
          headers: listEtagHeader,
          content: json(pageSchema(resource, pageId)),
        },
        304: notModified(listEtagHeader),
        400: problem('Bad filter or cursor.'),
        ...authErrors,
      },
    },
    {
      method: 'post',
      path,
      operationId: `create${one}`,
      summary: `Create (${writers})`,
      request: { body },
      responses: {
        201: {
          description: 'Created.',
          headers: { ...etagHeader, Location: { schema: { type: 'string' } } },
          content: json(resource),
        },
        400: problem('Invalid body.'),
        409: problem('Conflicts with existing data.'),
        413: problem('Body over 1 MiB.'),
        415: problem('Body is not JSON.'),
        ...authErrors,
      },
    },
    {
      method: 'get',
      path: `${path}/{id}`,
      operationId: `get${one}`,
      summary: 'Get one',
      request: { params: idParams, headers: ifNoneMatchHeader },
      responses: {
        200: { description: 'Found.', headers: etagHeader, content: json(resource) },
        304: notModified(etagHeader),
        400: problem('Bad id.'),
        404: problem('No such id.'),
        ...authErrors,
      },
    },
    {
      method: 'put',
      path: `${path}/{id}`,
      operationId: `replace${one}`,
      summary: `Replace (${writers})`,
      request: { params: idParams, headers: ifMatchHeader, body },
      responses: {
        200: { description: 'Replaced.', headers: etagHeader, content: json(resource) },
        400: problem('Invalid id or body.'),
        404: problem('No such id.'),
        409: problem('Conflicts with existing data.'),
        412: problem('If-Match is stale.'),
        413: problem('Body over 1 MiB.'),
        415: problem('Body is not JSON.'),
        ...authErrors,
      },
    },
    {
      method: 'delete',
      path: `${path}/{id}`,
      operationId: `delete${one}`,
      summary: 'Delete (Admin)',
      request: { params: idParams, headers: ifMatchHeader },
      responses: {
        204: { description: 'Deleted.' },
        400: problem('Bad id.'),
        404: problem('No such id.'),
        409: problem('Still referenced.'),
        412: problem('If-Match is stale.'),
        ...authErrors,
      },
    },
  ];
  for (const route of routes)
    registry.registerPath({ ...route, tags: [tag], security: [{ bearer: [] }] });
}

/** Builds the document; `serverUrl` is where the API is served (ends in `/api`). */
export function buildOpenApiDocument(
  serverUrl = '/api',
): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Entra ID access token (local: `npm run token`). Roles come from the `roles` claim: Admin, Technician.',
  });

  registry.registerPath({
    method: 'get',
    path: '/health',
    operationId: 'getHealth',
    tags: ['Operations'],
    summary: 'Dependency health (anonymous)',
    security: [],
    responses: {
      200: {
        description:
          'Serving: every dependency is up (`healthy`), or only Redis is down (`degraded`).',
        content: { 'application/json': { schema: healthSchema } },
      },
      503: {
        description: 'MySQL or Cosmos DB is down (`unhealthy`).',
        content: { 'application/json': { schema: healthSchema } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['Operations'],
    summary: 'This document (anonymous)',
    security: [],
    responses: {
      200: {
        description: 'OpenAPI 3.1 document.',
        content: { 'application/json': { schema: z.object({}).loose() } },
      },
    },
  });

  registerCrud(registry, {
    path: '/equipment',
    tag: 'Equipment',
    resource: equipmentSchema,
    input: equipmentInputSchema,
    query: equipmentQuerySchema,
    pageId: 'EquipmentPage',
    writers: 'Admin',
    one: 'Equipment',
    many: 'Equipment',
  });
  registerCrud(registry, {
    path: '/technicians',
    tag: 'Technicians',
    resource: technicianSchema,
    input: technicianInputSchema,
    query: technicianQuerySchema,
    pageId: 'TechnicianPage',
    writers: 'Admin',
    one: 'Technician',
    many: 'Technicians',
  });
  registerCrud(registry, {
    path: '/service-records',
    tag: 'Service records',
    resource: serviceRecordSchema,
    input: serviceRecordInputSchema,
    query: serviceRecordQuerySchema,
    pageId: 'ServiceRecordPage',
    writers: 'Admin, or a Technician for their own records',
    one: 'ServiceRecord',
    many: 'ServiceRecords',
  });

  registry.registerPath({
    method: 'get',
    path: '/fleet',
    operationId: 'getFleet',
    tags: ['Equipment'],
    summary: 'Every machine the caller may see, compact, with its latest reading time',
    security: [{ bearer: [] }],
    request: { query: fleetQuerySchema },
    responses: {
      200: {
        description: 'The fleet, by id.',
        content: { 'application/json': { schema: fleetSchema } },
      },
      400: problem('Bad filter.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/equipment/{id}/technicians',
    operationId: 'listEquipmentTechnicians',
    tags: ['Assignments'],
    summary: 'Technicians assigned to equipment',
    security: [{ bearer: [] }],
    request: { params: idParams, query: assignmentQuerySchema, headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: 'One page.',
        headers: listEtagHeader,
        content: { 'application/json': { schema: pageSchema(assignmentSchema, 'AssignmentPage') } },
      },
      304: notModified(listEtagHeader),
      400: problem('Bad id, limit or cursor.'),
      404: problem('No such equipment.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/equipment/{id}/technicians/{technicianId}',
    operationId: 'assignTechnician',
    tags: ['Assignments'],
    summary: 'Assign a technician (Admin; idempotent)',
    security: [{ bearer: [] }],
    request: { params: assignmentParams },
    responses: {
      200: {
        description: 'Already assigned.',
        content: { 'application/json': { schema: assignmentSchema } },
      },
      201: {
        description: 'Assigned.',
        content: { 'application/json': { schema: assignmentSchema } },
      },
      400: problem('Bad id.'),
      404: problem('No such equipment or technician.'),
      409: problem('Technician is deactivated.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/equipment/{id}/technicians/{technicianId}',
    operationId: 'unassignTechnician',
    tags: ['Assignments'],
    summary: 'Unassign a technician (Admin)',
    security: [{ bearer: [] }],
    request: { params: assignmentParams },
    responses: {
      204: { description: 'Unassigned.' },
      400: problem('Bad id.'),
      404: problem('Not assigned.'),
      ...authErrors,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/equipment/{id}/history',
    operationId: 'listEquipmentHistory',
    tags: ['Equipment'],
    summary: 'Change history, newest first',
    description:
      'Every change to the equipment, its assignments and its service records, with who made it ' +
      'and the changed fields before and after. Replaying it oldest first from `EquipmentCreated` ' +
      "gives the equipment's current row. A deleted machine's history stays readable.",
    security: [{ bearer: [] }],
    request: { params: idParams, query: equipmentHistoryQuerySchema },
    responses: {
      200: {
        description: 'One page.',
        content: { 'application/json': { schema: equipmentHistoryPageSchema } },
      },
      400: problem('Bad id, event type, time range, limit or cursor.'),
      404: problem('No such equipment.'),
      ...authErrors,
    },
  });

  registerThresholds(registry);
  registerSilences(registry);
  registerWebhooks(registry);
  registerOfflineTimeout(registry);
  registerNotificationPreferences(registry);
  registerTelemetryReads(registry);
  registerRealtime(registry);

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'SIS service API',
      version: '1.0.0',
      description:
        'Equipment, technicians, assignments and service records for heavy-equipment service teams.',
      // The product is not open source: no licence is granted to the API or its description.
      // SPDX has no id for that; `LicenseRef-` is its form for a licence not on its list.
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
  });
}

/** /equipment/{id}/thresholds: one machine's threshold overrides. */
function registerThresholds(registry: OpenAPIRegistry): void {
  const path = '/equipment/{id}/thresholds';
  const content = { 'application/json': { schema: equipmentThresholdsSchema } };
  const common = { tags: ['Equipment'], security: [{ bearer: [] }] };
  const description =
    'Per metric, medium/high/critical raise thresholds replacing those of the defaults and ' +
    'the equipment type, in order for the metric (temperature and vibration rise, pressure ' +
    'falls) and within its physical range, and an optional clear threshold on the normal ' +
    'side of medium (kept for hysteresis; not applied yet). The pipeline applies a change ' +
    'within 60 seconds, so from the next window to close.';
  registry.registerPath({
    ...common,
    method: 'get',
    path,
    operationId: 'getEquipmentThresholds',
    summary: 'Threshold overrides of one equipment',
    description: `${description} Technicians read those of their assigned equipment only.`,
    request: { params: idParams, headers: ifNoneMatchHeader },
    responses: {
      200: { description: 'Found.', headers: etagHeader, content },
      304: notModified(etagHeader),
      400: problem('Bad id.'),
      404: problem('No such equipment (or not assigned to the technician), or no overrides.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'put',
    path,
    operationId: 'putEquipmentThresholds',
    summary: 'Set or replace threshold overrides (Admin)',
    description,
    request: {
      params: idParams,
      headers: ifMatchHeader,
      body: {
        required: true,
        content: { 'application/json': { schema: equipmentThresholdsInputSchema } },
      },
    },
    responses: {
      200: { description: 'Replaced.', headers: etagHeader, content },
      201: { description: 'Created.', headers: etagHeader, content },
      400: problem('Bad id, or thresholds out of order, out of range or a misplaced clear.'),
      404: problem('No such equipment.'),
      412: problem('If-Match is stale, or given while there are no overrides.'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'delete',
    path,
    operationId: 'deleteEquipmentThresholds',
    summary: "Remove threshold overrides (Admin): the type's rules apply again",
    request: { params: idParams, headers: ifMatchHeader },
    responses: {
      204: { description: 'Removed.' },
      400: problem('Bad id.'),
      404: problem('No such equipment, or no overrides.'),
      412: problem('If-Match is stale.'),
      ...authErrors,
    },
  });
}

/** /silences: notifications held for equipment, a type, a location or one alert. */
function registerSilences(registry: OpenAPIRegistry): void {
  const content = { 'application/json': { schema: silenceSchema } };
  const common = { tags: ['Alerts'], security: [{ bearer: [] }] };
  const writers =
    'Admins silence anything; technicians only equipment assigned to them (or alerts of it), ' +
    'never a whole type or location (403).';
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/silences',
    operationId: 'listSilences',
    summary: 'Silences, newest first',
    request: { query: silenceQuerySchema, headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: 'One page.',
        headers: listEtagHeader,
        content: { 'application/json': { schema: silencePageSchema } },
      },
      304: notModified(listEtagHeader),
      400: problem('Bad filter, limit or cursor.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'post',
    path: '/silences',
    operationId: 'createSilence',
    summary: 'Hold the notifications of equipment, a type, a location or one alert',
    description:
      'Alerts the pipeline raises or updates for windows ending within the silence are ' +
      'stored suppressed by it (nobody is notified) and name it; the pipeline applies a new ' +
      'silence within 60 seconds. Created with `alertId`, it holds that alert (marked ' +
      `suppressed at once) until the alert is resolved or \`endsAt\`. ${writers}`,
    request: {
      body: { required: true, content: { 'application/json': { schema: silenceInputSchema } } },
    },
    responses: {
      201: { description: 'Created.', headers: etagHeader, content },
      400: problem(
        'Not exactly one scope, no end, or an end not after the start or over a year after it.',
      ),
      404: problem('No such alert (or not one the caller may see).'),
      409: problem('The equipment, type or location names no equipment, or the alert is resolved.'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/silences/{id}',
    operationId: 'getSilence',
    summary: 'One silence, with who created, changed and ended it',
    request: { params: idParams, headers: ifNoneMatchHeader },
    responses: {
      200: { description: 'Found.', headers: etagHeader, content },
      304: notModified(etagHeader),
      400: problem('Bad id.'),
      404: problem('No such silence.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'patch',
    path: '/silences/{id}',
    operationId: 'updateSilence',
    summary: 'Change the end or reason of a silence that has not ended',
    description: writers,
    request: {
      params: idParams,
      headers: ifMatchHeader,
      body: { required: true, content: { 'application/json': { schema: silencePatchSchema } } },
    },
    responses: {
      200: { description: 'Changed.', headers: etagHeader, content },
      400: problem('Bad id, or an end not after the start or over a year after it.'),
      404: problem('No such silence.'),
      409: problem('The silence has ended.'),
      412: problem('If-Match is stale.'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'delete',
    path: '/silences/{id}',
    operationId: 'endSilence',
    summary: 'End a silence now',
    description:
      'The silence is kept, ended now (`endedBy`, `endedAt`, `endReason: expired`), and ' +
      `answered. Alerts it held are delivered from their next window. ${writers}`,
    request: { params: idParams, headers: ifMatchHeader },
    responses: {
      200: { description: 'Ended.', headers: etagHeader, content },
      400: problem('Bad id.'),
      404: problem('No such silence.'),
      409: problem('The silence has already ended.'),
      412: problem('If-Match is stale.'),
      ...authErrors,
    },
  });
}

/** /webhooks: where alert events are delivered, signed (Admin only). */
function registerWebhooks(registry: OpenAPIRegistry): void {
  const content = { 'application/json': { schema: webhookSchema } };
  const common = { tags: ['Webhooks'], security: [{ bearer: [] }] };
  const body = {
    required: true,
    content: { 'application/json': { schema: webhookInputSchema } },
  };
  const badBody =
    'Bad body; or a URL delivery would refuse (not https, credentials, or a host that is or ' +
    'resolves to a private, loopback, link-local or platform address), naming `#/url`.';
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/webhooks',
    operationId: 'listWebhooks',
    summary: 'Webhooks, oldest first',
    request: { query: webhookQuerySchema, headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: 'One page.',
        headers: listEtagHeader,
        content: { 'application/json': { schema: webhookPageSchema } },
      },
      304: notModified(listEtagHeader),
      400: problem('Bad filter, limit or cursor.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'post',
    path: '/webhooks',
    operationId: 'createWebhook',
    summary: 'Register an endpoint for alert events',
    description:
      'Each matching alert event is POSTed as JSON signed after the Standard Webhooks ' +
      'specification (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`). ' +
      'The answer carries the signing secret, once: no later answer shows it.',
    request: { body },
    responses: {
      201: {
        description: 'Created, with the secret.',
        headers: etagHeader,
        content: { 'application/json': { schema: webhookCreatedSchema } },
      },
      400: problem(badBody),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      503: problem('No key for webhook secrets is configured.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/webhooks/{id}',
    operationId: 'getWebhook',
    summary: 'One webhook (never its secret)',
    request: { params: idParams, headers: ifNoneMatchHeader },
    responses: {
      200: { description: 'Found.', headers: etagHeader, content },
      304: notModified(etagHeader),
      400: problem('Bad id.'),
      404: problem('No such webhook.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'put',
    path: '/webhooks/{id}',
    operationId: 'replaceWebhook',
    summary: 'Replace a webhook (its secret stays)',
    description:
      '`isActive: true` re-enables a webhook delivery disabled, clearing `disabledAt` and ' +
      '`disabledReason` and its run of failures.',
    request: { params: idParams, headers: ifMatchHeader, body },
    responses: {
      200: { description: 'Replaced.', headers: etagHeader, content },
      400: problem(badBody),
      404: problem('No such webhook.'),
      412: problem('If-Match is stale.'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'delete',
    path: '/webhooks/{id}',
    operationId: 'deleteWebhook',
    summary: 'Delete a webhook; deliveries still owed to it are dropped',
    request: { params: idParams, headers: ifMatchHeader },
    responses: {
      204: { description: 'Deleted.' },
      400: problem('Bad id.'),
      404: problem('No such webhook.'),
      412: problem('If-Match is stale.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/webhooks/{id}/history',
    operationId: 'listWebhookHistory',
    summary: 'Change history of a webhook, newest first (never its secret)',
    description:
      'Who created, changed, disabled (`system:webhook-delivery`) or deleted it, with the ' +
      'webhook before and after. A deleted webhook’s history stays readable.',
    request: { params: idParams, query: webhookHistoryQuerySchema },
    responses: {
      200: {
        description: 'One page.',
        content: { 'application/json': { schema: webhookHistoryPageSchema } },
      },
      400: problem('Bad id, limit or cursor.'),
      404: problem('No such webhook, ever.'),
      ...authErrors,
    },
  });
}

/** The telemetry reads: alerts, dead letters, equipment telemetry. */
function registerTelemetryReads(registry: OpenAPIRegistry): void {
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  const alertIdParams = z.object({ id: z.string().meta({ description: 'Alert id.' }) });
  registry.registerPath({
    method: 'get',
    path: '/alerts',
    operationId: 'listAlerts',
    tags: ['Alerts'],
    summary: 'Maintenance alerts, newest first',
    security: [{ bearer: [] }],
    request: { query: alertQuerySchema, headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: 'One page.',
        headers: listEtagHeader,
        content: json(pageSchema(alertSchema, 'AlertPage')),
      },
      304: notModified(listEtagHeader),
      400: problem('Bad filter or cursor.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/alerts/{id}',
    operationId: 'getAlert',
    tags: ['Alerts'],
    summary: 'One alert',
    security: [{ bearer: [] }],
    request: { params: alertIdParams, headers: ifNoneMatchHeader },
    responses: {
      200: { description: 'Found.', headers: etagHeader, content: json(alertDetailSchema) },
      304: notModified(etagHeader),
      404: problem('No such alert.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'patch',
    path: '/alerts/{id}',
    operationId: 'updateAlert',
    tags: ['Alerts'],
    summary: 'Acknowledge, resolve (Admin, Technician) or assign (Admin)',
    description:
      'Status moves open → acknowledged → resolved, or open → resolved. The pipeline sets ' +
      '`cleared` when the metric is back inside its clear threshold, and reopens a cleared ' +
      'alert (back to `open`, `flapCount` + 1) on a breach within the flap window. A cleared ' +
      'alert may be acknowledged (it stays `cleared`, recording `acknowledgedBy` and ' +
      '`acknowledgedAt`) or resolved; nobody sets `cleared` or `open`.',
    security: [{ bearer: [] }],
    request: {
      params: alertIdParams,
      headers: ifMatchHeader,
      body: { content: json(alertPatchSchema), required: true },
    },
    responses: {
      200: { description: 'Updated.', headers: etagHeader, content: json(alertDetailSchema) },
      400: problem('Invalid body.'),
      404: problem('No such alert.'),
      409: problem('That status change is not allowed, or `assignee` is not an active technician.'),
      412: problem('If-Match is stale.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
      403: problem('The caller’s role does not allow this (only admins set `assignee`).'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/alerts/{id}/comments',
    operationId: 'listAlertComments',
    tags: ['Alerts'],
    summary: 'Comments on an alert, oldest first',
    security: [{ bearer: [] }],
    request: { params: alertIdParams },
    responses: {
      200: {
        description: 'The comments.',
        headers: etagHeader,
        content: json(alertCommentListSchema),
      },
      404: problem('No such alert.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/alerts/{id}/deliveries',
    operationId: 'listAlertDeliveries',
    tags: ['Alerts'],
    summary: 'Every delivery of an alert, newest first (technicians: their own, masked)',
    description:
      'One entry per alert version and target (Web PubSub group or user, push platform, email, SMS, webhook), updated on every attempt. Admins see every entry; technicians see the entries that reached them (their user id, their email and SMS, pushes to their devices) with email addresses and phone numbers masked, on alerts they may see. Entries expire 90 days after their last attempt.',
    security: [{ bearer: [] }],
    request: { params: alertIdParams, query: deliveryQuerySchema },
    responses: {
      200: {
        description: 'One page.',
        content: json(pageSchema(deliverySchema, 'DeliveryPage')),
      },
      400: problem('Bad limit or cursor.'),
      404: problem('No such alert, or not one the caller may see.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/alerts/{id}/comments',
    operationId: 'addAlertComment',
    tags: ['Alerts'],
    summary: 'Comment on an alert (notifies nobody)',
    security: [{ bearer: [] }],
    request: {
      params: alertIdParams,
      headers: ifMatchHeader,
      body: { content: json(alertCommentInputSchema), required: true },
    },
    responses: {
      201: {
        description: 'Added; the ETag is the alert’s after the change.',
        headers: etagHeader,
        content: json(alertCommentSchema),
      },
      400: problem('Invalid body (text empty or over 2,000 characters).'),
      404: problem('No such alert.'),
      409: problem('The alert already has 200 comments, the most it keeps.'),
      412: problem('If-Match is stale.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/dead-letters',
    operationId: 'listDeadLetters',
    tags: ['Alerts'],
    summary: 'Rejected readings, one entry per event, and parked batches (Admin)',
    security: [{ bearer: [] }],
    request: { query: deadLetterQuerySchema },
    responses: {
      200: {
        description: 'One page.',
        content: json(pageSchema(deadLetterSchema, 'DeadLetterPage')),
      },
      400: problem('Bad filter or cursor.'),
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/operations',
    operationId: 'getOperations',
    tags: ['Operations'],
    summary:
      'Pipeline lag per partition, dead letters of the last hour by reason, delivery backlog (Admin)',
    description:
      'Each part is read on its own: one that cannot be read (Event Hubs unreachable, Cosmos DB down) is null and named in `unavailable`, and the others are still answered.',
    security: [{ bearer: [] }],
    responses: {
      200: { description: 'The figures.', content: json(operationsSchema) },
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/equipment/{id}/telemetry',
    operationId: 'getEquipmentTelemetry',
    tags: ['Equipment'],
    summary: 'Latest reading, current window and window history',
    security: [{ bearer: [] }],
    request: { params: idParams, query: telemetryQuerySchema },
    responses: {
      200: { description: 'Telemetry.', content: json(telemetrySchema) },
      400: problem('Bad id or range (at most 7 days).'),
      404: problem('No such equipment.'),
      ...authErrors,
    },
  });
}

/** Negotiation for the live channel, and who the caller is. */
function registerRealtime(registry: OpenAPIRegistry): void {
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  registry.registerPath({
    method: 'post',
    path: '/negotiate',
    operationId: 'negotiateLiveConnection',
    tags: ['Live'],
    summary: 'A Web PubSub client URL for the groups the caller may watch',
    description:
      'Admins join `alerts` (and may join any `equipment.{id}`); technicians join the ' +
      '`equipment.{id}` groups of their assigned equipment. The token carries the caller as ' +
      'user id, grants no send role and expires after WEBPUBSUB_TOKEN_MINUTES.',
    security: [{ bearer: [] }],
    responses: {
      200: { description: 'Client access.', content: json(negotiateSchema) },
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/me',
    operationId: 'getMe',
    tags: ['Live'],
    summary: 'The caller: subject, roles and the equipment they may see',
    security: [{ bearer: [] }],
    responses: {
      200: { description: 'The caller.', content: json(meSchema) },
      ...authErrors,
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/me/location',
    operationId: 'reportMyLocation',
    tags: ['Live'],
    summary: "The caller's live position (technicians), kept 300 s",
    security: [{ bearer: [] }],
    request: { body: { content: json(positionInputSchema), required: true } },
    responses: {
      204: { description: 'Stored until it is 300 s old.' },
      400: problem('Invalid body, a time in the future or over 300 s ago.'),
      415: problem('Not JSON.'),
      503: problem('The position store is unavailable; nothing was stored.'),
      ...authErrors,
      429: problem('A position less than 5 s after the last, or over the rate limit.'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/equipment/{id}/nearest-technicians',
    operationId: 'getNearestTechnicians',
    tags: ['Live'],
    summary:
      'Active technicians with a live position, nearest first (admins, assigned technicians)',
    security: [{ bearer: [] }],
    request: { params: idParams },
    responses: {
      200: { description: 'Nearest first.', content: json(nearestTechniciansSchema) },
      400: problem('Bad id.'),
      404: problem('No such equipment.'),
      409: problem('The equipment has no coordinates.'),
      503: problem('The position store is unavailable.'),
      ...authErrors,
    },
  });
}

/** /equipment/{id}/offline-timeout: one machine's own offline timeout. */
function registerOfflineTimeout(registry: OpenAPIRegistry): void {
  const path = '/equipment/{id}/offline-timeout';
  const content = { 'application/json': { schema: offlineTimeoutSchema } };
  const common = { tags: ['Equipment'], security: [{ bearer: [] }] };
  const description =
    'Equipment that has sent readings and then sends none for this many minutes raises one ' +
    '`offline` alert and gets status `Offline` (not when Retired; in Maintenance the alert ' +
    'is muted and the status left alone); readings returning resolve it and restore the ' +
    'status. Null: the equipment type’s timeout (setting OFFLINE_TIMEOUT_MINUTES) or 15.';
  registry.registerPath({
    ...common,
    method: 'get',
    path,
    operationId: 'getEquipmentOfflineTimeout',
    summary: 'Offline timeout of one equipment',
    description: `${description} Technicians read those of their assigned equipment only.`,
    request: { params: idParams },
    responses: {
      200: { description: 'Found.', content },
      400: problem('Bad id.'),
      404: problem('No such equipment (or not assigned to the technician).'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'put',
    path,
    operationId: 'putEquipmentOfflineTimeout',
    summary: 'Set or clear the offline timeout of one equipment (Admin)',
    description,
    request: {
      params: idParams,
      body: {
        required: true,
        content: { 'application/json': { schema: offlineTimeoutInputSchema } },
      },
    },
    responses: {
      200: { description: 'Set.', content },
      400: problem('Bad id, or a timeout that is not a whole number of minutes from 1 to 10080.'),
      404: problem('No such equipment.'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
}

/** /technicians/{id}/notification-preferences: what one technician receives, per channel. */
function registerNotificationPreferences(registry: OpenAPIRegistry): void {
  const path = '/technicians/{id}/notification-preferences';
  const content = { 'application/json': { schema: notificationPreferencesSchema } };
  const common = { tags: ['Technicians'], security: [{ bearer: [] }] };
  const description =
    'Per channel (push, email, SMS) the severities that reach the technician, and quiet ' +
    'hours in their time zone during which only critical alerts do. Defaults: push and ' +
    'email for every severity, SMS for the severities of the setting SMS_SEVERITIES ' +
    '(critical). A technician reads and replaces their own; admins anyone’s.';
  registry.registerPath({
    ...common,
    method: 'get',
    path,
    operationId: 'getNotificationPreferences',
    summary: 'Notification preferences of one technician',
    description,
    request: { params: idParams },
    responses: {
      200: { description: 'Found (the defaults when never set).', content },
      400: problem('Bad id.'),
      404: problem('No such technician (or not the caller, for a technician).'),
      ...authErrors,
    },
  });
  registry.registerPath({
    ...common,
    method: 'put',
    path,
    operationId: 'putNotificationPreferences',
    summary: 'Replace the notification preferences of one technician',
    description,
    request: {
      params: idParams,
      body: {
        required: true,
        content: { 'application/json': { schema: notificationPreferencesInputSchema } },
      },
    },
    responses: {
      200: { description: 'Replaced.', content },
      400: problem('Bad id, unknown severity or key, bad time of day or unknown time zone.'),
      404: problem('No such technician (or not the caller, for a technician).'),
      413: problem('Body over 1 MiB.'),
      415: problem('Body is not JSON.'),
      ...authErrors,
    },
  });
}
