/**
 * Live technician locations: a technician reports where they are (`PUT /api/me/location`),
 * and admins, or the technicians assigned to a machine, ask who is nearest to it
 * (`GET /api/equipment/{id}/nearest-technicians`). Positions live in Redis for 300 s
 * (lib/redis/locations.ts); only admins see other technicians' positions, everyone else
 * sees distances.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import type { Principal } from '../auth.js';
import { ConflictError, HttpError } from '../errors.js';
import { accessScope, canSee } from '../fanout/audience.js';
import type { NearbyTechnician, Position, TechnicianLocations } from '../redis/locations.js';
import { locationDefaults } from '../redis/locations.js';
import { equipmentTable } from './equipment.js';

/** How far ahead of the server's clock a device's clock may be. */
const futureToleranceMs = 5_000;

export const positionInputSchema = z
  .strictObject({
    latitude: z.number().min(-90).max(90).meta({ example: 59.9139 }),
    longitude: z.number().min(-180).max(180).meta({ example: 10.7522 }),
    accuracy: z
      .number()
      .min(0)
      .max(100_000)
      .meta({ description: 'Radius of uncertainty in metres.', example: 12 }),
    time: z.iso.datetime({ offset: true }).meta({
      description: `When the device measured it: not in the future, at most ${locationDefaults.maxAgeSeconds} s ago.`,
    }),
  })
  .meta({ id: 'PositionInput' });
export type PositionInput = z.output<typeof positionInputSchema>;

export const nearestTechniciansSchema = z
  .object({
    equipmentId: z.number().int(),
    technicians: z.array(
      z.object({
        technicianId: z.number().int(),
        name: z.string(),
        specialization: z.string(),
        distanceKm: z.number(),
        position: z
          .object({
            latitude: z.number(),
            longitude: z.number(),
            accuracy: z.number(),
            time: z.string(),
          })
          .optional()
          .meta({ description: 'Admins only.' }),
      }),
    ),
  })
  .meta({ id: 'NearestTechnicians' });

/** Stores the caller's position: technicians with an active record only. */
export async function reportMyLocation(
  pool: Pool,
  locations: TechnicianLocations,
  principal: Principal,
  input: PositionInput,
  now: Date,
): Promise<void> {
  const measured = Date.parse(input.time);
  if (measured > now.getTime() + futureToleranceMs) {
    throw new HttpError('validation', 'The position is stamped in the future.', {
      errors: [{ pointer: '#/time', detail: 'Not after the current time' }],
    });
  }
  if (now.getTime() - measured > locationDefaults.maxAgeSeconds * 1000) {
    throw new HttpError(
      'validation',
      `The position is older than ${locationDefaults.maxAgeSeconds} s.`,
      {
        errors: [{ pointer: '#/time', detail: `At most ${locationDefaults.maxAgeSeconds} s ago` }],
      },
    );
  }
  const scope = await accessScope(pool, principal);
  if (scope.kind === 'all' || scope.technicianId === null) {
    throw new HttpError('forbidden', 'Only active technicians report a position.');
  }
  const position: Position = {
    latitude: input.latitude,
    longitude: input.longitude,
    accuracyMeters: input.accuracy,
    time: new Date(measured).toISOString(),
  };
  if ((await locations.report(scope.technicianId, position, now)) === 'too-soon') {
    throw new HttpError(
      'too-many-requests',
      `Report a position at most every ${locationDefaults.minIntervalSeconds} s.`,
      { headers: { 'retry-after': String(locationDefaults.minIntervalSeconds) } },
    );
  }
}

/** Active technicians with a live position, nearest to equipment `id` first. */
export async function nearestTechnicians(
  pool: Pool,
  locations: TechnicianLocations,
  principal: Principal,
  equipmentId: number,
  limit = 20,
): Promise<z.output<typeof nearestTechniciansSchema>> {
  const scope = await accessScope(pool, principal);
  if (!canSee(scope, String(equipmentId))) {
    throw new HttpError('forbidden', 'Only admins and the technicians assigned to it may ask.');
  }
  const equipment = await equipmentTable.get(pool, equipmentId);
  if (equipment.latitude === null || equipment.longitude === null) {
    throw new ConflictError('state', 'This equipment has no coordinates; set them first.');
  }
  const admin = scope.kind === 'all';
  const nearby = await nearestActiveTechnicians(
    pool,
    locations,
    { latitude: equipment.latitude, longitude: equipment.longitude },
    limit,
  );
  const technicians = nearby.map(({ position, ...technician }) => ({
    ...technician,
    ...(admin && {
      position: {
        latitude: position.latitude,
        longitude: position.longitude,
        accuracy: position.accuracyMeters,
        time: position.time,
      },
    }),
  }));
  return { equipmentId, technicians };
}

/** A technician near a place: who, how far, and where (personal data: admins only). */
export interface NearbyActiveTechnician {
  technicianId: number;
  name: string;
  specialization: string;
  distanceKm: number;
  position: Position;
}

/**
 * Active technicians (`technicians.is_active`) with a live position, nearest to `at` first,
 * at most `limit`. Throws `DependencyUnavailableError` when Redis or MySQL does not answer.
 */
export async function nearestActiveTechnicians(
  pool: Pool,
  locations: TechnicianLocations,
  at: { latitude: number; longitude: number },
  limit: number,
): Promise<NearbyActiveTechnician[]> {
  // Twice the limit from Redis, since inactive technicians' positions are dropped here.
  const nearby = await locations.nearest(at.latitude, at.longitude, limit * 2);
  const details = await activeTechnicians(
    pool,
    nearby.map((n) => n.technicianId),
  );
  return nearby
    .flatMap((n: NearbyTechnician) => {
      const detail = details.get(n.technicianId);
      return detail
        ? [
            {
              technicianId: n.technicianId,
              ...detail,
              distanceKm: n.distanceKm,
              position: n.position,
            },
          ]
        : [];
    })
    .slice(0, limit);
}

async function activeTechnicians(
  pool: Pool,
  ids: readonly number[],
): Promise<Map<number, { name: string; specialization: string }>> {
  if (ids.length === 0) return new Map();
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT id, name, specialization FROM technicians WHERE id IN (?) AND is_active',
    [ids],
  );
  return new Map(
    rows.map((row) => [
      Number(row['id']),
      { name: String(row['name']), specialization: String(row['specialization'] ?? '') },
    ]),
  );
}
