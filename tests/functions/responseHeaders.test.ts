/**
 * Headers every API response carries, swept over every declared route and method the way the
 * 401 sweep in auth.test.ts walks them: anonymous (401s, the public routes), and as Admin
 * with ids that do not exist and bodies that are not valid (404s, 400s), so success and
 * error responses of every function are covered.
 */
import { describe, expect, it } from 'vitest';
import { functionDeclarations } from '../../functions/registry.js';
import { httpDeclarations } from '../../lib/host/declarations.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';

useTestDatabase();
useAppCosmos();
const issuer = useTestIssuer();

describe('headers on every response', () => {
  it('sends X-Content-Type-Options: nosniff from every route and method, signed in or not', async () => {
    const admin = await issuer.token(['Admin']);
    const statuses = new Set<number>();
    let checked = 0;
    for (const declaration of httpDeclarations(functionDeclarations)) {
      const path = `/api/${declaration.route.replace(/\{\*\w+\}/g, 'index.html').replace(/\{\w+\}/g, '999999')}`;
      for (const method of declaration.methods) {
        for (const token of [undefined, admin]) {
          const result = await call(method, path, {
            ...(token ? { token } : {}),
            ...(method === 'POST' || method === 'PUT' || method === 'PATCH'
              ? { json: { bogus: true } }
              : {}),
          });
          const label = `${method} ${path} ${token ? 'as Admin' : 'anonymous'}: ${result.status}`;
          expect(result.headers.get('x-content-type-options'), label).toBe('nosniff');
          statuses.add(result.status);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(30);
    // Successes and several kinds of refusal were among them.
    expect([...statuses].some((s) => s < 300)).toBe(true);
    expect([...statuses].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(3);
  });
});
