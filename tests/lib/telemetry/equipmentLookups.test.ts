/**
 * The pipeline's MySQL lookups, against a real MariaDB: severity rules per equipment (per-type
 * overrides need the type), which equipment is in maintenance, and the registry of equipment
 * ids, all cached.
 */
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { poolOptions } from '../../../lib/mysql/pool.js';
import { isTransient } from '../../../lib/telemetry/retry.js';
import {
  defaultRegistryCache,
  equipmentStatusCacheMs,
  equipmentStatuses,
  equipmentThresholdCacheMs,
  equipmentTypes,
  equipmentSilenceCacheMs,
  maintenanceLookup,
  mysqlEquipmentIds,
  registryLookup,
  rulesLookup,
  silenceLookup,
  type EquipmentIdSource,
  type RulesSources,
} from '../../../lib/telemetry/equipmentLookups.js';
import { readEquipmentThresholds } from '../../../lib/telemetry/equipmentThresholds.js';
import type { SilenceRule } from '../../../lib/telemetry/silences.js';
import { defaultSeverityRules, parseSeverityRules } from '../../../lib/telemetry/severity.js';
import { useTestDatabase } from '../../helpers/database.js';
import { unusedPort } from '../../../dev/ports.js';

const db = useTestDatabase();

const craneRules = parseSeverityRules(
  JSON.stringify({
    byEquipmentType: { crane: { vibration: { medium: 3, high: 4, critical: 6 } } },
  }),
);

async function insertEquipment(id: number, type: string): Promise<void> {
  await db.pool.query(
    "INSERT INTO equipment (id, serial_number, name, type, status) VALUES (?, ?, ?, ?, 'Operational')",
    [id, `SN-${id}`, `Machine ${id}`, type],
  );
}

/** The lookups the app wires, on the test database. */
function mysqlSources(pool: Pool): RulesSources {
  return { types: equipmentTypes(pool), thresholds: (ids) => readEquipmentThresholds(pool, ids) };
}

async function insertThresholds(id: number, thresholds: unknown): Promise<void> {
  await db.pool.query('INSERT INTO equipment_thresholds (equipment_id, thresholds) VALUES (?, ?)', [
    id,
    JSON.stringify(thresholds),
  ]);
}

describe('rulesLookup', () => {
  it("lays an equipment's own thresholds over its type's, for that equipment only", async () => {
    await insertEquipment(501, 'crane');
    await insertEquipment(502, 'crane');
    await insertThresholds(501, {
      temperature: { medium: 60, high: 65, critical: 70, clear: 55 },
      pressure: { medium: 20, high: 15, critical: 8 },
    });
    const rulesFor = await rulesLookup(craneRules, mysqlSources(db.pool))(['501', '502']);
    expect(rulesFor('501')).toEqual({
      temperature: { direction: 'above', medium: 60, high: 65, critical: 70, clear: 55 },
      vibration: { direction: 'above', medium: 3, high: 4, critical: 6 },
      pressure: { direction: 'below', medium: 20, high: 15, critical: 8 },
    });
    expect(rulesFor('502').temperature).toEqual({
      direction: 'above',
      medium: 75,
      high: 80,
      critical: 90,
      clear: 70,
    });
  });

  it("reads an equipment's thresholds once while cached, only for the ids it is asked about", async () => {
    await insertEquipment(511, 'crane');
    await insertEquipment(512, 'crane');
    const asked: number[][] = [];
    const lookup = rulesLookup(defaultSeverityRules, {
      ...mysqlSources(db.pool),
      thresholds: (ids) => {
        asked.push(ids);
        return readEquipmentThresholds(db.pool, ids);
      },
    });
    await lookup(['511', 'not-a-row']);
    await lookup(['511', '512']);
    expect(asked).toEqual([[511], [512]]);
  });

  it('applies a type override to the equipment of that type only', async () => {
    await insertEquipment(11, 'crane');
    await insertEquipment(12, 'excavator');
    const lookup = rulesLookup(craneRules, mysqlSources(db.pool));
    const rulesFor = await lookup(['11', '12', 'not-a-row', '999']);
    expect(rulesFor('11').vibration).toMatchObject({ medium: 3, high: 4, critical: 6 });
    expect(rulesFor('12').vibration).toMatchObject({ medium: 4, high: 5, critical: 7 });
    expect(rulesFor('not-a-row').vibration).toMatchObject({ medium: 4, high: 5, critical: 7 });
    expect(rulesFor('999').vibration).toMatchObject({ medium: 4, high: 5, critical: 7 });
  });

  it('reads types once per id while cached, and not at all without overrides', async () => {
    await insertEquipment(21, 'crane');
    const asked: number[][] = [];
    const counting = (ids: number[]) => {
      asked.push(ids);
      return equipmentTypes(db.pool)(ids);
    };
    const lookup = rulesLookup(craneRules, { ...mysqlSources(db.pool), types: counting });
    await lookup(['21']);
    await lookup(['21']);
    expect(asked).toEqual([[21]]);

    const plain = rulesLookup(defaultSeverityRules, { ...mysqlSources(db.pool), types: counting });
    const rulesFor = await plain(['21']);
    expect(asked).toHaveLength(1);
    expect(rulesFor('21').temperature).toMatchObject({ medium: 75, high: 80, critical: 90 });
  });
});

