/**
 * The change log: every write to equipment, technicians, assignments and service records
 * appends events to `change_events` on the write's own connection, inside its transaction,
 * so a change and its history commit or roll back together. An equipment's history is its
 * `equipment` events plus the assignments and service records made on it; replaying it from
 * `EquipmentCreated` gives the row (`replayEquipment`).
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Principal } from '../auth.js';
import { afterClause, decodeCursor, encodeCursor, type KeysetOrder } from '../mysql/keyset.js';
import type { Queryable, WriteRecorder } from '../mysql/table.js';
import { isoString } from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import type {
  EquipmentEvent,
  EquipmentEventType,
  EquipmentHistoryQuery,
} from './historySchemas.js';
import type { Equipment, ServiceRecord, Technician } from './schemas.js';

type Aggregate = 'equipment' | 'technician' | 'service_record' | 'silence' | 'webhook';
type Fields = Readonly<Record<string, unknown>>;

export interface NewChangeEvent {
  aggregate: Aggregate;
  aggregateId: number;
  type: string;
  actor: string;
  /** ISO time; the database's clock when absent. */
  occurredAt?: string | undefined;
  /** The row's version after the change, when the event changed the row. */
  version?: number | null;
  before?: Fields | null;
  after?: Fields | null;
}

/** Who the log names for a change made through the API. */
export function actorOf(principal: Principal): string {
  return principal.subject;
}

/** Appends `events` in order, on the connection (and so in the transaction) of the change. */
export async function appendEvents(
  connection: PoolConnection,
  events: readonly NewChangeEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await connection.query(
    `INSERT INTO change_events
       (aggregate, aggregate_id, event_type, actor, occurred_at, aggregate_version, before_state, after_state)
     VALUES ${events.map(() => '(?, ?, ?, ?, COALESCE(?, CURRENT_TIMESTAMP(3)), ?, ?, ?)').join(', ')}`,
    events.flatMap((event) => [
      event.aggregate,
      event.aggregateId,
      event.type,
      event.actor,
      event.occurredAt === undefined ? null : new Date(event.occurredAt),
      event.version ?? null,
      event.before ? JSON.stringify(event.before) : null,
      event.after ? JSON.stringify(event.after) : null,
    ]),
  );
}

// ---------- equipment ----------

/** The equipment fields a change can touch (not id, version or timestamps). */
const equipmentFields = [
  'serialNumber',
  'name',
  'type',
  'manufacturer',
  'model',
  'location',
  'latitude',
  'longitude',
  'status',
  'commissionedOn',
] as const satisfies readonly (keyof Equipment)[];
type EquipmentField = (typeof equipmentFields)[number];

function pick<T extends object>(value: T, keys: readonly (keyof T)[]): Fields {
  return Object.fromEntries(keys.map((key) => [key, value[key]]));
}

/**
 * Events for one write to equipment: status and location changes get events of their own
 * (the ones people look for), every other changed field goes into one `EquipmentUpdated`.
 * A replace that changes nothing still bumps the version, so it is still an event.
 */
export function equipmentEvents(
  actor: string,
  change: { before?: Equipment; after?: Equipment },
): NewChangeEvent[] {
  const { before, after } = change;
  if (!before && after) {
    return [
      {
        aggregate: 'equipment',
        aggregateId: after.id,
        type: 'EquipmentCreated',
        actor,
        occurredAt: after.createdAt,
        version: after.version,
        after: pick(after, equipmentFields),
      },
    ];
  }
  if (before && !after) {
    return [
      {
        aggregate: 'equipment',
        aggregateId: before.id,
        type: 'EquipmentDeleted',
        actor,
        before: pick(before, equipmentFields),
      },
    ];
  }
  if (!before || !after) return [];
  const changed = equipmentFields.filter((field) => before[field] !== after[field]);
  const event = (type: EquipmentEventType, fields: readonly EquipmentField[]): NewChangeEvent => ({
    aggregate: 'equipment',
    aggregateId: after.id,
    type,
    actor,
    occurredAt: after.updatedAt,
    version: after.version,
    before: pick(before, fields),
    after: pick(after, fields),
  });
  const events: NewChangeEvent[] = [];
  if (changed.includes('status')) events.push(event('StatusChanged', ['status']));
  if (changed.includes('location')) events.push(event('LocationUpdated', ['location']));
  const others = changed.filter((field) => field !== 'status' && field !== 'location');
  if (others.length > 0 || events.length === 0) events.push(event('EquipmentUpdated', others));
  return events;
}

