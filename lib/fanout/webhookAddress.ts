/**
 * Where a webhook may be delivered: the server-side request forgery rules. A webhook URL is
 * chosen by whoever registers it, so without these rules the app would send requests on
 * their behalf to its own network: the platform's identity endpoint (169.254.169.254, which
 * hands out the app's managed identity tokens), private services, loopback.
 *
 * The rules run on the RESOLVED addresses at every delivery, not only on the URL at
 * registration, and the connection is then made to the address that was checked (never
 * resolved again), so a name that resolves to a public address at registration and to a
 * private one later (DNS rebinding) is refused, and cannot be swapped between the check and
 * the connection.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface WebhookAddressPolicy {
  /**
   * Local stack and tests only (WEBHOOK_ALLOW_LOOPBACK_HTTP): loopback addresses and plain
   * `http` are allowed, so a receiver on this machine can get deliveries. Everything else
   * stays refused.
   */
  allowLoopback: boolean;
}

/**
 * Platform endpoints refused by name, whatever their range: the instance metadata and
 * identity endpoint of Azure (and the other clouds), the second link-local platform address,
 * and Azure's virtual wire server (168.63.129.16, a public-range address that answers only
 * inside Azure). Their IPv6 forms are link-local or unique-local and refused by range.
 */
const platformEndpoints = new Set(['169.254.169.254', '169.254.169.253', '168.63.129.16']);

/**
 * The only ranges a delivery may go to (ipaddr.js range names): public unicast. Every other
 * range is refused: private, loopback, link-local, carrier-grade NAT (100.64/10),
 * multicast, broadcast, unspecified, reserved and documentation ranges, unique-local IPv6,
 * and the IPv6 ranges that embed an IPv4 address the network may translate (6to4, Teredo,
 * NAT64 64:ff9b::/96), which could reach a private IPv4 address in disguise.
 */
const publicRanges = new Set(['unicast']);

/** Why `address` may not receive a delivery, or undefined when it may. */
export function addressRefusal(address: string, policy: WebhookAddressPolicy): string | undefined {
  // node:net's test, not ipaddr.js's: that one also takes classful shorthands (`1.2.3`).
  if (isIP(address) === 0) return `${address} is not an IP address`;
  let parsed = ipaddr.parse(address);
  // ::ffff:a.b.c.d reaches a.b.c.d: judge the IPv4 address it carries.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const normalised = parsed.toString();
  if (platformEndpoints.has(normalised)) return `${normalised} is a platform endpoint`;
  const range = parsed.range();
  if (range === 'loopback' && policy.allowLoopback) return undefined;
  if (!publicRanges.has(range)) return `${normalised} is not a public address (${range})`;
  return undefined;
}

/** Why `url` may not be a webhook's URL by its form alone, or undefined when it may. */
export function urlRefusal(url: URL, policy: WebhookAddressPolicy): string | undefined {
  const protocols = policy.allowLoopback ? ['https:', 'http:'] : ['https:'];
  if (!protocols.includes(url.protocol)) return `Expected a URL with ${protocols.join(' or ')}`;
  if (url.username || url.password) return 'Credentials in the URL are not allowed';
  if (url.hash) return 'A fragment is not allowed';
  const host = hostOf(url);
  if (isIP(host)) return addressRefusal(host, policy);
  return undefined;
}

/** The URL's host without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Every address a host name resolves to (what the system resolver answers). */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, order: 'verbatim' })).map((answer) => answer.address);

/** A URL checked for delivery: the address to connect to, and the name to present (TLS, Host). */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/** Thrown when a URL may not be delivered to; its message says why (never secret). */
export class WebhookAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookAddressError';
  }
}

/**
 * Resolves `url`'s host and checks it: refused when the URL's form is, when the name does
 * not resolve, or when ANY of its addresses is refused (an answer mixing a public and a
 * private address is how rebinding attacks hedge). Answers the first address, to connect to.
 */
export async function checkTarget(
  url: URL,
  policy: WebhookAddressPolicy,
  resolve: HostResolver = systemResolver,
): Promise<CheckedTarget> {
  const refusal = urlRefusal(url, policy);
  if (refusal) throw new WebhookAddressError(refusal);
  const host = hostOf(url);
  let addresses: readonly string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw new WebhookAddressError(`${host} does not resolve: ${(error as Error).message}`);
    }
  }
  if (addresses.length === 0) throw new WebhookAddressError(`${host} does not resolve`);
  for (const address of addresses) {
    const refused = addressRefusal(address, policy);
    if (refused) throw new WebhookAddressError(`${host} resolves to a refused address: ${refused}`);
  }
  const address = addresses[0] as string;
  return { url, address, family: isIP(address) === 6 ? 6 : 4 };
}
