/**
 * Webhooks over HTTP (`/api/webhooks`, Admin only): the endpoints of customers' systems that
 * receive alert events (lib/fanout/webhooks.ts delivers them). Rows live in the MySQL table
 * `webhooks` (migration 10); every change is a `change_events` entry (aggregate `webhook`)
 * in the same transaction. Each webhook's signing secret is made here, shown once in the
 * creation answer, and stored only sealed (lib/fanout/webhookSecrets.ts): no later answer,
 * event or log line carries it, because nothing but delivery ever reads its columns.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { requireRole, type Principal } from '../auth.js';
import { HttpError } from '../errors.js';
import {
  checkTarget,
  WebhookAddressError,
  type WebhookAddressPolicy,
} from '../fanout/webhookAddress.js';
import type { WebhookRegistry, WebhookSubscription } from '../fanout/webhooks.js';
import type { SealedSecret, WebhookSecretStore } from '../fanout/webhookSecrets.js';
import { newWebhookSecret } from '../fanout/webhookSignature.js';
import {
  filterConditions,
  inTransaction,
  isoString,
  VersionedTable,
  type Queryable,
  type WriteRecorder,
} from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import type { VersionCondition } from '../preconditions.js';
import { alertEventTypes } from '../telemetry/alerts.js';
import { severities } from '../telemetry/severity.js';
import { actorOf, appendEvents, changeEventPage, parseState } from './history.js';
import { pageQuerySchema, pageSchema, text } from './schemas.js';

// ---------- shapes ----------

/** The longest URL, in characters (the column's size). */
export const webhookUrlMaxLength = 2000;

const urlSchema = z
  .string()
  .max(webhookUrlMaxLength)
  .refine((value) => URL.canParse(value), { error: 'Expected an absolute URL' })
  .meta({
    example: 'https://workorders.example.com/hooks/sis',
    description:
      'Where deliveries are POSTed: `https` to a public address (checked again, resolved, at ' +
      'every delivery); no credentials or fragment.',
  });

/** A list filter: absent or null means any; otherwise one to 50 distinct values. */
const filterList = <T extends z.ZodType<string>>(item: T) =>
  z
    .array(item)
    .min(1)
    .max(50)
    .refine((values) => new Set(values).size === values.length, { error: 'Repeated value' })
    .nullable()
    .optional();

/** The body of `POST /api/webhooks` and `PUT /api/webhooks/{id}`. */
export const webhookInputSchema = z
  .strictObject({
    url: urlSchema,
    eventTypes: z
      .array(z.enum(alertEventTypes))
      .min(1)
      .max(alertEventTypes.length)
      .refine((values) => new Set(values).size === values.length, { error: 'Repeated value' })
      .meta({ description: 'The alert events delivered (`alert.updated` includes resolution).' }),
    severities: filterList(z.enum(severities)).meta({
      description: 'Only alerts of these severities (default: any).',
    }),
    equipmentTypes: filterList(text(50)).meta({
      description: 'Only alerts of equipment of these types (default: any).',
    }),
    locations: filterList(text(200)).meta({
      description: 'Only alerts of equipment at these locations (default: any).',
    }),
    description: text(200).nullable().optional(),
    isActive: z.boolean().default(true).meta({
      description: 'Setting it true again re-enables a webhook that delivery disabled.',
    }),
  })
  .meta({ id: 'WebhookInput' });
export type WebhookInput = z.output<typeof webhookInputSchema>;

export const webhookQuerySchema = pageQuerySchema
  .extend({
    active: z
      .enum(['true', 'false'], { error: 'Expected true or false' })
      .transform((v) => v === 'true')
      .optional(),
  })
  .strict();
export type WebhookQuery = z.output<typeof webhookQuerySchema>;