describe('rulesLookup: a changed override', () => {
  it('applies from the first lookup after the cache time, not before', async () => {
    await insertEquipment(521, 'crane');
    await insertThresholds(521, { temperature: { medium: 60, high: 65, critical: 85 } });
    let clock = 1_000_000;
    const lookup = rulesLookup(defaultSeverityRules, mysqlSources(db.pool), () => clock);
    expect((await lookup(['521']))('521').temperature.medium).toBe(60);
    await db.pool.query('UPDATE equipment_thresholds SET thresholds = ? WHERE equipment_id = 521', [
      JSON.stringify({ temperature: { medium: 50, high: 65, critical: 85 } }),
    ]);
    clock += equipmentThresholdCacheMs - 1;
    expect((await lookup(['521']))('521').temperature.medium).toBe(60);
    clock += 1;
    expect((await lookup(['521']))('521').temperature.medium).toBe(50);
    await db.pool.query('DELETE FROM equipment_thresholds WHERE equipment_id = 521');
    clock += equipmentThresholdCacheMs;
    expect((await lookup(['521']))('521').temperature.medium).toBe(75);
  });
});

describe('maintenanceLookup', () => {
  it('reads the statuses of the ids asked once while cached, and a change after the cache time', async () => {
    await insertEquipment(531, 'crane');
    await insertEquipment(532, 'crane');
    await db.pool.query("UPDATE equipment SET status = 'Maintenance' WHERE id = 531");
    const asked: number[][] = [];
    let clock = 5_000_000;
    const lookup = maintenanceLookup(
      (ids) => {
        asked.push(ids);
        return equipmentStatuses(db.pool)(ids);
      },
      () => clock,
    );
    let inMaintenance = await lookup(['531', '532', '531', 'not-a-row', '9999']);
    expect(['531', '532', 'not-a-row', '9999'].map(inMaintenance)).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(asked).toEqual([[531, 532, 9999]]);

    await db.pool.query("UPDATE equipment SET status = 'Operational' WHERE id = 531");
    clock += equipmentStatusCacheMs - 1;
    inMaintenance = await lookup(['531']);
    expect(inMaintenance('531')).toBe(true);
    expect(asked).toHaveLength(1);
    clock += 1;
    inMaintenance = await lookup(['531']);
    expect(inMaintenance('531')).toBe(false);
    expect(asked).toEqual([[531, 532, 9999], [531]]);
  });
});

