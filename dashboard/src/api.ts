/**
 * The API as the page calls it: same origin, with the pasted development token as a bearer
 * token when there is one; without it the request carries only what the platform adds
 * (App Service authentication's session cookie in Azure).
 */
import {
  fleetFromAnswer,
  isAlert,
  isAlertComment,
  isMe,
  statusFromTelemetry,
  type Alert,
  type AlertComment,
  type EquipmentStatus,
  type FleetMachine,
  type Me,
  type ResolutionWork,
  type SilenceRequest,
} from './model.js';

const tokenKey = 'sis.dashboard.token';

export function storedToken(): string {
  return sessionStorage.getItem(tokenKey) ?? '';
}

export function storeToken(token: string): void {
  if (token) sessionStorage.setItem(tokenKey, token);
  else sessionStorage.removeItem(tokenKey);
}

/** A failed call, with the problem document's title and detail when the server sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly etag: string | null;

  constructor(status: number, message: string, etag: string | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.etag = etag;
  }
}

/** The API root, derived from where the page is served (…/api/dashboard/ → …/api/). */
export function apiBase(location: Location = window.location): string {
  return new URL('../', location.href).href;
}

async function request(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const token = storedToken();
  if (token) headers['authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(new URL(path, apiBase()), {
    method,
    headers,
    body: body ?? null,
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!response.ok) {
    let message = `${method} ${path}: ${response.status} ${response.statusText}`;
    try {
      const problem = (await response.json()) as { title?: unknown; detail?: unknown };
      if (typeof problem.detail === 'string') message = problem.detail;
      else if (typeof problem.title === 'string') message = problem.title;
    } catch {
      // Not a problem document: the status line says enough.
    }
    throw new ApiError(response.status, message, response.headers.get('etag'));
  }
  return response;
}

export async function getMe(): Promise<Me> {
  const body: unknown = await (await request('GET', 'me')).json();
  if (!isMe(body))
    throw new ApiError(500, 'The server answered /api/me with an unexpected shape.', null);
  return body;
}

/** `POST /api/negotiate`: the Web PubSub client URL for this user. */
export async function negotiate(): Promise<string> {
  const body = (await (await request('POST', 'negotiate')).json()) as { url?: unknown };
  if (typeof body.url !== 'string') throw new ApiError(500, 'Negotiation returned no URL.', null);
  return body.url;
}

function alertWithEtag(body: unknown, etag: string | null): Alert | undefined {
  if (!isAlert(body)) return undefined;
  return etag ? { ...body, etag } : body;
}

/** The newest alerts, optionally of one piece of equipment. */
export async function listAlerts(equipmentId?: string, limit = 100): Promise<Alert[]> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (equipmentId !== undefined) query.set('equipmentId', equipmentId);
  const body = (await (await request('GET', `alerts?${query.toString()}`)).json()) as {
    items?: unknown;
  };
  return Array.isArray(body.items) ? body.items.filter(isAlert) : [];
}

export async function getAlert(id: string): Promise<Alert> {
  const response = await request('GET', `alerts/${encodeURIComponent(id)}`);
  const alert = alertWithEtag(await response.json(), response.headers.get('etag'));
  if (!alert) throw new ApiError(500, 'The server sent an alert of an unexpected shape.', null);
  return alert;
}

/** What goes with a status change: an acknowledgement's note, or a resolution's work. */
export interface StatusDetails {
  note?: string;
  serviceRecord?: ResolutionWork;
}

/**
 * `PATCH /api/alerts/{id}` with `If-Match`: 412 when the alert changed since `etag`. With
 * `serviceRecord` (resolving only) the API writes the completed service record and links it
 * to the alert as `serviceRecordId` in the same request (lib/api/alerts.ts).
 */
export async function changeAlertStatus(
  id: string,
  status: 'acknowledged' | 'resolved',
  etag: string,
  details: StatusDetails = {},
): Promise<Alert> {
  return patchAlert(id, { status, ...details }, etag);
}

/** `POST /api/silences`: 403 (its problem detail as the message) outside the user's rights. */
export async function createSilence(silence: SilenceRequest): Promise<{ id: number }> {
  const body = (await (await request('POST', 'silences', { body: silence })).json()) as {
    id?: unknown;
  };
  if (typeof body.id !== 'number')
    throw new ApiError(500, 'The server sent a silence of an unexpected shape.', null);
  return { id: body.id };
}

/** `PATCH /api/alerts/{id}` `{ assignee }` (admins): a technician's id, or null to unassign. */
export function assignAlert(id: string, assignee: number | null, etag: string): Promise<Alert> {
  return patchAlert(id, { assignee }, etag);
}

async function patchAlert(id: string, body: object, etag: string): Promise<Alert> {
  const response = await request('PATCH', `alerts/${encodeURIComponent(id)}`, {
    body,
    headers: { 'if-match': etag },
  });
  const alert = alertWithEtag(await response.json(), response.headers.get('etag'));
  if (!alert) throw new ApiError(500, 'The server sent an alert of an unexpected shape.', null);
  return alert;
}

export async function getStatus(equipmentId: string): Promise<EquipmentStatus> {
  const response = await request('GET', `equipment/${encodeURIComponent(equipmentId)}/telemetry`);
  return statusFromTelemetry(equipmentId, await response.json());
}

/**
 * Every machine the user may see (the server scopes a technician to their assigned ones), in
 * one call: `GET /api/fleet` answers 10,000 machines in well under a megabyte.
 */
export async function listFleet(): Promise<FleetMachine[]> {
  const fleet = fleetFromAnswer(await (await request('GET', 'fleet')).json());
  if (!fleet) throw new ApiError(500, 'The server sent a fleet of an unexpected shape.', null);
  return fleet;
}

/** `GET /api/alerts/{id}/comments`, oldest first. */
export async function listComments(alertId: string): Promise<AlertComment[]> {
  const body = (await (
    await request('GET', `alerts/${encodeURIComponent(alertId)}/comments`)
  ).json()) as { items?: unknown };
  return Array.isArray(body.items) ? body.items.filter(isAlertComment) : [];
}

export async function addComment(alertId: string, text: string): Promise<void> {
  await request('POST', `alerts/${encodeURIComponent(alertId)}/comments`, { body: { text } });
}

/** Active technicians, for the admin's assign list (the first 200 by id). */
export async function listTechnicians(): Promise<{ id: number; name: string }[]> {
  const body = (await (await request('GET', 'technicians?limit=200')).json()) as {
    items?: unknown;
  };
  if (!Array.isArray(body.items)) return [];
  return body.items.flatMap((item: unknown) => {
    const t = item as { id?: unknown; name?: unknown; isActive?: unknown };
    return typeof t.id === 'number' && typeof t.name === 'string' && t.isActive === true
      ? [{ id: t.id, name: t.name }]
      : [];
  });
}
