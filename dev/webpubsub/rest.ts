/**
 * The data-plane REST API of the Web PubSub stand-in: the operations `@azure/web-pubsub`
 * 1.2.0 calls (`/api/hubs/{hub}/...`, api-version 2024-12-01), each answering with the status
 * codes the SDK's operation specs expect (202 for sends, 200 for adds, 204 for removes and
 * closes, 200/404 for HEAD existence checks). Every call but `/api/health` must carry a bearer
 * JWT signed with the access key whose audience is the request URL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError, signClientToken, verifyAccessToken } from './auth.js';
import { FilterSyntaxError, parseFilter, type ConnectionFilter } from './filter.js';
import type { Connection, Hub, Payload } from './hub.js';

/** The service's limit on a message body (1 MB). */
export const maxMessageBytes = 1024 * 1024;

/** What the REST handler needs from the stand-in. */
export interface RestContext {
  key: Uint8Array;
  /** The hub by name, created on first use; undefined when the name is not allowed. */
  hub(name: string): Hub | undefined;
}

/** An error answered as `{ code, message }` with its status, like the service's ErrorDetail. */
class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The service's hub name rule (also enforced client-side by the SDK). */
const hubNamePattern = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;
const apiVersionPattern = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

function checkGroupName(group: string): string {
  if (group.length === 0 || group.length > 1024 || /^\s+$/.test(group)) {
    throw new RestError(400, 'InvalidGroupName', 'Group names have 1 to 1024 characters.');
  }
  return group;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxMessageBytes) {
      throw new RestError(
        413,
        'PayloadTooLarge',
        `Messages are limited to ${maxMessageBytes} bytes.`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Turns a send body into a payload by its content type, as the service does. */
async function readPayload(req: IncomingMessage): Promise<Payload> {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const body = await readBody(req);
  switch (mediaType) {
    case 'application/json':
      try {
        return { dataType: 'json', data: JSON.parse(body.toString('utf8')) as unknown };
      } catch {
        throw new RestError(400, 'InvalidJson', 'The body is not valid JSON.');
      }
    case 'text/plain':
      return { dataType: 'text', data: body.toString('utf8') };
    case 'application/octet-stream':
      return { dataType: 'binary', data: body };
    default:
      throw new RestError(
        415,
        'UnsupportedMediaType',
        'Content-Type must be application/json, text/plain or application/octet-stream.',
      );
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new RestError(400, 'InvalidJson', 'The body is not valid JSON.');
  }
}

/** Reads `{ groups: string[], filter: string }` for `:addToGroups` / `:removeFromGroups`. */
async function readGroupsRequest(
  req: IncomingMessage,
): Promise<{ groups: string[]; filter: ConnectionFilter }> {
  const body = await readJson(req);
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const groups = record.groups;
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === 'string')) {
    throw new RestError(400, 'InvalidRequest', '`groups` must be an array of group names.');
  }
  if (typeof record.filter !== 'string') {
    throw new RestError(400, 'InvalidRequest', '`filter` must be an OData filter string.');
  }
  return { groups: groups.map(checkGroupName), filter: compileFilter(record.filter) };
}

function compileFilter(text: string): ConnectionFilter {
  try {
    return parseFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) {
      throw new RestError(400, 'InvalidFilter', error.message);
    }
    throw error;
  }
}

