/**
 * What a versioned table reports when a request cannot be served, against real MariaDB
 * constraints: domain errors that say what went wrong (lib/http/problem.ts turns them into
 * problem documents; tests/functions/*.test.ts check those end to end).
 */
import { describe, expect, it } from 'vitest';
import { equipmentTable } from '../../../lib/api/equipment.js';
import { serviceRecordTable } from '../../../lib/api/serviceRecords.js';
import {
  ConflictError,
  InvalidCursorError,
  NotFoundError,
  StaleVersionError,
} from '../../../lib/errors.js';
import { useTestDatabase } from '../../helpers/database.js';

const db = useTestDatabase();

let serial = 0;
function equipmentRow(serialNumber = `SN-T${++serial}`) {
  return { serial_number: serialNumber, name: 'Crane', type: 'crane', status: 'Operational' };
}

function serviceRecordRow(equipmentId: number) {
  return {
    equipment_id: equipmentId,
    service_type: 'inspection',
    status: 'completed',
    service_date: new Date(Date.UTC(2026, 0, 15)),
    description: 'Checked',
  };
}

/** A conflict for `reason`, with the resource's message for the constraint and its field. */
function conflict(reason: string, message: string, pointer?: string) {
  return expect.objectContaining({ name: 'ConflictError', reason, message, pointer }) as Error;
}

describe('VersionedTable errors', () => {
  it('reports an unknown id as not found, naming it', async () => {
    await expect(equipmentTable.get(db.pool, 987654)).rejects.toThrow(NotFoundError);
    await expect(equipmentTable.get(db.pool, 987654)).rejects.toThrow(
      'Equipment 987654 does not exist.',
    );
    await expect(equipmentTable.remove(db.pool, 987654, undefined)).rejects.toThrow(NotFoundError);
  });

  it('reports a duplicate unique value as a duplicate conflict on its field', async () => {
    await equipmentTable.insert(db.pool, equipmentRow('SN-DUP'));
    await expect(equipmentTable.insert(db.pool, equipmentRow('SN-DUP'))).rejects.toThrow(
      ConflictError,
    );
    await expect(equipmentTable.insert(db.pool, equipmentRow('SN-DUP'))).rejects.toEqual(
      conflict('duplicate', 'Another piece of equipment has this serial number.', '#/serialNumber'),
    );
  });

  it('reports a delete blocked by references as still referenced', async () => {
    const equipment = await equipmentTable.insert(db.pool, equipmentRow());
    await serviceRecordTable.insert(db.pool, serviceRecordRow(equipment.id));
    await expect(equipmentTable.remove(db.pool, equipment.id, undefined)).rejects.toEqual(
      conflict(
        'still-referenced',
        'This equipment has service records; delete them first or set its status to "Retired".',
      ),
    );
    expect(await equipmentTable.find(db.pool, equipment.id)).toBeDefined();
  });

  it('reports a reference to a missing row as a dangling reference on its field', async () => {
    await expect(serviceRecordTable.insert(db.pool, serviceRecordRow(987654))).rejects.toEqual(
      conflict(
        'dangling-reference',
        'equipmentId does not name existing equipment.',
        '#/equipmentId',
      ),
    );
  });

  it('refuses a write based on a stale version, telling the current one, changing nothing', async () => {
    const equipment = await equipmentTable.insert(db.pool, equipmentRow());
    const replaced = await equipmentTable.replace(db.pool, equipment.id, { name: 'Renamed' }, [
      equipment.version,
    ]);
    for (const write of [
      () => equipmentTable.replace(db.pool, equipment.id, { name: 'Lost' }, [equipment.version]),
      () => equipmentTable.remove(db.pool, equipment.id, [equipment.version]),
    ]) {
      await expect(write()).rejects.toThrow(StaleVersionError);
      await expect(write()).rejects.toEqual(
        expect.objectContaining({ currentVersion: replaced.version }),
      );
    }
    expect(await equipmentTable.get(db.pool, equipment.id)).toEqual(replaced);
  });

  it('refuses a cursor it did not issue', async () => {
    const foreign = Buffer.from(JSON.stringify(['x'])).toString('base64url');
    await expect(equipmentTable.list(db.pool, [], { limit: 5, cursor: foreign })).rejects.toThrow(
      InvalidCursorError,
    );
  });
});
