/**
 * What the pipeline asks MySQL about equipment, cached: the severity rules of each equipment
 * (per-type overrides need its type, read only when overrides exist) and which equipment
 * ids are registered. lib/services.ts wires them to the app's pool.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { RegistryLookup, RulesLookup } from './processor.js';
import { namesMysqlRow } from './reading.js';
import { rulesFor, type SeverityRules } from './severity.js';

const typeCacheMs = 5 * 60_000;

/** Severity rules per equipment id; looks types up in MySQL only when overrides exist. */
export function rulesLookup(
  rules: SeverityRules,
  lookupTypes: (ids: number[]) => Promise<Map<number, string>>,
): RulesLookup {
  const cache = new Map<string, { type: string | null; until: number }>();
  return async (equipmentIds) => {
    if (!rules.byEquipmentType || Object.keys(rules.byEquipmentType).length === 0) {
      const resolved = rulesFor(rules);
      return () => resolved;
    }
    const now = Date.now();
    // Telemetry ids are text; only the numeric ones can name a MySQL row.
    const missing = equipmentIds.filter(
      (id) => namesMysqlRow(id) && !((cache.get(id)?.until ?? 0) > now),
    );
    if (missing.length) {
      const types = await lookupTypes(missing.map(Number));
      for (const id of missing)
        cache.set(id, { type: types.get(Number(id)) ?? null, until: now + typeCacheMs });
    }
    return (equipmentId) => rulesFor(rules, cache.get(equipmentId)?.type ?? null);
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
