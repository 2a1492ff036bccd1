/**
 * What the pipeline asks MySQL about equipment, cached: the severity rules of each equipment
 * (per-type overrides need its type, read only when overrides exist; per-equipment overrides
 * are read for the equipment whose windows close), which of those are in `Maintenance`, and
 * which equipment ids are registered.
 * lib/services.ts wires them to the app's pool.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { applyEquipmentThresholds, type EquipmentThresholdMap } from './equipmentThresholds.js';
import type { MaintenanceLookup, RegistryLookup, RulesLookup, SilenceLookup } from './processor.js';
import { namesMysqlRow, type MetricName } from './reading.js';
import { rulesFor, type SeverityRules } from './severity.js';
import type { SilenceRule } from './silences.js';

const typeCacheMs = 5 * 60_000;

/**
 * How long a machine's per-equipment overrides are reused. Windows are five minutes long,
 * so an override saved through the API applies from the next window to close.
 */
export const equipmentThresholdCacheMs = 60_000;

/** Where {@link rulesLookup} reads what it needs, by numeric equipment id. */
export interface RulesSources {
  types: (ids: number[]) => Promise<Map<number, string>>;
  thresholds: (ids: number[]) => Promise<Map<number, EquipmentThresholdMap>>;
}

/** Entries of a per-id cache that are missing or expired at `now`. */
function expired(
  cache: ReadonlyMap<string, { until: number }>,
  ids: readonly string[],
  now: number,
) {
  return [...new Set(ids)].filter(
    (id) => namesMysqlRow(id) && !((cache.get(id)?.until ?? 0) > now),
  );
}

/**
 * Severity rules per equipment id: the defaults, its type's overrides (types looked up only
 * when type overrides exist, cached 5 minutes) and its own overrides (cached
 * {@link equipmentThresholdCacheMs}), in that order. `now` is the caches' clock (epoch ms);
 * tests drive it.
 */
export function rulesLookup(
  rules: SeverityRules,
  sources: RulesSources,
  now: () => number = Date.now,
): RulesLookup {
  const types = new Map<string, { value: string | null; until: number }>();
  const thresholds = new Map<string, { value: EquipmentThresholdMap | null; until: number }>();
  const hasTypeOverrides =
    rules.byEquipmentType !== undefined && Object.keys(rules.byEquipmentType).length > 0;
  return async (equipmentIds) => {
    const at = now();
    // Telemetry ids are text; only the numeric ones can name a MySQL row.
    const missingTypes = hasTypeOverrides ? expired(types, equipmentIds, at) : [];
    if (missingTypes.length) {
      const found = await sources.types(missingTypes.map(Number));
      for (const id of missingTypes)
        types.set(id, { value: found.get(Number(id)) ?? null, until: at + typeCacheMs });
    }
    const missingThresholds = expired(thresholds, equipmentIds, at);
    if (missingThresholds.length) {
      const found = await sources.thresholds(missingThresholds.map(Number));
      for (const id of missingThresholds) {
        const value = found.get(Number(id)) ?? null;
        thresholds.set(id, { value, until: at + equipmentThresholdCacheMs });
      }
    }
    return (equipmentId) =>
      applyEquipmentThresholds(
        rulesFor(rules, types.get(equipmentId)?.value ?? null),
        thresholds.get(equipmentId)?.value ?? undefined,
      );
  };
}

/**
 * How long a machine's status is reused. Putting equipment into (or out of) `Maintenance`
 * through the API therefore applies to windows that close at most a minute later.
 */
export const equipmentStatusCacheMs = 60_000;

/**
 * Which equipment ids are in `Maintenance`: the status of each id of the closing windows,
 * read from `statuses` for ids missing or older than {@link equipmentStatusCacheMs}. Ids
 * that name no MySQL row (or no registered machine) are never in maintenance. `now` is the
 * cache's clock (epoch ms); tests drive it.
 */