/** Records equipment writes made by `principal`. */
export function recordEquipment(principal: Principal): WriteRecorder<Equipment> {
  return (connection, change) =>
    appendEvents(connection, equipmentEvents(actorOf(principal), change));
}

/**
 * The equipment row an equipment's history (oldest first) leaves behind: null before
 * `EquipmentCreated` and after `EquipmentDeleted`. Pure: the same events give the same row.
 * Assignments and service records are in the history but do not change the row.
 */
export function replayEquipment(events: readonly EquipmentEvent[]): Equipment | null {
  let row: Equipment | null = null;
  const apply = (current: Equipment, fields: Fields | null): Equipment => {
    const next: Record<string, unknown> = { ...current };
    for (const field of equipmentFields) if (fields && field in fields) next[field] = fields[field];
    return next as unknown as Equipment;
  };
  for (const event of events) {
    switch (event.type) {
      case 'EquipmentCreated': {
        const base: Equipment = {
          id: event.equipmentId,
          serialNumber: '',
          name: '',
          type: '',
          manufacturer: null,
          model: null,
          location: null,
          latitude: null,
          longitude: null,
          status: '' as Equipment['status'],
          commissionedOn: null,
          version: event.version ?? 1,
          createdAt: event.occurredAt,
          updatedAt: event.occurredAt,
        };
        row = apply(base, event.after);
        break;
      }
      case 'StatusChanged':
      case 'LocationUpdated':
      case 'EquipmentUpdated':
        if (!row)
          throw new Error(`Event ${event.id} (${event.type}) comes before EquipmentCreated`);
        row = {
          ...apply(row, event.after),
          version: event.version ?? row.version,
          updatedAt: event.occurredAt,
        };
        break;
      case 'EquipmentDeleted':
        row = null;
        break;
      default:
        break;
    }
  }
  return row;
}

const historyOrder: KeysetOrder = [{ column: 'id', direction: 'DESC', kind: 'id' }];

/**
 * One page of an aggregate's change log, newest first (keyset on the event id), narrowed by
 * `filter`'s extra conditions: the rows as stored and the cursor of the next page.
 */
export async function changeEventPage(
  db: Queryable,
  aggregate: string,
  aggregateId: number,
  page: PageRequest,
  filter: { where: string[]; params: unknown[] } = { where: [], params: [] },
): Promise<{ rows: RowDataPacket[]; nextCursor: string | null }> {
  const where = ['aggregate = ?', 'aggregate_id = ?', ...filter.where];
  const params: unknown[] = [aggregate, aggregateId, ...filter.params];
  if (page.cursor !== undefined) {
    const after = afterClause(historyOrder, decodeCursor(historyOrder, page.cursor));
    where.push(after.sql);
    params.push(...after.params);
  }
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT id, aggregate_id, event_type, actor, occurred_at, aggregate_version, before_state, after_state
       FROM change_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
    [...params, page.limit + 1],
  );
  const hasMore = rows.length > page.limit;
  const pageRows = hasMore ? rows.slice(0, page.limit) : rows;
  const last = pageRows.at(-1);
  return { rows: pageRows, nextCursor: hasMore && last ? encodeCursor(historyOrder, last) : null };
}

/** A JSON column's object (before/after states); null when absent or not an object. */
export function parseState(value: unknown): Fields | null {
  if (value === null || value === undefined) return null;
  // The driver parses JSON columns it recognises; MariaDB's JSON is LONGTEXT, which may come as text.
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return parsed && typeof parsed === 'object' ? (parsed as Fields) : null;
}

