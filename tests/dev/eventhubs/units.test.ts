/**
 * The stand-in's pure parts: SAS tokens, the key → partition hash (against the SDK's own),
 * start-position filters and the partition log's retention.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { startPositionFromFilter } from '../../../dev/eventhubs/filter.js';
import { PartitionLog } from '../../../dev/eventhubs/partition.js';
import { partitionIndexForKey } from '../../../dev/eventhubs/partitionKey.js';
import { createSasToken, parseSasToken, verifySasToken } from '../../../dev/eventhubs/sas.js';

const require = createRequire(import.meta.url);
const sdkMapper = require(
  join(dirname(require.resolve('@azure/event-hubs')), 'impl/partitionKeyToIdMapper.js'),
) as { mapPartitionKeyToId(key: string, count: number): number };

describe('SAS tokens', () => {
  const keys = [{ name: 'app', key: 'secret', rights: ['Send'] as const }];
  const now = 1_700_000_000_000;

  it('verifies what it signs, byte for byte the SDK format', () => {
    const token = createSasToken({
      resource: 'sb://h:1/telemetry',
      keyName: 'app',
      key: 'secret',
      expiry: 1_700_000_600,
    });
    expect(token).toMatch(
      /^SharedAccessSignature sr=sb%3A%2F%2Fh%3A1%2Ftelemetry&sig=[^&]+&se=1700000600&skn=app$/,
    );
    const { fields, key } = verifySasToken(token, keys, now);
    expect(fields.resource).toBe('sb://h:1/telemetry');
    expect(key.name).toBe('app');
  });

  it('refuses a wrong key, an unknown key name, an expired or malformed token', () => {
    const sign = (key: string, keyName = 'app', expiry = 1_700_000_600) =>
      createSasToken({ resource: 'sb://h/x', keyName, key, expiry });
    expect(() => verifySasToken(sign('wrong'), keys, now)).toThrow(/InvalidSignature/);
    expect(() => verifySasToken(sign('secret', 'other'), keys, now)).toThrow(/InvalidSignature/);
    expect(() => verifySasToken(sign('secret', 'app', 1_699_999_000), keys, now)).toThrow(
      /ExpiredToken/,
    );
    expect(() => parseSasToken('Bearer abc')).toThrow(/InvalidToken/);
    expect(() => parseSasToken('SharedAccessSignature sr=a&sig=b')).toThrow(/InvalidToken/);
  });
});

describe('partition key hash', () => {
  it('agrees with the SDK mapping for any key and partition count', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.integer({ min: 1, max: 32 }),
        (key, count) => {
          expect(partitionIndexForKey(key, count)).toBe(sdkMapper.mapPartitionKeyToId(key, count));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('start-position filters', () => {
  const filter = (text: string) => ({
    'apache.org:selector-filter:string': rhea.types.wrap_described(text, 0x468c00000004),
  });

  it('reads every form the SDK sends', () => {
    expect(startPositionFromFilter(filter("amqp.annotation.x-opt-offset > '-1'"))).toEqual({
      kind: 'offset',
      offset: '-1',
      inclusive: false,
    });
    expect(startPositionFromFilter(filter("amqp.annotation.x-opt-offset > '@latest'"))).toEqual({
      kind: 'offset',
      offset: '@latest',
      inclusive: false,
    });
    expect(startPositionFromFilter(filter("amqp.annotation.x-opt-offset >= '120'"))).toEqual({
      kind: 'offset',
      offset: '120',
      inclusive: true,
    });
    expect(startPositionFromFilter(filter("amqp.annotation.x-opt-sequence-number > '7'"))).toEqual({
      kind: 'sequenceNumber',
      sequenceNumber: 7,
      inclusive: false,
    });
    expect(
      startPositionFromFilter({
        'apache.org:selector-filter:string':
          "amqp.annotation.x-opt-enqueued-time > '1700000000000'",
      }),
    ).toEqual({ kind: 'enqueuedTime', enqueuedTime: 1_700_000_000_000 });
    expect(startPositionFromFilter(undefined)).toEqual({
      kind: 'offset',
      offset: '-1',
      inclusive: false,
    });
  });

  it('reads the .NET SDK forms too, which leave the value unquoted', () => {
    expect(startPositionFromFilter(filter('amqp.annotation.x-opt-offset > -1'))).toEqual({
      kind: 'offset',
      offset: '-1',
      inclusive: false,
    });
    expect(startPositionFromFilter(filter('amqp.annotation.x-opt-offset > @latest'))).toEqual({
      kind: 'offset',
      offset: '@latest',
      inclusive: false,
    });
    expect(startPositionFromFilter(filter('amqp.annotation.x-opt-sequence-number >= 7'))).toEqual({
      kind: 'sequenceNumber',
      sequenceNumber: 7,
      inclusive: true,
    });
    expect(
      startPositionFromFilter(filter('amqp.annotation.x-opt-enqueued-time > 1700000000000')),
    ).toEqual({ kind: 'enqueuedTime', enqueuedTime: 1_700_000_000_000 });
  });

  it('refuses anything else', () => {
    expect(() => startPositionFromFilter(filter("amqp.annotation.x-opt-offset > '5"))).toThrow(
      /not supported/,
    );
    expect(() => startPositionFromFilter(filter('amqp.annotation.x-opt-offset < 5'))).toThrow(
      /not supported/,
    );
    expect(() =>
      startPositionFromFilter(filter("amqp.annotation.x-opt-sequence-number > 'x'")),
    ).toThrow(/not an integer/);
  });
});

describe('partition log', () => {
  const event = (body: string) => ({
    encoded: rhea.message.encode({ body }),
    partitionKey: undefined,
  });

  it('keeps the newest N events and moves the beginning on', () => {
    const log = new PartitionLog('0', { maxEventsPerPartition: 3, maxAgeMs: 60_000 });
    for (let i = 0; i < 5; i++) log.append([event(`e${i}`)]);
    expect(log.properties()).toMatchObject({
      beginSequenceNumber: 2,
      lastSequenceNumber: 4,
      isEmpty: false,
    });
    expect(log.get(1)).toBeUndefined();
    expect(log.get(2)?.sequenceNumber).toBe(2);
    expect(log.startSequence({ kind: 'offset', offset: '-1', inclusive: false })).toBe(2);
    expect(log.startSequence({ kind: 'sequenceNumber', sequenceNumber: 0, inclusive: true })).toBe(
      2,
    );
    expect(log.startSequence({ kind: 'offset', offset: '@latest', inclusive: false })).toBe(5);
    expect(() =>
      log.startSequence({ kind: 'sequenceNumber', sequenceNumber: 9, inclusive: false }),
    ).toThrow(/invalid/);
  });

  it('drops events older than the age limit', () => {
    let now = 1_000_000;
    const log = new PartitionLog('0', { maxEventsPerPartition: 100, maxAgeMs: 1_000 }, () => now);
    log.append([event('old')]);
    now += 500;
    log.append([event('new')]);
    now += 600;
    expect(log.properties()).toMatchObject({ beginSequenceNumber: 1, lastSequenceNumber: 1 });
    now += 1_000;
    expect(log.properties()).toMatchObject({
      beginSequenceNumber: 2,
      isEmpty: true,
      lastSequenceNumber: 1,
    });
  });

  it("stamps the service annotations and keeps the sender's sections", () => {
    const log = new PartitionLog('0', { maxEventsPerPartition: 10, maxAgeMs: 60_000 });
    const encoded = rhea.message.encode({
      body: 'hello',
      application_properties: { a: 1 },
      message_annotations: { 'x-opt-sequence-number': 99, custom: 'kept' },
    });
    const [stored] = log.append([{ encoded, partitionKey: 'k' }]);
    const decoded = rhea.message.decode(Buffer.concat([stored!.header, stored!.tail]));
    expect(decoded.body).toBe('hello');
    expect(decoded.application_properties).toEqual({ a: 1 });
    expect(decoded.message_annotations).toMatchObject({
      custom: 'kept',
      'x-opt-sequence-number': 0,
      'x-opt-offset': '0',
      'x-opt-partition-key': 'k',
    });
  });
});