describe('silenceLookup', () => {
  const rule = (id: number, endsAt: number): SilenceRule => ({
    id,
    metric: null,
    startsAt: 0,
    endsAt,
    alertId: null,
  });

  it('reads the silences of the ids asked once while cached, again after the cache time or for an earlier window', async () => {
    const asked: [number[], number][] = [];
    const stored = new Map<number, SilenceRule[]>([[541, [rule(1, 10_000)]]]);
    let clock = 7_000_000;
    const lookup = silenceLookup(
      (ids, windowEnd) => {
        asked.push([ids, windowEnd]);
        return Promise.resolve(new Map([...stored].filter(([id]) => ids.includes(id))));
      },
      () => clock,
    );

    let silencesOf = await lookup(['541', '542', '541', 'not-a-row'], 5_000);
    expect(['541', '542', 'not-a-row'].map((id) => silencesOf(id).map((s) => s.id))).toEqual([
      [1],
      [],
      [],
    ]);
    expect(asked).toEqual([[[541, 542], 5_000]]);

    // A new silence: a later window within the cache time still sees the cached list...
    stored.set(542, [rule(2, 20_000)]);
    clock += equipmentSilenceCacheMs - 1;
    silencesOf = await lookup(['542'], 6_000);
    expect(silencesOf('542')).toEqual([]);
    expect(asked).toHaveLength(1);
    // ...an earlier window (a replay) reads again, as silences that ended since were left out...
    silencesOf = await lookup(['542'], 4_000);
    expect(silencesOf('542').map((s) => s.id)).toEqual([2]);
    expect(asked).toEqual([
      [[541, 542], 5_000],
      [[542], 4_000],
    ]);
    // ...and once the cache time is over, the next window reads again.
    clock += equipmentSilenceCacheMs;
    silencesOf = await lookup(['541'], 6_000);
    expect(asked.at(-1)).toEqual([[541], 6_000]);
  });
});

describe('registryLookup', () => {
  /** The MySQL source, counting what it is asked. */
  function countingSource() {
    const asked: string[] = [];
    const source: EquipmentIdSource = {
      all: () => {
        asked.push('all');
        return mysqlEquipmentIds(db.pool).all();
      },
      some: (ids) => {
        asked.push(`some ${ids.join(',')}`);
        return mysqlEquipmentIds(db.pool).some(ids);
      },
    };
    return { source, asked };
  }

  it('accepts registered ids only, and notices a machine registered later within the recheck bound', async () => {
    await insertEquipment(31, 'excavator');
    let now = 1_000_000;
    const { source, asked } = countingSource();
    const lookup = registryLookup(source, { ...defaultRegistryCache, now: () => now });
    const first = await lookup(['31', '32', 'gateway-7', '031']);
    expect(['31', '32', 'gateway-7', '031'].map(first)).toEqual([true, false, false, false]);
    expect(asked).toEqual(['all']);

    // 32 is registered now; until the recheck bound the cache does not ask again.
    await insertEquipment(32, 'crane');
    now += defaultRegistryCache.recheckMs - 1;
    expect((await lookup(['31', '32']))('32')).toBe(false);
    expect(asked).toEqual(['all']);
    now += 1;
    const later = await lookup(['31', '32', 'gateway-7', '33']);
    expect(later('32')).toBe(true);
    expect(later('33')).toBe(false);
    // Only the numeric ids the set lacked were asked about; text ids can never be rows.
    expect(asked).toEqual(['all', 'some 32,33']);
    // Known ids cost no query at all.
    now += defaultRegistryCache.recheckMs * 2;
    await lookup(['31', '32']);
    expect(asked).toHaveLength(2);
  });

  it('drops a deleted machine at the next full refresh', async () => {
    await insertEquipment(41, 'excavator');
    let now = 5_000_000;
    const { source, asked } = countingSource();
    const lookup = registryLookup(source, { ...defaultRegistryCache, now: () => now });
    expect((await lookup(['41']))('41')).toBe(true);
    await db.pool.query('DELETE FROM equipment WHERE id = 41');
    now += defaultRegistryCache.refreshMs - 1;
    expect((await lookup(['41']))('41')).toBe(true);
    now += 1;
    expect((await lookup(['41']))('41')).toBe(false);
    expect(asked).toEqual(['all', 'all']);
  });

  it('fails, transiently, when MySQL cannot answer (the batch is retried, nothing dead-lettered)', async () => {
    const port = await unusedPort();
    const pool = createPool(
      poolOptions({
        MYSQL_URL: `mysql://root@127.0.0.1:${port}/none`,
        MYSQL_POOL_SIZE: 1,
        MYSQL_TLS: false,
      }),
    );
    try {
      const unreachable: EquipmentIdSource = {
        all: async () =>
          (await pool.query<RowDataPacket[]>('SELECT id FROM equipment'))[0].map((r) =>
            Number(r['id']),
          ),
        some: () => Promise.resolve([]),
      };
      const error: unknown = await registryLookup(unreachable)(['1']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(isTransient(error)).toBe(true);
    } finally {
      await pool.end();
    }
  });
});
