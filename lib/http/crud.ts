/**
 * The HTTP shape shared by equipment, technicians, service records and webhooks: a collection route
 * (list with filters and keyset paging, create) and an item route (get, replace, delete with
 * `If-Match`). Each resource supplies its schemas and domain calls; this file owns the
 * translation so the three behave identically.
 */
import type { Pool } from 'mysql2/promise';
import { z } from 'zod';
import { requireRole, type Principal, type Role } from '../auth.js';
import { httpFunction, type HttpFunctionDeclaration } from '../host/declarations.js';
import type { Page, PageRequest } from '../paging.js';
import type { VersionCondition } from '../preconditions.js';
import type { VersionedCache } from '../redis/versionedCache.js';
import type { Services } from '../services.js';
import { parseIfMatch } from './etag.js';
import { protectedHandler, type ApiOperation, type PrefetchingOperation } from './handler.js';
import { queryObject, readJsonBody } from './request.js';
import { jsonResponse, listResponse, noContent, versionedGetResponse } from './response.js';
import { parseOrThrow } from './validation.js';

export interface CrudResource<
  Resource extends { id: number; version: number },
  Input,
  Query extends PageRequest,
> {
  /** Function name stem, e.g. `equipment`. */
  name: string;
  /** Collection route, e.g. `equipment`. */
  route: string;
  querySchema: z.ZodType<Query>;
  inputSchema: z.ZodType<Input>;
  list(pool: Pool, query: NoInfer<Query>, page: PageRequest): Promise<Page<Resource>>;
  get(pool: Pool, id: number): Promise<Resource>;
  /** The current version of `id` alone (undefined when missing), for conditional GETs. */
  version(pool: Pool, id: number): Promise<number | undefined>;
  /** `services`: for writes that need more than MySQL (e.g. a webhook's secret store). */
  create(pool: Pool, principal: Principal, input: Input, services: Services): Promise<Resource>;
  replace(
    pool: Pool,
    principal: Principal,
    id: number,
    input: Input,
    ifMatch: VersionCondition,
    services: Services,
  ): Promise<Resource>;
  remove(
    pool: Pool,
    principal: Principal,
    id: number,
    ifMatch: VersionCondition,
    services: Services,
  ): Promise<void>;
  /** Roles that may create and replace (the domain may narrow further, e.g. own records). */
  writerRoles: readonly Role[];
  /** Roles that may read (absent: any signed-in role; the domain may narrow further). */
  readerRoles?: readonly Role[];
  /**
   * The shared cache single reads go through (lib/redis/versionedCache.ts); every write
   * here records its new version in it before answering. Absent: reads go to MySQL.
   */
  cache?: (services: Services) => VersionedCache<Resource>;
}

/** An id in a URL path: digits only, so `1e3` or ` 7` are refused rather than coerced. */
const pathIdPattern = /^[1-9][0-9]{0,15}$/;
const pathIdSchema = z
  .string()
  .regex(pathIdPattern, { error: 'Expected a positive whole number' })
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER, { error: 'Expected a positive whole number' }));

/** The schema of each route parameter name, built once (a zod object per request is not free). */
const routeIdSchemas = new Map<string, z.ZodType<Record<string, number>>>();

/** Parses the `{id}` route parameter: 400 unless it is a positive whole number. */
export function routeId(params: Readonly<Record<string, string>>, name = 'id'): number {
  // A valid id, the usual case, by the schema's own rules without building zod's result; the
  // schema itself answers anything else, with its problem.
  const raw = params[name];
  if (raw !== undefined && pathIdPattern.test(raw)) {
    const id = Number(raw);
    if (id <= Number.MAX_SAFE_INTEGER) return id;
  }
  let schema = routeIdSchemas.get(name);
  if (!schema) {
    // Wrapped in an object so a problem names the parameter (`id`, `technicianId`).
    schema = z.object({ [name]: pathIdSchema });
    routeIdSchemas.set(name, schema);
  }
  const parsed = parseOrThrow(schema, { [name]: params[name] ?? '' }, 'path');
  const id = parsed[name];
  if (id === undefined) throw new Error(`route parameter ${name} missing after validation`);
  return id;
}

