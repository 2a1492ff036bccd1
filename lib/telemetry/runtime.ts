/**
 * The pipeline's process-wide wiring, built once from app settings: the Cosmos client and
 * store, the window settings and the severity rules. Per-type rule overrides need each
 * equipment's type, read from MySQL only when overrides exist, and cached.
 */
import type { Database } from '@azure/cosmos';
import type { RowDataPacket } from 'mysql2/promise';
import { getCosmosClient } from '../cosmos/client.js';
import { cosmosSettingsFrom } from '../cosmos/settings.js';
import { getSection } from '../config.js';
import { pipelineFanOut } from '../fanout/runtime.js';
import { getPool } from '../mysql/pool.js';
import { CosmosTelemetryStore } from './cosmosStore.js';
import { createHubProbe, type HubProbe } from './hubProbe.js';
import type { ProcessorOptions, RulesLookup } from './processor.js';
import { defaultFutureToleranceMs, namesMysqlRow } from './reading.js';
import { parseSeverityRules, rulesFor, type SeverityRules } from './severity.js';

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
export async function equipmentTypes(ids: number[]): Promise<Map<number, string>> {
  const [rows] = await getPool().query<RowDataPacket[]>(
    'SELECT id, type FROM equipment WHERE id IN (?)',
    [ids],
  );
  return new Map(rows.map((row) => [Number(row['id']), String(row['type'])]));
}

/** The pipeline's Cosmos database, for the HTTP reads. */
export function getTelemetryDatabase(): Database {
  const cosmos = getSection('cosmos');
  return getCosmosClient(cosmosSettingsFrom(cosmos)).database(cosmos.COSMOS_DATABASE);
}

let options: ProcessorOptions | undefined;

/** The processor options of this process. */
export function getTelemetryProcessor(): ProcessorOptions {
  if (!options) {
    const cosmos = getSection('cosmos');
    const telemetry = getSection('telemetry');
    const database = getCosmosClient(cosmosSettingsFrom(cosmos)).database(cosmos.COSMOS_DATABASE);
    const store = new CosmosTelemetryStore(database, {
      aggregateTtlSeconds: telemetry.AGGREGATE_TTL_DAYS * 86_400,
      deadLetterTtlSeconds: telemetry.DEAD_LETTER_TTL_DAYS * 86_400,
    });
    options = {
      store,
      fanOut: pipelineFanOut(database, (partitionId, ids) => store.readPartials(partitionId, ids)),
      settings: {
        allowedLatenessMs: telemetry.TELEMETRY_ALLOWED_LATENESS_SECONDS * 1000,
        futureToleranceMs: defaultFutureToleranceMs,
      },
      rules: rulesLookup(parseSeverityRules(telemetry.SEVERITY_RULES), equipmentTypes),
    };
  }
  return options;
}

let hubProbe: HubProbe | undefined;

/** The process's probe of Event Hubs partition progress (for the idle-window timer). */
export function getHubProbe(): HubProbe {
  hubProbe ??= createHubProbe(getSection('eventHubs')).probe;
  return hubProbe;
}
