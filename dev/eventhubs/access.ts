/** Claims-based access: which resource a claim covers and whether a connection holds a right. */
import type { Connection, Receiver, Sender } from 'rhea';
import { refuse } from './amqp.js';
import type { AccessRight } from './sas.js';
import { connectionState, type StandInState } from './state.js';

/**
 * The path part of a resource URI or link address, lower-cased, without scheme, host or
 * surrounding slashes: `sb://127.0.0.1:5672/Telemetry/Partitions/0` → `telemetry/partitions/0`.
 * The host is ignored on purpose: clients reach the stand-in under whatever loopback name they
 * like, and the namespace is implicit.
 */
export function resourcePath(uri: string): string {
  let path = uri.trim();
  const scheme = path.indexOf('://');
  if (scheme >= 0) {
    path = path.slice(scheme + 3);
    const slash = path.indexOf('/');
    path = slash >= 0 ? path.slice(slash + 1) : '';
  }
  return path.replace(/^\/+|\/+$/g, '').toLowerCase();
}

/** Whether a claim (or token) for `scope` covers `path`: the same resource or one below it. */
export function covers(scope: string, path: string): boolean {
  return scope === '' || path === scope || path.startsWith(`${scope}/`);
}

/** Whether the connection holds an unexpired claim with `right` covering `path`. */
export function authorised(
  state: StandInState,
  connection: Connection,
  path: string,
  right: AccessRight,
): boolean {
  const now = Date.now();
  return connectionState(state, connection).claims.some(
    (c) => c.expiresAt > now && c.rights.has(right) && covers(c.path, path),
  );
}

/**
 * Refuses `link` with the service's wording unless the connection holds `right` for `path`;
 * returns whether the link may go on.
 */
export function requireRight(
  state: StandInState,
  link: Sender | Receiver,
  connection: Connection,
  path: string,
  right: AccessRight,
): boolean {
  if (authorised(state, connection, path, right)) return true;
  refuse(
    link,
    'amqp:unauthorized-access',
    `Unauthorized access. '${right}' claim(s) are required to perform this operation. Resource: '${path}'.`,
  );
  return false;
}