/** Refuses a caller without one of the resource's reader roles (when it names any). */
function requireReader(resource: { readerRoles?: readonly Role[] }, principal: Principal): void {
  if (resource.readerRoles) requireRole(principal, ...resource.readerRoles);
}

/**
 * GET of one row through the shared cache: its version read in Redis starts with the rate
 * limit's count (lib/http/handler.ts `PrefetchingOperation`), so the two share a round trip.
 */
function cachedItemGet<Resource extends { id: number; version: number }>(
  resource: Pick<CrudResource<Resource, unknown, PageRequest>, 'get' | 'readerRoles'>,
  cache: (services: Services) => VersionedCache<Resource>,
): PrefetchingOperation {
  return {
    prefetch(request, services) {
      let id: number;
      try {
        id = routeId(request.params);
      } catch (error) {
        // Nothing to read; answered as without the cache: the reader's role first.
        return ({ principal }) => {
          requireReader(resource, principal);
          throw error;
        };
      }
      const read = cache(services).prefetch(id);
      return ({ db, principal }) => {
        requireReader(resource, principal);
        // Through the cache the row is cheap, so no separate version read decides first.
        return versionedGetResponse(request, undefined, () =>
          read((primary) => resource.get(primary ? services.pool : db, id)),
        );
      };
    },
  };
}

/** GET of one row from MySQL: with `If-None-Match`, its version alone decides first. */
function uncachedItemGet<Resource extends { id: number; version: number }>(
  resource: Pick<CrudResource<Resource, unknown, PageRequest>, 'get' | 'version' | 'readerRoles'>,
): ApiOperation {
  return async ({ request, db, principal }) => {
    requireReader(resource, principal);
    const id = routeId(request.params);
    return versionedGetResponse(
      request,
      () => resource.version(db, id),
      () => resource.get(db, id),
    );
  };
}

export function crudFunctions<
  Resource extends { id: number; version: number },
  Input,
  Query extends PageRequest,
>(resource: CrudResource<Resource, Input, Query>): HttpFunctionDeclaration[] {
  return [
    httpFunction({
      name: `${resource.name}-collection`,
      route: resource.route,
      methods: ['GET', 'POST'],
      handler: protectedHandler({
        GET: async ({ request, db, principal }) => {
          requireReader(resource, principal);
          const query = parseOrThrow(resource.querySchema, queryObject(request), 'query');
          return listResponse(
            request,
            await resource.list(db, query, { limit: query.limit, cursor: query.cursor }),
          );
        },
        POST: async ({ request, db: pool, principal, services }) => {
          // Before the body: a caller who may not write learns that, not what is wrong with it.
          requireRole(principal, ...resource.writerRoles);
          const input = parseOrThrow(resource.inputSchema, await readJsonBody(request), 'body');
          const created = await resource.create(pool, principal, input, services);
          await resource.cache?.(services).written(created.id, created.version);
          return jsonResponse(created, {
            status: 201,
            version: created.version,
            headers: { location: `/api/${resource.route}/${created.id}` },
          });
        },
      }),
    }),
    httpFunction({
      name: `${resource.name}-item`,
      route: `${resource.route}/{id}`,
      methods: ['GET', 'PUT', 'DELETE'],
      handler: protectedHandler({
        GET: resource.cache ? cachedItemGet(resource, resource.cache) : uncachedItemGet(resource),
        PUT: async ({ request, db: pool, principal, services }) => {
          requireRole(principal, ...resource.writerRoles);
          const id = routeId(request.params);
          const ifMatch = parseIfMatch(request);
          const input = parseOrThrow(resource.inputSchema, await readJsonBody(request), 'body');
          const replaced = await resource.replace(pool, principal, id, input, ifMatch, services);
          await resource.cache?.(services).written(id, replaced.version);
          return jsonResponse(replaced, { version: replaced.version });
        },
        DELETE: async ({ request, db: pool, principal, services }) => {
          const id = routeId(request.params);
          await resource.remove(pool, principal, id, parseIfMatch(request), services);
          await resource.cache?.(services).written(id, 'deleted');
          return noContent();
        },
      }),
    }),
  ];
}
