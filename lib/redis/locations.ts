/**
 * Technicians' live positions in Redis: each position under `technician:{id}:location` (as
 * in the seed), expiring when it is 300 s old, so an old position is gone rather than stale;
 * and every technician in one geo set (GEOADD / GEOSEARCH, redis.io/docs/latest/commands/
 * geosearch/) for nearest-first queries. A geo set's members cannot expire one by one, so a
 * query keeps only members whose position key still exists and removes the others.
 *
 * Positions are personal data: nothing here logs them. Redis is the only place they are
 * kept, on purpose (they are worth nothing after five minutes); when Redis does not answer,
 * calls throw `DependencyUnavailableError` and the API answers 503.
 */
import type { RedisConnection } from './client.js';
import { redisUnavailable } from './client.js';

/** A reported position. */
export interface Position {
  latitude: number;
  longitude: number;
  /** Radius of uncertainty in metres, as the device reports it. */
  accuracyMeters: number;
  /** When the device measured it (ISO 8601, UTC). */
  time: string;
}

export interface NearbyTechnician {
  technicianId: number;
  distanceKm: number;
  position: Position;
}

export interface TechnicianLocations {
  /** Stores `position` until it is `maxAgeSeconds` old; `too-soon` when the last report was
   * under `minIntervalSeconds` ago (nothing stored then). */
  report(technicianId: number, position: Position, now: Date): Promise<'stored' | 'too-soon'>;
  /** Technicians with a live position, nearest to (latitude, longitude) first. */
  nearest(latitude: number, longitude: number, limit: number): Promise<NearbyTechnician[]>;
}

export const locationDefaults = { maxAgeSeconds: 300, minIntervalSeconds: 5 } as const;

/** Farther than any two points on Earth: every live position is within it. */
const wholeEarthKm = 20_100;

function isPosition(value: unknown): value is Position {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['latitude'] === 'number' &&
    typeof v['longitude'] === 'number' &&
    typeof v['accuracyMeters'] === 'number' &&
    typeof v['time'] === 'string'
  );
}

export function technicianLocations(
  redisConnection: () => RedisConnection,
  options: { maxAgeSeconds: number; minIntervalSeconds: number } = locationDefaults,
): TechnicianLocations {
  const keys = (redis: RedisConnection) => ({
    geo: `${redis.keyPrefix}technicians:geo`,
    location: (id: number | string) => `${redis.keyPrefix}technician:${id}:location`,
    throttle: (id: number) => `${redis.keyPrefix}technician:${id}:location-throttle`,
  });

  return {
    async report(technicianId, position, now) {
      try {
        const redis = redisConnection();
        const client = await redis.client();
        const key = keys(redis);
        const claimed = await client.set(key.throttle(technicianId), '1', {
          NX: true,
          PX: options.minIntervalSeconds * 1000,
        });
        if (claimed === null) return 'too-soon';
        // Kept until the position itself is maxAgeSeconds old, not from when it arrived.
        const ageMs = now.getTime() - Date.parse(position.time);
        const keepMs = Math.max(1, options.maxAgeSeconds * 1000 - Math.max(0, ageMs));
        await client
          .multi()
          .set(key.location(technicianId), JSON.stringify(position), { PX: keepMs })
          .geoAdd(key.geo, {
            longitude: position.longitude,
            latitude: position.latitude,
            member: String(technicianId),
          })
          .exec();
        return 'stored';
      } catch (error) {
        throw redisUnavailable(error);
      }
    },

    async nearest(latitude, longitude, limit) {
      try {
        const redis = redisConnection();
        const client = await redis.client();
        const key = keys(redis);
        const found = await client.geoSearchWith(
          key.geo,
          { longitude, latitude },
          { radius: wholeEarthKm, unit: 'km' },
          ['WITHDIST'],
          { SORT: 'ASC', COUNT: Math.max(limit * 4, 50) },
        );
        if (found.length === 0) return [];
        const positions = await client.mGet(found.map((entry) => key.location(entry.member)));
        const live: NearbyTechnician[] = [];
        const gone: string[] = [];
        found.forEach((entry, index) => {
          const text = positions[index];
          let position: unknown;
          try {
            position = text ? JSON.parse(text) : undefined;
          } catch {
            position = undefined;
          }
          if (!isPosition(position)) {
            gone.push(entry.member);
            return;
          }
          live.push({
            technicianId: Number(entry.member),
            distanceKm: Math.round(Number(entry.distance) * 1000) / 1000,
            position,
          });
        });
        if (gone.length > 0) await client.zRem(key.geo, gone);
        return live.slice(0, limit);
      } catch (error) {
        throw redisUnavailable(error);
      }
    },
  };
}
