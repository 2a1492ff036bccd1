/**
 * The equipment page's reads, on the same terms as the rest of the dashboard: same origin,
 * the API root derived from where the page is served (…/api/dashboard/ → …/api/), and the
 * pasted development token from session storage under the key the dashboard's sign-in
 * writes (dashboard/src/api.ts); without one the platform's session cookie is all there is.
 */
const tokenKey = 'sis.dashboard.token';

/** A failed read: the problem document's detail or title when the server sent one. */
export class EquipmentReadError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'EquipmentReadError';
    this.status = status;
  }
}

/** `GET /api/{path}` as JSON; `undefined` for a 404 when `missingIsEmpty` (no overrides). */
export async function readJson(path: string, signal: AbortSignal): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(new URL(path, new URL('../', window.location.href)), {
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (!response.ok) {
    let message = `GET ${path}: ${response.status} ${response.statusText}`;
    try {
      const problem = (await response.json()) as { title?: unknown; detail?: unknown };
      if (typeof problem.detail === 'string') message = problem.detail;
      else if (typeof problem.title === 'string') message = problem.title;
    } catch {
      // Not a problem document: the status line says enough.
    }
    throw new EquipmentReadError(response.status, message);
  }
  return response.json();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `items` of a page answer, each kept only when `guard` accepts it. */
export function pageItems<T>(body: unknown, guard: (item: unknown) => item is T): T[] {
  if (!isRecord(body) || !Array.isArray(body['items'])) return [];
  return body['items'].filter(guard);
}