export function maintenanceLookup(
  statuses: (ids: number[]) => Promise<Map<number, string>>,
  now: () => number = Date.now,
): MaintenanceLookup {
  const cache = new Map<string, { value: string | null; until: number }>();
  return async (equipmentIds) => {
    const at = now();
    const missing = expired(cache, equipmentIds, at);
    if (missing.length) {
      const found = await statuses(missing.map(Number));
      for (const id of missing)
        cache.set(id, { value: found.get(Number(id)) ?? null, until: at + equipmentStatusCacheMs });
    }
    return (equipmentId) => cache.get(equipmentId)?.value === 'Maintenance';
  };
}

/**
 * How long a machine's silences are reused: a silence created, changed or ended through the
 * API applies to windows that close at most a minute later.
 */
export const equipmentSilenceCacheMs = 60_000;

/**
 * The silences that may hold alerts of each equipment id of the closing windows (its own, its
 * type's and its location's) for windows ending at `windowEnd` or later: read from
 * `silences` for ids missing, older than {@link equipmentSilenceCacheMs}, or read for a later
 * window than this one (a replay of an older window reads again; windows normally close in
 * order, so the cache serves them). Ids that name no MySQL row have none. `now` is the
 * cache's clock (epoch ms); tests drive it.
 */
export function silenceLookup(
  silences: (ids: number[], windowEnd: number) => Promise<Map<number, SilenceRule[]>>,
  now: () => number = Date.now,
): SilenceLookup {
  const cache = new Map<string, { value: readonly SilenceRule[]; from: number; until: number }>();
  return async (equipmentIds, windowEnd) => {
    const at = now();
    const missing = expired(cache, equipmentIds, at).concat(
      [...new Set(equipmentIds)].filter((id) => {
        const cached = cache.get(id);
        return cached !== undefined && cached.until > at && cached.from > windowEnd;
      }),
    );
    if (missing.length) {
      const found = await silences(missing.map(Number), windowEnd);
      for (const id of missing) {
        const value = found.get(Number(id)) ?? [];
        cache.set(id, { value, from: windowEnd, until: at + equipmentSilenceCacheMs });
      }
    }
    return (equipmentId) => cache.get(equipmentId)?.value ?? [];
  };
}

/**
 * The silences of each equipment id, from MySQL: those naming it, its type or its location
 * that can hold a window ending at `windowEnd` or later (they end after it, or with their
 * alert). Dated by the windows, not the wall clock, so a late window is judged by the
 * silences of its own time.
 */