export const webhookSchema = z
  .object({
    id: z.number().int(),
    url: z.string(),
    eventTypes: z.array(z.enum(alertEventTypes)),
    severities: z.array(z.enum(severities)).nullable(),
    equipmentTypes: z.array(z.string()).nullable(),
    locations: z.array(z.string()).nullable(),
    description: z.string().nullable(),
    isActive: z.boolean(),
    disabledAt: z.iso.datetime().nullable().meta({
      description: 'When delivery disabled it (a long run of failures, or 410 Gone).',
    }),
    disabledReason: z.string().nullable().meta({ description: 'Why delivery disabled it.' }),
    version: z.number().int().meta({ description: 'Row version; the ETag of the resource.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Webhook' });
export type Webhook = z.output<typeof webhookSchema>;

export const webhookCreatedSchema = webhookSchema
  .extend({
    secret: z.string().meta({
      description:
        'The signing secret (`whsec_` and base64, Standard Webhooks). Shown in this answer only: ' +
        'store it now; no later answer shows it.',
    }),
  })
  .meta({ id: 'WebhookCreated' });
export type WebhookCreated = z.output<typeof webhookCreatedSchema>;

export const webhookPageSchema = pageSchema(webhookSchema, 'WebhookPage');

export const webhookEventTypes = ['WebhookCreated', 'WebhookUpdated', 'WebhookDeleted'] as const;

export const webhookEventSchema = z
  .object({
    id: z
      .number()
      .int()
      .meta({ description: 'Position in the log; later events have larger ids.' }),
    webhookId: z.number().int(),
    type: z.enum(webhookEventTypes),
    actor: z.string().meta({
      description:
        "Who made the change: the token's subject, or `system:webhook-delivery` when delivery disabled it.",
    }),
    occurredAt: z.iso.datetime(),
    version: z.number().int().nullable().meta({
      description: "The webhook's version after the change; null when it was deleted.",
    }),
    before: z.record(z.string(), z.unknown()).nullable(),
    after: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'WebhookEvent' });
export type WebhookEvent = z.output<typeof webhookEventSchema>;

export const webhookHistoryQuerySchema = pageQuerySchema.strict();
export const webhookHistoryPageSchema = pageSchema(webhookEventSchema, 'WebhookEventPage');

// ---------- storage ----------

/** The columns answers are made of: never the secret's. */
const webhookColumns = [
  'id',
  'url',
  'event_types',
  'severities',
  'equipment_types',
  'locations',
  'description',
  'is_active',
  'disabled_at',
  'disabled_reason',
  'version',
  'created_at',
  'updated_at',
] as const;

function jsonList(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  // MariaDB's JSON is LONGTEXT, which the driver may hand over as text.
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(String) : null;
}

function webhookFromRow(row: RowDataPacket): Webhook {
  return {
    id: Number(row['id']),
    url: String(row['url']),
    eventTypes: (jsonList(row['event_types']) ?? []) as Webhook['eventTypes'],
    severities: jsonList(row['severities']) as Webhook['severities'],
    equipmentTypes: jsonList(row['equipment_types']),
    locations: jsonList(row['locations']),
    description: (row['description'] as string | null) ?? null,
    isActive: Boolean(row['is_active']),
    disabledAt: row['disabled_at'] === null ? null : isoString(row['disabled_at']),
    disabledReason: (row['disabled_reason'] as string | null) ?? null,
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  };
}

export const webhookTable = new VersionedTable<Webhook>({
  table: 'webhooks',
  label: 'Webhook',
  columns: webhookColumns,
  fromRow: webhookFromRow,
  order: [{ column: 'id', direction: 'ASC', kind: 'id' }],
  conflicts: {},
});

/** Who the change log names for what delivery itself changes (disabling a webhook). */
export const webhookDeliveryActor = 'system:webhook-delivery';

function recordWebhook(actor: string): WriteRecorder<Webhook> {
  return (connection, { before, after }) => {
    const row = after ?? before;
    if (!row) return Promise.resolve();
    const type = !before ? 'WebhookCreated' : !after ? 'WebhookDeleted' : 'WebhookUpdated';
    return appendEvents(connection, [
      {
        aggregate: 'webhook',
        aggregateId: row.id,
        type,
        actor,
        version: after?.version ?? null,
        before: before ? { ...before } : null,
        after: after ? { ...after } : null,
      },
    ]);
  };
}

function filterColumns(input: WebhookInput): Record<string, unknown> {
  const list = (values: readonly string[] | null | undefined) =>
    values ? JSON.stringify(values) : null;
  return {
    url: input.url,
    event_types: JSON.stringify(input.eventTypes),
    severities: list(input.severities),
    equipment_types: list(input.equipmentTypes),
    locations: list(input.locations),
    description: input.description ?? null,
    is_active: input.isActive,
  };
}

/** What the webhook API needs beyond MySQL: the address rules and the secret store. */
export interface WebhookApiContext {
  policy: WebhookAddressPolicy;
  /** Undefined when no key is configured (WEBHOOK_SECRET_KEY_ID / _FILE): no webhook can be made. */
  secrets: WebhookSecretStore | undefined;
}

/** Refuses a URL delivery would refuse, as a 400 naming the field. */
async function requireDeliverableUrl(url: string, policy: WebhookAddressPolicy): Promise<void> {
  try {
    await checkTarget(new URL(url), policy);
  } catch (error) {
    if (!(error instanceof WebhookAddressError)) throw error;
    throw new HttpError('validation', 'The request body has a problem.', {
      errors: [{ pointer: '#/url', detail: error.message }],
    });
  }
}

export function listWebhooks(
  db: Queryable,
  query: WebhookQuery,
  page: PageRequest,
): Promise<Page<Webhook>> {
  return webhookTable.list(db, filterConditions([['is_active', '=', query.active]]), page);
}

export function getWebhook(db: Queryable, id: number): Promise<Webhook> {
  return webhookTable.get(db, id);
}

export async function createWebhook(
  pool: Pool,
  context: WebhookApiContext,
  principal: Principal,
  input: WebhookInput,
): Promise<WebhookCreated> {
  requireRole(principal, 'Admin');
  await requireDeliverableUrl(input.url, context.policy);
  if (!context.secrets) {
    throw new HttpError(
      'service-unavailable',
      'Webhooks are not configured here: set WEBHOOK_SECRET_KEY_ID (Key Vault) or WEBHOOK_SECRET_KEY_FILE.',
    );
  }
  const secret = newWebhookSecret();
  const sealed = await context.secrets.seal(secret);
  const created = await webhookTable.insert(
    pool,
    {
      ...filterColumns(input),
      secret_ciphertext: sealed.ciphertext,
      secret_wrapped_key: sealed.wrappedKey,
      secret_key_id: sealed.keyId,
    },
    recordWebhook(actorOf(principal)),
  );
  return { ...created, secret };
}

export async function replaceWebhook(
  pool: Pool,
  context: WebhookApiContext,
  principal: Principal,
  id: number,
  input: WebhookInput,
  ifMatch: VersionCondition,
): Promise<Webhook> {
  requireRole(principal, 'Admin');
  await requireDeliverableUrl(input.url, context.policy);
  // Active again (or still): a disabled webhook starts over, its run of failures
  // forgotten; made inactive by a person, the record of why delivery disabled it stays.
  const values = input.isActive
    ? { ...filterColumns(input), disabled_at: null, disabled_reason: null }
    : filterColumns(input);
  const record = recordWebhook(actorOf(principal));
  return webhookTable.replace(pool, id, values, ifMatch, undefined, async (connection, change) => {
    if (change.after?.isActive)
      await connection.query('DELETE FROM webhook_failures WHERE webhook_id = ?', [id]);
    await record(connection, change);
  });
}

export function deleteWebhook(
  pool: Pool,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
): Promise<void> {
  requireRole(principal, 'Admin');
  return webhookTable.remove(pool, id, ifMatch, recordWebhook(actorOf(principal)));
}

/**
 * One page of a webhook's change log, newest first: who created, changed, disabled or
 * deleted it, with the whole webhook before and after (never its secret: the log records
 * the answers' shape). Undefined when the webhook never existed; a deleted one's stays.
 */
export async function listWebhookHistory(
  db: Queryable,
  webhookId: number,
  page: PageRequest,
): Promise<Page<WebhookEvent> | undefined> {
  const { rows, nextCursor } = await changeEventPage(db, 'webhook', webhookId, page);
  if (rows.length === 0 && page.cursor === undefined) return undefined;
  return {
    items: rows.map((row) => ({
      id: Number(row['id']),
      webhookId: Number(row['aggregate_id']),
      type: row['event_type'] as WebhookEvent['type'],
      actor: String(row['actor']),
      occurredAt: isoString(row['occurred_at']),
      version: row['aggregate_version'] === null ? null : Number(row['aggregate_version']),
      before: parseState(row['before_state']),
      after: parseState(row['after_state']),
    })),
    nextCursor,
  };
}

// ---------- what delivery reads and records ----------

function subscriptionFromRow(row: RowDataPacket): WebhookSubscription {
  const webhook = webhookFromRow(row);
  return {
    id: webhook.id,
    url: webhook.url,
    eventTypes: webhook.eventTypes,
    severities: webhook.severities,
    equipmentTypes: webhook.equipmentTypes,
    locations: webhook.locations,
  };
}

/** Delivery's access to the `webhooks` table (lib/fanout/webhooks.ts `WebhookRegistry`). */
export function mysqlWebhookRegistry(pool: () => Pool): WebhookRegistry {
  return {
    async active() {
      const [rows] = await pool().query<RowDataPacket[]>(
        `SELECT ${webhookColumns.join(', ')} FROM webhooks WHERE is_active = TRUE ORDER BY id`,
      );
      return rows.map(subscriptionFromRow);
    },
    async forDelivery(id) {
      const [rows] = await pool().query<RowDataPacket[]>(
        `SELECT ${webhookColumns.join(', ')}, secret_ciphertext, secret_wrapped_key, secret_key_id
           FROM webhooks WHERE id = ? AND is_active = TRUE`,
        [id],
      );
      const row = rows[0];
      if (!row) return undefined;
      const secret: SealedSecret = {
        ciphertext: row['secret_ciphertext'] as Buffer,
        wrappedKey: row['secret_wrapped_key'] as Buffer,
        keyId: String(row['secret_key_id']),
      };
      return { ...subscriptionFromRow(row), secret };
    },
    async equipment(equipmentId) {
      if (!/^[1-9][0-9]{0,15}$/.test(equipmentId)) return undefined;
      const [rows] = await pool().query<RowDataPacket[]>(
        'SELECT type, location FROM equipment WHERE id = ?',
        [Number(equipmentId)],
      );
      const row = rows[0];
      return row
        ? { type: String(row['type']), location: (row['location'] as string | null) ?? null }
        : undefined;
    },
    async succeeded(id) {
      await pool().query('DELETE FROM webhook_failures WHERE webhook_id = ?', [id]);
    },
    failed(id, reason, disableAfter, disableNow) {
      return inTransaction(pool(), async (connection) => {
        const before = await webhookTable.find(connection, id, true);
        if (!before?.isActive) return false;
        const error = reason.slice(0, 500);
        await connection.query(
          `INSERT INTO webhook_failures (webhook_id, consecutive_failures, last_failure_at, last_error)
             VALUES (?, 1, CURRENT_TIMESTAMP(3), ?)
           ON DUPLICATE KEY UPDATE consecutive_failures = consecutive_failures + 1,
             last_failure_at = VALUES(last_failure_at), last_error = VALUES(last_error)`,
          [id, error],
        );
        const [rows] = await connection.query<RowDataPacket[]>(
          'SELECT consecutive_failures FROM webhook_failures WHERE webhook_id = ?',
          [id],
        );
        const failures = Number(rows[0]?.['consecutive_failures'] ?? 0);
        if (!disableNow && failures < disableAfter) return false;
        const why = disableNow
          ? reason
          : `${failures} deliveries in a row failed; the last: ${reason}`;
        await connection.query(
          `UPDATE webhooks SET is_active = FALSE, disabled_at = CURRENT_TIMESTAMP(3),
             disabled_reason = ?, version = version + 1 WHERE id = ?`,
          [why.slice(0, 500), id],
        );
        const after = await webhookTable.get(connection, id);
        await recordWebhook(webhookDeliveryActor)(connection, { before, after });
        return true;
      });
    },
  };
}
