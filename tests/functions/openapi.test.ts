/**
 * /api/openapi.json: served anonymously, OpenAPI 3.1, and in step with the declared
 * functions: every declared route and method is described (and nothing else), protected
 * operations require the bearer scheme, bodies point at schemas generated from the zod
 * schemas the handlers validate with.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { functionDeclarations } from '../../functions/registry.js';
import {
  commonServiceTypes,
  equipmentStatuses,
  knownServiceStatuses,
} from '../../lib/api/schemas.js';
import { httpDeclarations } from '../../lib/host/declarations.js';
import { call, type ApiResult } from '../helpers/api.js';

interface Operation {
  security?: unknown;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: unknown }> }
  >;
}

let served: ApiResult;

/** The served document; fails with the server's answer when it is not a 200. */
function spec(): any {
  expect(
    served.status,
    `GET /api/openapi.json answered ${served.status}: ${served.text.slice(0, 300)}`,
  ).toBe(200);
  return served.body;
}

function operation(path: string, method: string): Operation {
  const op = spec().paths?.[path]?.[method] as Operation | undefined;
  expect(op, `${method.toUpperCase()} ${path} is not in the document`).toBeDefined();
  return op!;
}

/** Resolves a local `$ref` (`#/components/...`) in the document. */
function resolve(ref: string): unknown {
  expect(ref.startsWith('#/')).toBe(true);
  let node: any = spec();
  for (const token of ref.slice(2).split('/')) {
    node = node?.[token.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

const anonymous = new Set(['health', 'openapi']);
/**
 * Functions that are not the JSON API the document describes: pages and files, and the Web
 * PubSub event handler, which only the service calls (its contract is the service's).
 */
const notApi = new Set(['dashboard', 'webpubsub-events']);
const declared = httpDeclarations(functionDeclarations)
  .filter((declaration) => !notApi.has(declaration.name))
  .flatMap((declaration) =>
    declaration.methods.map((method) => ({
      name: declaration.name,
      path: `/${declaration.route}`,
      method: method.toLowerCase(),
    })),
  );
const protectedOps = declared.filter((d) => !anonymous.has(d.name));
const httpMethods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function documented(): { path: string; method: string; op: Operation }[] {
  const paths = spec().paths as Record<string, Record<string, Operation>>;
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => httpMethods.includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
}

beforeAll(async () => {
  served = await call('GET', '/api/openapi.json');
});

describe('OpenAPI document', () => {
  it('is served anonymously as OpenAPI 3.1 JSON', () => {
    expect(served.status, served.text.slice(0, 300)).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = spec();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.servers).toEqual([{ url: '/api' }]);
  });

  it('is served the same way with any credentials, or none', async () => {
    const again = await call('GET', '/api/openapi.json', {
      headers: { authorization: 'Bearer not-a-token' },
    });
    expect(again.status).toBe(200);
    expect(again.text).toBe(served.text);
  });

  it('covers at least the routes the product requires', () => {
    expect(declared.length).toBeGreaterThanOrEqual(14);
    expect(declared.map((d) => `${d.method} ${d.path}`)).toEqual(
      expect.arrayContaining([
        'get /health',
        'get /openapi.json',
        'post /service-records',
        'put /service-records/{id}',
        'put /equipment/{id}/technicians/{technicianId}',
      ]),
    );
  });

  it.each(declared)('describes $method $path with its responses', ({ path, method }) => {
    const op = operation(path, method);
    const responses = Object.entries(op.responses ?? {});
    expect(responses.length).toBeGreaterThan(0);
    expect(responses.some(([status]) => /^2\d\d$/.test(status))).toBe(true);
    for (const [status, response] of responses) {
      expect(status).toMatch(/^[1-5]\d\d$/);
      expect(response.description, `${status} has a description`).toEqual(expect.any(String));
    }
  });

  it('describes nothing that is not declared', () => {
    const declaredKeys = new Set(declared.map((d) => `${d.method} ${d.path}`));
    const extra = documented()
      .map(({ path, method }) => `${method} ${path}`)
      .filter((key) => !declaredKeys.has(key));
    expect(extra).toEqual([]);
  });

  it.each(protectedOps)('requires the bearer scheme for $method $path', ({ path, method }) => {
    const op = operation(path, method);
    expect(op.security).toEqual([{ bearer: [] }]);
    for (const status of ['401', '403']) {
      const response = op.responses?.[status];
      expect(response, `${status} documented`).toBeDefined();
      const schema = response?.content?.['application/problem+json']?.schema as
        { $ref?: string } | undefined;
      expect(schema?.$ref).toBe('#/components/schemas/Problem');
    }
  });

  it('defines the bearer scheme as an HTTP bearer JWT, required by default', () => {
    const doc = spec();
    expect(doc.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('leaves only health and the document itself without security', () => {
    const open = documented()
      .filter(({ op }) => Array.isArray(op.security) && op.security.length === 0)
      .map(({ path, method }) => `${method} ${path}`)
      .sort();
    expect(open).toEqual(['get /health', 'get /openapi.json']);
    const unspecified = documented().filter(({ op }) => op.security === undefined);
    // Operations without their own `security` inherit the document's bearer requirement.
    for (const { path, method } of unspecified) {
      expect(['get /health', 'get /openapi.json']).not.toContain(`${method} ${path}`);
    }
  });

  it('documents a required JSON body, referencing a component schema, for every create and replace', () => {
    const writes = declared.filter(
      (d) =>
        (d.name.endsWith('-collection') && d.method === 'post') ||
        (d.name.endsWith('-item') && d.method === 'put'),
    );
    expect(writes.length).toBe(9);
    for (const { path, method } of writes) {
      const body = operation(path, method).requestBody;
      expect(body?.required, `${method} ${path}`).toBe(true);
      const schema = body?.content?.['application/json']?.schema as { $ref?: string } | undefined;
      expect(schema?.$ref, `${method} ${path}`).toMatch(/^#\/components\/schemas\/\w+Input$/);
      expect(resolve(schema!.$ref!)).toMatchObject({ type: 'object' });
    }
  });

  it('references a schema from every request body it documents', () => {
    for (const { path, method, op } of documented()) {
      if (!op.requestBody) continue;
      const content = Object.values(op.requestBody.content ?? {});
      expect(content.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const media of content) {
        const ref = (media.schema as { $ref?: string } | undefined)?.$ref;
        expect(ref, `${method} ${path}`).toEqual(expect.any(String));
        expect(resolve(ref!), ref).toBeDefined();
      }
    }
  });

  it('declares every path template parameter as a required path parameter', () => {
    for (const { path, method, op } of documented()) {
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        const parameter = op.parameters?.find((p) => p.in === 'path' && p.name === name);
        expect(parameter, `${method} ${path} {${name ?? ''}}`).toBeDefined();
        expect(parameter?.required).toBe(true);
      }
    }
  });

  it('resolves every $ref in the document', () => {
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
      }
    };
    walk(spec());
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(resolve(ref), ref).toBeDefined();
  });

  it('generates the service record input from the zod schema', () => {
    const input = resolve('#/components/schemas/ServiceRecordInput') as any;
    expect(input.additionalProperties).toBe(false);
    expect([...(input.required as string[])].sort()).toEqual(
      ['description', 'equipmentId', 'serviceDate', 'serviceType'].sort(),
    );
    // The seed's free text: suggestions, not a closed list.
    expect(input.properties.serviceType).toMatchObject({ type: 'string', maxLength: 50 });
    expect(input.properties.serviceType.enum).toBeUndefined();
    expect(input.properties.serviceType.examples).toEqual(
      expect.arrayContaining([...commonServiceTypes]),
    );
    expect(input.properties.status).toMatchObject({ type: 'string', maxLength: 20 });
    expect(input.properties.status.enum).toBeUndefined();
    expect(input.properties.status.examples).toEqual([...knownServiceStatuses]);
    expect(input.properties.description.maxLength).toBe(4000);
    // A date as in the seed, or a date-time taken as its UTC date.
    expect(
      (input.properties.serviceDate.anyOf as { format?: string }[]).map((s) => s.format),
    ).toEqual(['date', 'date-time']);
    expect(input.properties.laborHours).toBeDefined();
    expect(input.properties.cost.description).toMatch(/USD/);
  });

  it("offers the seed's equipment statuses, one spelling each, and an optional serial number", () => {
    const input = resolve('#/components/schemas/EquipmentInput') as any;
    const equipment = resolve('#/components/schemas/Equipment') as any;
    expect(input.properties.status.enum).toEqual([...equipmentStatuses]);
    expect(input.properties.status.default).toBe('Operational');
    expect(equipment.properties.status.enum).toEqual([...equipmentStatuses]);
    expect(input.required).not.toContain('serialNumber');
    const list = operation('/equipment', 'get');
    const status = (list.parameters ?? []).find((p) => p.name === 'status') as any;
    expect(status.schema.enum).toEqual([...equipmentStatuses]);
  });

  it('documents the service record filters, paging and preconditions', () => {
    const list = operation('/service-records', 'get');
    const query = (list.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query.sort()).toEqual(
      ['cursor', 'equipmentId', 'from', 'limit', 'status', 'technicianId', 'to'].sort(),
    );
    for (const method of ['put', 'delete']) {
      const op = operation('/service-records/{id}', method);
      expect(
        op.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'if-match'),
      ).toBe(true);
      expect(op.responses?.['412']).toBeDefined();
    }
    const created = operation('/service-records', 'post').responses?.['201'];
    expect((created?.content?.['application/json']?.schema as { $ref?: string }).$ref).toBe(
      '#/components/schemas/ServiceRecord',
    );
  });

  it('documents health with its 200 and 503 answers', () => {
    const health = operation('/health', 'get');
    expect(Object.keys(health.responses ?? {}).sort()).toEqual(['200', '503']);
  });
});

describe('conditional reads in the document', () => {
  it.each([
    ['/equipment', 'get'],
    ['/equipment/{id}', 'get'],
    ['/technicians', 'get'],
    ['/technicians/{id}', 'get'],
    ['/service-records', 'get'],
    ['/service-records/{id}', 'get'],
    ['/equipment/{id}/technicians', 'get'],
    ['/alerts', 'get'],
    ['/alerts/{id}', 'get'],
  ])('%s %s takes If-None-Match and describes its 304 with the ETag', (path, method) => {
    const op = operation(path, method);
    expect(op.parameters).toContainEqual(
      expect.objectContaining({ name: 'if-none-match', in: 'header' }),
    );
    const notModified = op.responses?.['304'] as { headers?: Record<string, unknown> };
    expect(notModified).toBeDefined();
    expect(Object.keys(notModified.headers ?? {})).toContain('ETag');
    expect(notModified).not.toHaveProperty('content');
    const found = op.responses?.['200'] as { headers?: Record<string, unknown> };
    expect(Object.keys(found.headers ?? {})).toContain('ETag');
  });
});