function eventFromRow(row: RowDataPacket): EquipmentEvent {
  return {
    id: Number(row['id']),
    equipmentId: Number(row['aggregate_id']),
    type: row['event_type'] as EquipmentEventType,
    actor: String(row['actor']),
    occurredAt: isoString(row['occurred_at']),
    version: row['aggregate_version'] === null ? null : Number(row['aggregate_version']),
    before: parseState(row['before_state']),
    after: parseState(row['after_state']),
  };
}

/**
 * One page of an equipment's history, newest first. Undefined when the equipment neither
 * exists nor has a history (it never existed); a deleted machine's history stays readable.
 */
export async function listEquipmentHistory(
  db: Queryable,
  equipmentId: number,
  filter: Omit<EquipmentHistoryQuery, 'limit' | 'cursor'>,
  page: PageRequest,
): Promise<Page<EquipmentEvent> | undefined> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.type && filter.type.length > 0) {
    where.push(`event_type IN (${filter.type.map(() => '?').join(', ')})`);
    params.push(...filter.type);
  }
  if (filter.from !== undefined) {
    where.push('occurred_at >= ?');
    params.push(new Date(filter.from));
  }
  if (filter.to !== undefined) {
    where.push('occurred_at < ?');
    params.push(new Date(filter.to));
  }
  const { rows, nextCursor } = await changeEventPage(db, 'equipment', equipmentId, page, {
    where,
    params,
  });
  if (rows.length === 0 && page.cursor === undefined) {
    // Rows written before the log existed have no events but do exist.
    const [known] = await db.query<RowDataPacket[]>(
      `SELECT EXISTS (SELECT 1 FROM change_events WHERE aggregate = 'equipment' AND aggregate_id = ?)
           OR EXISTS (SELECT 1 FROM equipment WHERE id = ?) AS known`,
      [equipmentId, equipmentId],
    );
    if (Number(known[0]?.['known']) !== 1) return undefined;
  }
  return { items: rows.map(eventFromRow), nextCursor };
}

// ---------- technicians and service records ----------

type Snapshot = Technician | ServiceRecord;

function snapshot(value: Snapshot | undefined): Fields | null {
  return value ? { ...value } : null;
}

/** Records technician writes: created, updated and deleted, with the whole row before and after. */
export function recordTechnician(principal: Principal): WriteRecorder<Technician> {
  return (connection, { before, after }) => {
    const row = after ?? before;
    if (!row) return Promise.resolve();
    const type = !before ? 'TechnicianCreated' : !after ? 'TechnicianDeleted' : 'TechnicianUpdated';
    return appendEvents(connection, [
      {
        aggregate: 'technician',
        aggregateId: row.id,
        type,
        actor: actorOf(principal),
        version: after?.version ?? null,
        before: snapshot(before),
        after: snapshot(after),
      },
    ]);
  };
}

/**
 * Records service-record writes: a new record is `ServiceRecorded` in its equipment's history;
 * later changes and deletion are logged against the record itself.
 */
export function recordServiceRecord(principal: Principal): WriteRecorder<ServiceRecord> {
  return (connection, { before, after }) => {
    const actor = actorOf(principal);
    if (!before && after) return appendEvents(connection, [serviceRecorded(actor, after)]);
    const row = after ?? before;
    if (!row) return Promise.resolve();
    return appendEvents(connection, [
      {
        aggregate: 'service_record',
        aggregateId: row.id,
        type: after ? 'ServiceRecordUpdated' : 'ServiceRecordDeleted',
        actor,
        version: after?.version ?? null,
        before: snapshot(before),
        after: snapshot(after),
      },
    ]);
  };
}

/** The `ServiceRecorded` event of a new service record, in its equipment's history. */
export function serviceRecorded(actor: string, record: ServiceRecord): NewChangeEvent {
  return {
    aggregate: 'equipment',
    aggregateId: record.equipmentId,
    type: 'ServiceRecorded',
    actor,
    after: { ...record },
  };
}
