/**
 * Whether a host is this machine: the only place plain http, test keys or a stand-in that
 * authenticates nothing may go. One rule for the app's clients (lib/fanout, lib/cosmos) and
 * the local stand-ins (dev/).
 */
import { BlockList, isIP } from 'node:net';

/** 127.0.0.0/8 and ::1; a BlockList also matches their other spellings (IPv4-mapped, long). */
const loopbackAddresses = new BlockList();
loopbackAddresses.addSubnet('127.0.0.0', 8, 'ipv4');
loopbackAddresses.addAddress('::1', 'ipv6');

/**
 * True for `localhost` (any case) and for a loopback address in any spelling: 127.0.0.0/8,
 * `::1`, `0:0:0:0:0:0:0:1`, `::ffff:127.0.0.1`, with or without the brackets of a URL's host.
 * False for everything else, `0.0.0.0` and `::` (every interface) included.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  return loopbackAddresses.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
