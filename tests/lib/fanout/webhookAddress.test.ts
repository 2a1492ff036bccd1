/**
 * The webhook SSRF rules over addresses and DNS answers: only public unicast addresses, in
 * every spelling (IPv4-mapped IPv6 included), never the platform's endpoints; a name is
 * judged by every address it resolves to. Loopback and plain http only with the local policy.
 */
import { describe, expect, it } from 'vitest';
import {
  addressRefusal,
  checkTarget,
  urlRefusal,
  WebhookAddressError,
  type HostResolver,
} from '../../../lib/fanout/webhookAddress.js';

const azure = { allowLoopback: false };
const local = { allowLoopback: true };

describe('addressRefusal', () => {
  it.each([
    '8.8.8.8',
    '20.50.2.1',
    '2001:4860:4860::8888',
    '2a01:111:f400::1',
    // A public IPv4 address in its IPv4-mapped IPv6 spelling is that public address.
    '::ffff:8.8.8.8',
  ])('allows the public address %s', (address) => {
    expect(addressRefusal(address, azure)).toBeUndefined();
  });

  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['169.254.0.1', 'linkLocal'],
    ['169.254.169.254', 'platform endpoint'],
    ['169.254.169.253', 'platform endpoint'],
    ['168.63.129.16', 'platform endpoint'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    // IPv4-mapped IPv6: judged as the IPv4 address it carries.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'platform endpoint'],
    ['::ffff:a9fe:a9fe', 'platform endpoint'],
    ['0:0:0:0:0:ffff:6440:1', 'carrierGradeNat'],
    // IPv6 ranges that embed an IPv4 address a gateway may translate.
    ['64:ff9b::a9fe:a9fe', 'rfc6052'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ])('refuses %s (%s)', (address, why) => {
    const refusal = addressRefusal(address, azure);
    expect(refusal).toContain(why);
  });

  it('allows loopback, and only loopback, with the local policy', () => {
    expect(addressRefusal('127.0.0.1', local)).toBeUndefined();
    expect(addressRefusal('::1', local)).toBeUndefined();
    expect(addressRefusal('::ffff:127.0.0.1', local)).toBeUndefined();
    for (const address of ['10.0.0.1', '169.254.169.254', '::ffff:169.254.169.254', 'fe80::1'])
      expect(addressRefusal(address, local)).toBeDefined();
  });

  it('refuses what is not an address', () => {
    expect(addressRefusal('example.com', azure)).toContain('not an IP address');
    expect(addressRefusal('1.2.3', azure)).toBeDefined();
  });
});

describe('urlRefusal', () => {
  it.each([
    ['http://203.0.113.7/hook', 'https'],
    ['ftp://example.com/hook', 'https'],
    ['https://user:pw@example.com/hook', 'Credentials'],
    ['https://example.com/hook#frag', 'fragment'],
    ['https://10.0.0.1/hook', 'private'],
    ['https://[::ffff:169.254.169.254]/latest', 'platform endpoint'],
    ['https://[fe80::1]/hook', 'linkLocal'],
    ['https://127.0.0.1:8443/hook', 'loopback'],
    // Other spellings of an IPv4 host: the URL parser normalises them to the address.
    ['https://0x7f000001/hook', 'loopback'],
    ['https://2852039166/latest', 'platform endpoint'],
    ['https://0251.0376.0251.0376/latest', 'platform endpoint'],
  ])('refuses %s in Azure', (url, why) => {
    expect(urlRefusal(new URL(url), azure)).toContain(why);
  });

  it('allows https to a name or a public address in Azure, and loopback http locally', () => {
    expect(urlRefusal(new URL('https://hooks.example.com/sis?token=a'), azure)).toBeUndefined();
    expect(urlRefusal(new URL('https://8.8.8.8/hook'), azure)).toBeUndefined();
    expect(urlRefusal(new URL('http://127.0.0.1:9000/hook'), local)).toBeUndefined();
    expect(urlRefusal(new URL('http://[::1]:9000/hook'), local)).toBeUndefined();
    expect(urlRefusal(new URL('http://10.0.0.1/hook'), local)).toContain('private');
  });
});

describe('checkTarget', () => {
  const answering =
    (answers: Record<string, readonly string[]>): HostResolver =>
    (hostname) => {
      const found = answers[hostname];
      return found ? Promise.resolve(found) : Promise.reject(new Error('ENOTFOUND'));
    };

  it('connects to the address the name resolved to, once every answer is public', async () => {
    const target = await checkTarget(
      new URL('https://hooks.example.com/sis'),
      azure,
      answering({ 'hooks.example.com': ['20.50.2.1', '2001:4860:4860::8888'] }),
    );
    expect(target).toMatchObject({ address: '20.50.2.1', family: 4 });
  });

  it.each([
    [['10.0.0.5']],
    [['169.254.169.254']],
    [['::ffff:192.168.0.1']],
    [['127.0.0.1']],
    [['100.100.100.200']],
    // A public answer beside a private one: the connection could go to either.
    [['20.50.2.1', '10.0.0.5']],
    [['fd00::1', '2001:4860:4860::8888']],
  ])('refuses a name resolving to %j', async (addresses) => {
    const resolver = answering({ 'rebind.example.com': addresses });
    await expect(
      checkTarget(new URL('https://rebind.example.com/hook'), azure, resolver),
    ).rejects.toThrow(WebhookAddressError);
    await expect(
      checkTarget(new URL('https://rebind.example.com/hook'), azure, resolver),
    ).rejects.toThrow(/rebind\.example\.com resolves to/);
  });

  it('refuses a name that does not resolve, or resolves to nothing', async () => {
    await expect(
      checkTarget(new URL('https://missing.example.com/'), azure, answering({})),
    ).rejects.toThrow(/does not resolve/);
    await expect(
      checkTarget(
        new URL('https://empty.example.com/'),
        azure,
        answering({ 'empty.example.com': [] }),
      ),
    ).rejects.toThrow(/does not resolve/);
  });

  it('judges a name by what the system resolver answers (localhost is loopback)', async () => {
    await expect(checkTarget(new URL('https://localhost/hook'), azure)).rejects.toThrow(
      /localhost resolves to .*loopback/,
    );
    const target = await checkTarget(new URL('http://localhost:9/hook'), local);
    expect(['127.0.0.1', '::1']).toContain(target.address);
  });
});
