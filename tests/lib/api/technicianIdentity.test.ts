/**
 * The SQL that links a token subject to a technician row, against a real MariaDB: it must
 * match byte for byte, although the tables' collation ignores trailing spaces.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { externalIdIs, technicianForSubject } from '../../../lib/api/technicians.js';
import { lookalikeSubjects } from '../../helpers/audience.js';
import { useTestDatabase } from '../../helpers/database.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.pool.query(
    `INSERT INTO technicians (external_id, name, email, specialization)
     VALUES ('tech-1', 'One', 'one@example.com', 'hydraulics')`,
  );
});

async function idsMatching(subject: string): Promise<number[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    `SELECT id FROM technicians WHERE ${externalIdIs('external_id')}`,
    [subject, subject],
  );
  return rows.map((row) => Number(row['id']));
}

describe('matching a token subject to technicians.external_id', () => {
  it('is needed: the column collation is PAD SPACE, so a plain = ignores trailing spaces', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM technicians WHERE external_id = ?',
      ['tech-1 '],
    );
    expect(Number(rows[0]?.['n'])).toBe(1);
  });

  it('finds the exact subject', async () => {
    expect(await idsMatching('tech-1')).toHaveLength(1);
    expect((await technicianForSubject(db.pool, 'tech-1'))?.externalId).toBe('tech-1');
  });

  it.each([...lookalikeSubjects('tech-1'), 'tech-1  ', 'tech-1\u00a0', 'tech-'])(
    'finds nothing for %j, in SQL alone and through technicianForSubject',
    async (subject) => {
      expect(await idsMatching(subject)).toEqual([]);
      expect(await technicianForSubject(db.pool, subject)).toBeUndefined();
    },
  );
});