/** Applies the `excluded` connection ids and the optional OData `filter` of a send or close. */
function select(connections: Iterable<Connection>, query: URLSearchParams): Connection[] {
  const excluded = new Set(query.getAll('excluded'));
  const filterText = query.get('filter');
  const filter = filterText ? compileFilter(filterText) : undefined;
  return [...connections].filter(
    (connection) => !excluded.has(connection.id) && (!filter || filter(connection)),
  );
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Checks the bearer token against the request URL. The audience is compared with the URL the
 * caller used (the Host header; the server only listens on loopback) without the query.
 */
async function authenticate(req: IncomingMessage, url: URL, key: Uint8Array): Promise<void> {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new RestError(401, 'Unauthorized', 'A bearer access token is required.');
  try {
    await verifyAccessToken(match[1], key, url);
  } catch (error) {
    if (error instanceof TokenError) throw new RestError(401, 'Unauthorized', error.message);
    throw error;
  }
}

type Handler = (args: {
  req: IncomingMessage;
  res: ServerResponse;
  hub: Hub;
  params: string[];
  query: URLSearchParams;
  url: URL;
  key: Uint8Array;
}) => Promise<void> | void;

/** Route table: method, path after `/api/hubs/{hub}` (`*` = a parameter), handler. */
const routes: [string, string[], Handler][] = [
  [
    'POST',
    [':send'],
    async ({ req, res, hub, query }) => {
      const payload = await readPayload(req);
      for (const connection of select(hub.connections.values(), query)) {
        connection.deliver({ from: 'server' }, payload);
      }
      send(res, 202);
    },
  ],
  [
    'POST',
    [':closeConnections'],
    ({ res, hub, query }) => {
      const reason = query.get('reason') ?? 'Closed by the server.';
      for (const connection of select(hub.connections.values(), query)) connection.close(reason);
      send(res, 204);
    },
  ],
  [
    'POST',
    [':addToGroups'],
    async ({ req, res, hub }) => {
      const { groups, filter } = await readGroupsRequest(req);
      for (const connection of [...hub.connections.values()].filter(filter)) {
        for (const group of groups) hub.join(connection, group);
      }
      send(res, 200);
    },
  ],
  [
    'POST',
    [':removeFromGroups'],
    async ({ req, res, hub }) => {
      const { groups, filter } = await readGroupsRequest(req);
      for (const connection of [...hub.connections.values()].filter(filter)) {
        for (const group of groups) hub.leave(connection, group);
      }
      send(res, 200);
    },
  ],
  [
    'POST',
    [':generateToken'],
    async ({ res, hub, query, url, key }) => {
      const clientType = query.get('clientType') ?? 'Default';
      if (clientType !== 'Default') {
        throw new RestError(400, 'NotSupported', `Client type ${clientType} is not supported.`);
      }
      const minutes = Number(query.get('minutesToExpire') ?? '60');
      if (!Number.isInteger(minutes) || minutes < 1) {
        throw new RestError(400, 'InvalidRequest', 'minutesToExpire must be a positive integer.');
      }
      const userId = query.get('userId') ?? undefined;
      const token = await signClientToken(key, `${url.origin}/client/hubs/${hub.name}`, {
        ...(userId ? { userId } : {}),
        roles: query.getAll('role'),
        groups: query.getAll('group'),
        minutesToExpire: minutes,
      });
      send(res, 200, { token });
    },
  ],
  [
    'HEAD',
    ['connections', '*'],
    ({ res, hub, params: [id = ''] }) => {
      send(res, hub.connections.has(id) ? 200 : 404);
    },
  ],
  [
    'DELETE',
    ['connections', '*'],
    ({ res, hub, query, params: [id = ''] }) => {
      hub.connections.get(id)?.close(query.get('reason') ?? 'Closed by the server.');
      send(res, 204);
    },
  ],
  [
    'POST',
    ['connections', '*', ':send'],
    async ({ req, res, hub, params: [id = ''] }) => {
      const payload = await readPayload(req);
      hub.connections.get(id)?.deliver({ from: 'server' }, payload);
      send(res, 202);
    },
  ],
  [
    'DELETE',
    ['connections', '*', 'groups'],
    ({ res, hub, params: [id = ''] }) => {
      const connection = hub.connections.get(id);
      if (connection) hub.leaveAll(connection);
      send(res, 204);
    },
  ],
  [
    'HEAD',
    ['groups', '*'],
    ({ res, hub, params: [group = ''] }) => {
      send(res, hub.groups.has(checkGroupName(group)) ? 200 : 404);
    },
  ],
  [
    'POST',
    ['groups', '*', ':send'],
    async ({ req, res, hub, query, params: [group = ''] }) => {
      checkGroupName(group);
      const payload = await readPayload(req);
      for (const connection of select(hub.groupMembers(group), query)) {
        connection.deliver({ from: 'group', group }, payload);
      }
      send(res, 202);
    },
  ],
  [
    'POST',
    ['groups', '*', ':closeConnections'],
    ({ res, hub, query, params: [group = ''] }) => {
      const reason = query.get('reason') ?? 'Closed by the server.';
      for (const connection of select(hub.groupMembers(checkGroupName(group)), query)) {
        connection.close(reason);
      }
      send(res, 204);
    },
  ],
  [
    'GET',
    ['groups', '*', 'connections'],
    ({ res, hub, query, params: [group = ''] }) => {
      const top = Number(query.get('top') ?? Number.POSITIVE_INFINITY);
      const members = hub.groupMembers(checkGroupName(group)).slice(0, top);
      send(res, 200, {
        value: members.map((connection) => ({
          connectionId: connection.id,
          ...(connection.userId === undefined ? {} : { userId: connection.userId }),
        })),
      });
    },
  ],
  [
    'PUT',
    ['groups', '*', 'connections', '*'],
    ({ res, hub, params: [group = '', id = ''] }) => {
      const connection = hub.connections.get(id);
      if (!connection) throw new RestError(404, 'NotFound', `Connection ${id} does not exist.`);
      hub.join(connection, checkGroupName(group));
      send(res, 200);
    },
  ],
  [
    'DELETE',
    ['groups', '*', 'connections', '*'],
    ({ res, hub, params: [group = '', id = ''] }) => {
      const connection = hub.connections.get(id);
      if (connection) hub.leave(connection, checkGroupName(group));
      send(res, 204);
    },
  ],
  ...(['PUT', 'DELETE', 'HEAD'] as const).map((method): [string, string[], Handler] => [
    method,
    ['permissions', '*', 'connections', '*'],
    ({ res, hub, query, params: [permission = '', id = ''] }) => {
      if (permission !== 'sendToGroup' && permission !== 'joinLeaveGroup') {
        throw new RestError(400, 'InvalidPermission', `Unknown permission ${permission}.`);
      }
      const target = query.get('targetName');
      const role = `webpubsub.${permission}${target ? `.${target}` : ''}`;
      const connection = hub.connections.get(id);
      if (method === 'HEAD') {
        send(res, connection?.roles.has(role) ? 200 : 404);
        return;
      }
      if (!connection) throw new RestError(404, 'NotFound', `Connection ${id} does not exist.`);
      if (method === 'PUT') connection.roles.add(role);
      else connection.roles.delete(role);
      send(res, method === 'PUT' ? 200 : 204);
    },
  ]),
  [
    'HEAD',
    ['users', '*'],
    ({ res, hub, params: [userId = ''] }) => {
      send(res, hub.userConnections(userId).length > 0 ? 200 : 404);
    },
  ],
  [
    'POST',
    ['users', '*', ':send'],
    async ({ req, res, hub, query, params: [userId = ''] }) => {
      const payload = await readPayload(req);
      for (const connection of select(hub.userConnections(userId), query)) {
        connection.deliver({ from: 'server' }, payload);
      }
      send(res, 202);
    },
  ],
  [
    'POST',
    ['users', '*', ':closeConnections'],
    ({ res, hub, query, params: [userId = ''] }) => {
      const reason = query.get('reason') ?? 'Closed by the server.';
      for (const connection of select(hub.userConnections(userId), query)) {
        connection.close(reason);
      }
      send(res, 204);
    },
  ],
  [
    'DELETE',
    ['users', '*', 'groups'],
    ({ res, hub, params: [userId = ''] }) => {
      hub.removeUserFromAllGroups(userId);
      send(res, 204);
    },
  ],
  [
    'PUT',
    ['users', '*', 'groups', '*'],
    ({ res, hub, params: [userId = '', group = ''] }) => {
      hub.addUserToGroup(userId, checkGroupName(group));
      send(res, 200);
    },
  ],
  [
    'DELETE',
    ['users', '*', 'groups', '*'],
    ({ res, hub, params: [userId = '', group = ''] }) => {
      hub.removeUserFromGroup(userId, checkGroupName(group));
      send(res, 204);
    },
  ],
];

function match(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (const [index, part] of pattern.entries()) {
    const segment = segments[index] ?? '';
    if (part === '*') params.push(segment);
    else if (part !== segment) return undefined;
  }
  return params;
}

/** Serves one REST request; never throws (errors become `{ code, message }` responses). */
export async function handleRest(
  req: IncomingMessage,
  res: ServerResponse,
  context: RestContext,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    // Split before decoding so an encoded '/' inside a group or user name stays inside it.
    let segments: string[];
    try {
      segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      throw new RestError(400, 'InvalidRequest', 'The path is not valid percent-encoding.');
    }
    if (segments.join('/') === 'api/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200);
      return;
    }
    if (segments[0] !== 'api' || segments[1] !== 'hubs' || segments.length < 4) {
      throw new RestError(404, 'NotFound', 'No such operation.');
    }
    await authenticate(req, url, context.key);
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion || !apiVersionPattern.test(apiVersion)) {
      throw new RestError(400, 'InvalidRequest', 'The api-version query parameter is required.');
    }
    const hubName = segments[2] ?? '';
    if (!hubNamePattern.test(hubName)) {
      throw new RestError(400, 'InvalidHubName', `Invalid hub name ${hubName}.`);
    }
    const hub = context.hub(hubName);
    if (!hub) throw new RestError(404, 'HubNotFound', `Hub ${hubName} is not configured.`);
    const rest = segments.slice(3);
    let pathMatched = false;
    for (const [method, pattern, handler] of routes) {
      const params = match(pattern, rest);
      if (!params) continue;
      pathMatched = true;
      if (method !== req.method) continue;
      await handler({ req, res, hub, params, query: url.searchParams, url, key: context.key });
      return;
    }
    throw pathMatched
      ? new RestError(405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed here.`)
      : new RestError(404, 'NotFound', 'No such operation.');
  } catch (error) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof RestError) {
      if (error.status === 401) res.setHeader('www-authenticate', 'Bearer');
      send(
        res,
        error.status,
        req.method === 'HEAD' ? undefined : { code: error.code, message: error.message },
      );
      return;
    }
    console.error('[webpubsub] unexpected error', error);
    send(res, 500, { code: 'InternalServerError', message: 'Unexpected error.' });
  }
}
