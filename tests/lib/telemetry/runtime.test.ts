/** Severity rules per equipment: per-type overrides need the type, read from MySQL and cached. */
import { describe, expect, it } from 'vitest';
import { equipmentTypes, rulesLookup } from '../../../lib/telemetry/runtime.js';
import { defaultSeverityRules, parseSeverityRules } from '../../../lib/telemetry/severity.js';
import { useTestDatabase } from '../../helpers/database.js';

const db = useTestDatabase();

const craneRules = parseSeverityRules(
  JSON.stringify({
    byEquipmentType: { crane: { vibration: { medium: 3, high: 4, critical: 6 } } },
  }),
);

async function insertEquipment(id: number, type: string): Promise<void> {
  await db.pool.query(
    "INSERT INTO equipment (id, serial_number, name, type, status) VALUES (?, ?, ?, ?, 'operational')",
    [id, `SN-${id}`, `Machine ${id}`, type],
  );
}

describe('rulesLookup', () => {
  it('applies a type override to the equipment of that type only', async () => {
    await insertEquipment(11, 'crane');
    await insertEquipment(12, 'excavator');
    const lookup = rulesLookup(craneRules, equipmentTypes);
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
      return equipmentTypes(ids);
    };
    const lookup = rulesLookup(craneRules, counting);
    await lookup(['21']);
    await lookup(['21']);
    expect(asked).toEqual([[21]]);

    const plain = rulesLookup(defaultSeverityRules, counting);
    const rulesFor = await plain(['21']);
    expect(asked).toHaveLength(1);
    expect(rulesFor('21').temperature).toMatchObject({ medium: 75, high: 80, critical: 90 });
  });
});