export function equipmentSilences(
  pool: Pool,
): (ids: number[], windowEnd: number) => Promise<Map<number, SilenceRule[]>> {
  return async (ids, windowEnd) => {
    const since = new Date(windowEnd);
    // One branch per scope, so each can use its own index.
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT e.id AS equipment_id, s.id, s.metric, s.starts_at, s.ends_at, s.alert_id
         FROM equipment e JOIN silences s ON s.scope = 'equipment' AND s.equipment_id = e.id
        WHERE e.id IN (?) AND (s.ends_at IS NULL OR s.ends_at > ?)
       UNION ALL
       SELECT e.id, s.id, s.metric, s.starts_at, s.ends_at, s.alert_id
         FROM equipment e JOIN silences s ON s.scope = 'type' AND s.equipment_type = e.type
        WHERE e.id IN (?) AND (s.ends_at IS NULL OR s.ends_at > ?)
       UNION ALL
       SELECT e.id, s.id, s.metric, s.starts_at, s.ends_at, s.alert_id
         FROM equipment e JOIN silences s ON s.scope = 'location' AND s.location = e.location
        WHERE e.id IN (?) AND (s.ends_at IS NULL OR s.ends_at > ?)`,
      [ids, since, ids, since, ids, since],
    );
    const found = new Map<number, SilenceRule[]>();
    for (const row of rows) {
      const equipmentId = Number(row['equipment_id']);
      const list = found.get(equipmentId) ?? [];
      list.push({
        id: Number(row['id']),
        metric: row['metric'] === null ? null : (String(row['metric']) as MetricName),
        startsAt: new Date(row['starts_at'] as Date).getTime(),
        endsAt: row['ends_at'] === null ? null : new Date(row['ends_at'] as Date).getTime(),
        alertId: row['alert_id'] === null ? null : String(row['alert_id']),
      });
      found.set(equipmentId, list);
    }
    return found;
  };
}

/** Equipment statuses (`Operational`, `Maintenance`, …) by id, from MySQL. */
export function equipmentStatuses(pool: Pool): (ids: number[]) => Promise<Map<number, string>> {
  return async (ids) => {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT id, status FROM equipment WHERE id IN (?)',
      [ids],
    );
    return new Map(rows.map((row) => [Number(row['id']), String(row['status'])]));
  };
}

/** Equipment types by id, from MySQL. */
export function equipmentTypes(pool: Pool): (ids: number[]) => Promise<Map<number, string>> {
  return async (ids) => {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT id, type FROM equipment WHERE id IN (?)',
      [ids],
    );
    return new Map(rows.map((row) => [Number(row['id']), String(row['type'])]));
  };
}

/** Where the registry of equipment reads registered ids (MySQL in the app). */
export interface EquipmentIdSource {
  /** Every registered id. */
  all(): Promise<number[]>;
  /** Which of `ids` are registered. */
  some(ids: readonly number[]): Promise<number[]>;
}

export interface RegistryCacheOptions {
  /** The whole set is reloaded when it is older than this (a deleted machine drops out). */
  refreshMs: number;
  /** Ids missing from the set are asked about at most this often (a new machine comes in). */
  recheckMs: number;
  /** Most ids asked about in one recheck. */
  maxRecheck: number;
  /** The cache's clock (epoch ms); tests drive it. */
  now: () => number;
}

export const defaultRegistryCache: RegistryCacheOptions = {
  refreshMs: 60_000,
  recheckMs: 10_000,
  maxRecheck: 1000,
  now: () => Date.now(),
};

/**
 * Which equipment ids are registered, from a cached set of every registered id: reloaded
 * once it is `refreshMs` old, and a batch naming ids the set lacks re-checks those ids once
 * the last check is `recheckMs` old, so a machine registered now is accepted within
 * `recheckMs` (and at worst `refreshMs`). Memory is one string per registered machine. Only
 * ids that can name a MySQL row (positive integers as text) can be registered. When MySQL
 * cannot answer the lookup throws: the batch fails and is retried rather than every reading
 * being dead-lettered.
 */
export function registryLookup(
  source: EquipmentIdSource,
  options: RegistryCacheOptions = defaultRegistryCache,
): RegistryLookup {
  let known: Set<string> | undefined;
  let loadedAt = 0;
  let checkedAt = 0;
  return async (equipmentIds) => {
    const now = options.now();
    if (known === undefined || now - loadedAt >= options.refreshMs) {
      known = new Set((await source.all()).map(String));
      loadedAt = checkedAt = now;
    }
    const registered = known;
    const missing = [...new Set(equipmentIds)].filter(
      (id) => namesMysqlRow(id) && !registered.has(id),
    );
    if (missing.length > 0 && now - checkedAt >= options.recheckMs) {
      const asked = missing.slice(0, options.maxRecheck).map(Number);
      for (const id of await source.some(asked)) registered.add(String(id));
      checkedAt = now;
    }
    return (equipmentId) => registered.has(equipmentId);
  };
}

/** Registered equipment ids, from MySQL. */
export function mysqlEquipmentIds(pool: Pool): EquipmentIdSource {
  return {
    async all() {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT id FROM equipment');
      return rows.map((row) => Number(row['id']));
    },
    async some(ids) {
      if (ids.length === 0) return [];
      const [rows] = await pool.query<RowDataPacket[]>('SELECT id FROM equipment WHERE id IN (?)', [
        ids,
      ]);
      return rows.map((row) => Number(row['id']));
    },
  };
}
