/**
 * The Event Hub trigger's handler, called in-process the way the Functions host calls it
 * (`cardinality: 'many'`, per-event metadata arrays), against the file's own Cosmos
 * database: every body shape the host may pass, bad data dead-lettered without failing the
 * batch, redeliveries changing nothing, and unusable metadata refused before any write.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { alertSlotType } from '../../lib/telemetry/cosmosStore.js';
import { TriggerMetadataError } from '../../lib/telemetry/trigger.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  deliver,
  documents,
  expectCosmosUnchanged,
  hostMetadata,
  invokeIngest,
  PartitionFeed,
  reading,
  type SentEvent,
} from '../helpers/telemetry.js';

useTestDatabase();
useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();

const day = '2026-05-04';
const t = (hhmmss: string) => `${day}T${hhmmss}Z`;
const ms = (hhmmss: string) => Date.parse(t(hhmmss));

async function aggregate(equipmentId: string, windowStart: string) {
  const { resource } = await cosmos.containers.aggregates
    .item(`${equipmentId}:${t(windowStart)}`, equipmentId)
    .read<ItemDefinition>();
  return resource;
}

async function deadLettersOf(partitionId: string) {
  return (await documents(cosmos, 'deadLetters'))
    .filter((d) => d['partitionId'] === partitionId)
    .sort((a, b) => Number(a['sequenceNumber']) - Number(b['sequenceNumber']));
}

async function stateOf(partitionId: string) {
  return (await documents(cosmos, 'pipelineState')).find(
    (d) => d['pk'] === `partition:${partitionId}` && d['type'] === 'partition-state',
  );
}

describe('ingestTelemetry: body shapes the host may pass', () => {
  const encodings: [string, string, (value: unknown) => unknown][] = [
    ['JSON text', '1', (value) => JSON.stringify(value)],
    ['already parsed JSON values', '2', (value) => value],
    ['UTF-8 Buffers', '3', (value) => Buffer.from(JSON.stringify(value), 'utf8')],
  ];

  it.each(encodings)(
    'folds readings sent as %s into a window',
    async (_name, partitionId, encode) => {
      const equipmentId = `FMT-${partitionId}`;
      const feed = new PartitionFeed(partitionId);
      const { logs } = await feed.send([
        [
          encode(reading(equipmentId, t('06:00:10'), { temperature: 70, vibration: 2 })),
          t('06:00:11'),
        ],
        [encode(reading(equipmentId, t('06:02:00'), { temperature: 74 })), t('06:02:01')],
        // One event holding an array of readings.
        [
          encode([
            reading(equipmentId, t('06:03:00'), { temperature: 72 }),
            reading(equipmentId, t('06:04:00'), { temperature: 76 }),
          ]),
          t('06:04:01'),
        ],
        // Event time 06:06:30: the watermark (minus 60 s lateness) passes 06:05, closing 06:00.
        [encode(reading(equipmentId, t('06:06:30'), { temperature: 60 })), t('06:06:31')],
      ]);

      expect(logs).toEqual([
        `partition ${partitionId}: 4 events (0 already processed), 0 dead letters, ` +
          '1 windows closed, 1 aggregates, 0 alerts',
      ]);
      const closed = await aggregate(equipmentId, '06:00:00.000');
      expect(closed).toMatchObject({
        id: `${equipmentId}:${t('06:00:00.000')}`,
        equipmentId,
        windowStart: t('06:00:00.000'),
        windowEnd: t('06:05:00.000'),
        partitionId,
        summary: {
          readings: 4,
          metrics: {
            temperature: { count: 4, min: 70, max: 76, mean: 73 },
            vibration: { count: 1, min: 2, max: 2, mean: 2 },
          },
        },
      });
      // The 06:05 window is still open: no aggregate yet.
      expect(await aggregate(equipmentId, '06:05:00.000')).toBeUndefined();
      expect(await deadLettersOf(partitionId)).toEqual([]);
      expect(await stateOf(partitionId)).toMatchObject({
        partitionId,
        lastSequenceNumber: 3,
        maxEventTime: ms('06:06:30'),
      });
    },
  );

  it('accepts a UTF-8 byte order mark and a Buffer that went through JSON', async () => {
    const feed = new PartitionFeed('4');
    const text = JSON.stringify(reading('FMT-4', t('06:00:10'), { pressure: 40 }));
    const { logs } = await feed.send([
      [Buffer.from(`\uFEFF${text}`, 'utf8'), t('06:00:11')],
      [
        JSON.parse(
          JSON.stringify(
            Buffer.from(JSON.stringify(reading('FMT-4', t('06:01:00'), { pressure: 44 }))),
          ),
        ),
        t('06:01:01'),
      ],
      [JSON.stringify(reading('FMT-4', t('06:06:00'), { pressure: 42 })), t('06:06:01')],
    ]);
    expect(logs[0]).toContain('0 dead letters, 1 windows closed, 1 aggregates');
    expect((await aggregate('FMT-4', '06:00:00.000'))?.['summary']).toEqual({
      readings: 2,
      metrics: { pressure: { count: 2, min: 40, max: 44, mean: 42 } },
    });
  });
});

describe('ingestTelemetry: bad data', () => {
  const partitionId = '10';
  const feed = new PartitionFeed(partitionId);
  const invalidText = JSON.stringify(reading('B1', t('06:00:30'), { temperature: 9999 }));
  const tooMany = JSON.stringify(
    Array.from({ length: 501 }, (_, i) =>
      reading('B4', t(`06:01:${String(i % 60).padStart(2, '0')}`), { temperature: 20 }),
    ),
  );
  const events: SentEvent[] = [
    /* 0 */ [JSON.stringify(reading('B2', t('06:00:10'), { temperature: 50 })), t('06:00:11')],
    /* 1 */ ['{"equipmentId": "B1", "timestamp": ', t('06:00:20')],
    /* 2 */ [invalidText, t('06:00:31')],
    /* 3 */ [{ equipmentId: 'B1', temperature: 20 }, t('06:00:40')],
    /* 4: stamped 19 minutes after it was enqueued */
    [JSON.stringify(reading('B1', t('06:20:00'), { temperature: 20 })), t('06:01:00')],
    /* 5: an array whose second reading is out of bounds */
    [
      Buffer.from(
        JSON.stringify([
          reading('B2', t('06:01:00'), { temperature: 52 }),
          reading('B3', t('06:01:00'), { vibration: -1 }),
        ]),
      ),
      t('06:01:05'),
    ],
    /* 6: not UTF-8 */ [Buffer.from([0xff, 0xfe, 0x7b]), t('06:01:10')],
    /* 7: more readings than one event may hold */ [tooMany, t('06:01:20')],
    /* 8: the watermark passes 06:05: window 06:00 closes */
    [JSON.stringify(reading('B2', t('06:06:30'), { temperature: 54 })), t('06:06:31')],
    /* 9: late: its window has closed */
    [JSON.stringify(reading('B1', t('06:04:00'), { temperature: 40 })), t('06:06:40')],
  ];
  let batch: ReturnType<PartitionFeed['batch']> | undefined;

  it('never throws, dead-letters each bad reading and keeps the good ones', async () => {
    batch = feed.batch(events);
    const { logs } = await deliver(batch);
    expect(logs).toEqual([
      'partition 10: 10 events (0 already processed), 8 dead letters, ' +
        '1 windows closed, 1 aggregates, 0 alerts',
    ]);

    const letters = await deadLettersOf(partitionId);
    expect(
      letters.map((d): unknown[] => [
        d.id,
        d['reason'],
        d['equipmentId'],
        d['sequenceNumber'],
        d['index'],
      ]),
    ).toEqual([
      ['10:1:event', 'malformed', '(unknown)', 1, null],
      ['10:2:event', 'invalid', 'B1', 2, null],
      ['10:3:event', 'invalid', 'B1', 3, null],
      ['10:4:event', 'future', 'B1', 4, null],
      ['10:5:1', 'invalid', 'B3', 5, 1],
      ['10:6:event', 'malformed', '(unknown)', 6, null],
      ['10:7:event', 'too-many', '(unknown)', 7, null],
      ['10:9:late-0', 'late', 'B1', 9, null],
    ]);
    const byId = new Map(letters.map((d) => [d.id, d]));
    for (const letter of letters) {
      const sequenceNumber = Number(letter['sequenceNumber']);
      expect(letter['partitionId']).toBe(partitionId);
      expect(letter['enqueuedTime']).toBe(new Date(events[sequenceNumber]![1]).toISOString());
      expect(letter['issues']).toEqual(
        expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]),
      );
      // DEAD_LETTER_TTL_DAYS defaults to 14.
      expect(letter['ttl']).toBe(14 * 86_400);
    }
    expect(byId.get('10:1:event')).toMatchObject({
      raw: '{"equipmentId": "B1", "timestamp": ',
      rawTruncated: false,
      issues: [{ path: '', message: expect.stringContaining('not valid JSON') }],
    });
    expect(byId.get('10:2:event')).toMatchObject({
      raw: invalidText,
      issues: [{ path: '/temperature', message: expect.stringContaining('-60 to 250') }],
    });
    expect(byId.get('10:3:event')).toMatchObject({
      raw: '{"equipmentId":"B1","temperature":20}',
      issues: [{ path: '/timestamp', message: 'Required' }],
    });
    expect(byId.get('10:4:event')?.['issues']).toEqual([
      { path: '/timestamp', message: expect.stringContaining('1140000 ms after') },
    ]);
    expect(byId.get('10:5:1')).toMatchObject({
      raw: JSON.stringify(reading('B3', t('06:01:00'), { vibration: -1 })),
      issues: [{ path: '/vibration', message: expect.any(String) }],
    });
    expect(byId.get('10:6:event')?.['issues']).toEqual([
      { path: '', message: 'The body is not valid UTF-8' },
    ]);
    expect(byId.get('10:7:event')).toMatchObject({ rawTruncated: true });
    expect(String(byId.get('10:7:event')?.['raw']).length).toBeLessThanOrEqual(4096);
    expect(byId.get('10:9:late-0')).toMatchObject({
      raw: JSON.stringify({ equipmentId: 'B1', timestamp: ms('06:04:00'), temperature: 40 }),
      issues: [{ path: '/timestamp', message: expect.stringContaining('closed') }],
    });

    // The good readings of window 06:00 (events 0 and 5[0]) made the aggregate; nothing else.
    expect((await aggregate('B2', '06:00:00.000'))?.['summary']).toEqual({
      readings: 2,
      metrics: { temperature: { count: 2, min: 50, max: 52, mean: 51 } },
    });
    for (const equipmentId of ['B1', 'B3', 'B4']) {
      const { resources } = await cosmos.containers.aggregates.items
        .query({
          query: 'SELECT * FROM c WHERE c.equipmentId = @id',
          parameters: [{ name: '@id', value: equipmentId }],
        })
        .fetchAll();
      expect(resources, equipmentId).toEqual([]);
    }
    expect(await stateOf(partitionId)).toMatchObject({ lastSequenceNumber: 9 });
  });

  it('changes nothing when the same batch is delivered again', async () => {
    expect(batch).toBeDefined();
    const { logs } = await expectCosmosUnchanged(cosmos, () => deliver(batch!));
    expect(logs).toEqual([
      'partition 10: 10 events (10 already processed), 0 dead letters, ' +
        '0 windows closed, 0 aggregates, 0 alerts',
    ]);
  });

  it('processes only the new events of a redelivery that overlaps a processed one', async () => {
    const overlap: SentEvent[] = [
      events[8]!,
      events[9]!,
      [JSON.stringify(reading('B2', t('06:07:00'), { temperature: 56 })), t('06:07:01')],
    ];
    const before = await deadLettersOf(partitionId);
    const { logs } = await invokeIngest(
      overlap.map(([body]) => body),
      hostMetadata(
        partitionId,
        [8, 9, 10],
        overlap.map(([, enqueued]) => enqueued),
      ),
    );
    expect(logs).toEqual([
      'partition 10: 3 events (2 already processed), 0 dead letters, ' +
        '0 windows closed, 0 aggregates, 0 alerts',
    ]);
    // Event 9 was not dead-lettered again, nor event 8 counted twice.
    expect(await deadLettersOf(partitionId)).toEqual(before);
    expect(await stateOf(partitionId)).toMatchObject({ lastSequenceNumber: 10 });
    const partials = (await documents(cosmos, 'pipelineState')).filter(
      (d) => d['pk'] === 'partition:10' && d['type'] === 'partial',
    );
    expect(partials.map((p) => p.id).sort()).toEqual(['10:0-9', '10:10-10']);
  });

  it('raises an alert from an anomalous window, once, however often it is delivered', async () => {
    const hot = new PartitionFeed('11');
    const sent = hot.batch([
      [JSON.stringify(reading('HOT', t('07:00:10'), { temperature: 95 })), t('07:00:11')],
      [JSON.stringify(reading('HOT', t('07:02:10'), { temperature: 91 })), t('07:02:11')],
      [JSON.stringify(reading('HOT', t('07:06:30'), { temperature: 20 })), t('07:06:31')],
    ]);
    const { logs } = await deliver(sent);
    expect(logs).toEqual([
      'partition 11: 3 events (0 already processed), 0 dead letters, ' +
        '1 windows closed, 1 aggregates, 1 alerts',
    ]);
    const alerts = (await documents(cosmos, 'alerts')).filter(
      (a) => a['equipmentId'] === 'HOT' && a['type'] !== alertSlotType,
    );
    expect(alerts).toEqual([
      expect.objectContaining({
        id: `HOT:temperature:${t('07:00:00.000')}`,
        status: 'open',
        severity: 'critical',
        occurrences: 1,
        raisedAt: t('07:05:00.000'),
      }),
    ]);
    await expectCosmosUnchanged(cosmos, () => deliver(sent));
  });
});

describe('ingestTelemetry: unusable trigger metadata', () => {
  const partitionId = '20';
  const bodies = [
    JSON.stringify(reading('M1', t('08:00:00'), { temperature: 20 })),
    JSON.stringify(reading('M1', t('08:06:00'), { temperature: 21 })),
  ];
  const enqueued = [t('08:00:01'), t('08:06:01')];
  const good = () => hostMetadata(partitionId, [0, 1], enqueued);
  const without = (key: string) => {
    const { [key]: _left, ...rest } = good();
    return rest;
  };
  const cases: [string, Record<string, unknown> | undefined][] = [
    ['no trigger metadata at all', undefined],
    ['no sequenceNumberArray', without('sequenceNumberArray')],
    ['no enqueuedTimeUtcArray', without('enqueuedTimeUtcArray')],
    ['no partitionContext', without('partitionContext')],
    ['a partitionContext without partitionId', { ...good(), partitionContext: {} }],
    ['an empty partitionId', { ...good(), partitionContext: { partitionId: '' } }],
    ['fewer sequence numbers than events', { ...good(), sequenceNumberArray: [0] }],
    ['more sequence numbers than events', { ...good(), sequenceNumberArray: [0, 1, 2] }],
    ['fewer enqueued times than events', { ...good(), enqueuedTimeUtcArray: [enqueued[0]] }],
    ['a negative sequence number', { ...good(), sequenceNumberArray: [-1, 0] }],
    ['a fractional sequence number', { ...good(), sequenceNumberArray: [0, 1.5] }],
    ['an enqueued time that is not a time', { ...good(), enqueuedTimeUtcArray: ['soon', 'x'] }],
  ];

  it.each(cases)('refuses a batch with %s and writes nothing', async (_name, metadata) => {
    await expectCosmosUnchanged(cosmos, async () => {
      const outcome = invokeIngest(bodies, metadata);
      await expect(outcome).rejects.toBeInstanceOf(TriggerMetadataError);
      await expect(outcome).rejects.toThrow(/Event Hub trigger metadata is unusable/);
    });
    expect(await stateOf(partitionId)).toBeUndefined();
  });

  it('processes the same batch once the metadata is complete', async () => {
    const { logs } = await invokeIngest(bodies, good());
    expect(logs[0]).toMatch(/^partition 20: 2 events \(0 already processed\)/);
    expect(await stateOf(partitionId)).toMatchObject({ lastSequenceNumber: 1 });
  });

  it('reads sequence numbers the host passes as digit strings', async () => {
    const { logs } = await invokeIngest(
      [JSON.stringify(reading('M2', t('08:00:00'), { temperature: 20 }))],
      { ...hostMetadata('21', [0], [t('08:00:01')]), sequenceNumberArray: ['7'] },
    );
    expect(logs[0]).toMatch(/^partition 21: 1 events/);
    expect(await stateOf('21')).toMatchObject({ lastSequenceNumber: 7 });
  });
});

describe('ingestTelemetry: cardinality many with a single message', () => {
  it('is declared as the batch trigger the issue asks for', () => {
    expect(ingestTelemetryFunction).toMatchObject({
      kind: 'eventHub',
      cardinality: 'many',
      connection: 'EventHubConnection',
      eventHubName: '%EVENTHUB_NAME%',
    });
  });

  it('processes a batch of one message', async () => {
    const { logs } = await invokeIngest(
      [JSON.stringify(reading('ONE', t('09:00:00'), { temperature: 30 }))],
      hostMetadata('30', [0], [t('09:00:01')]),
    );
    expect(logs).toEqual([
      'partition 30: 1 events (0 already processed), 0 dead letters, ' +
        '0 windows closed, 0 aggregates, 0 alerts',
    ]);
    const partials = (await documents(cosmos, 'pipelineState')).filter(
      (d) => d['pk'] === 'partition:30' && d['type'] === 'partial',
    );
    expect(partials).toEqual([
      expect.objectContaining({
        id: '30:0-0',
        entries: [
          expect.objectContaining({
            equipmentId: 'ONE',
            windowStart: ms('09:00:00'),
            latest: { equipmentId: 'ONE', timestamp: ms('09:00:00'), temperature: 30 },
          }),
        ],
      }),
    ]);
  });

  it('processes a single message handed over without the array around it', async () => {
    const { logs } = await invokeIngest(
      reading('ONE', t('09:01:00'), { temperature: 31 }),
      hostMetadata('30', [1], [t('09:01:01')]),
    );
    expect(logs[0]).toMatch(/^partition 30: 1 events \(0 already processed\), 0 dead letters/);
    expect(await stateOf('30')).toMatchObject({ lastSequenceNumber: 1 });
  });

  it('reads every reading of a single message whose body is an array', async () => {
    const { logs } = await invokeIngest(
      [
        [
          reading('ONE', t('09:02:00'), { temperature: 32 }),
          reading('ONE', t('09:03:00'), { temperature: 33 }),
        ],
      ],
      hostMetadata('30', [2], [t('09:03:01')]),
    );
    expect(logs[0]).toMatch(/^partition 30: 1 events \(0 already processed\), 0 dead letters/);
    const partial = (await documents(cosmos, 'pipelineState')).find((d) => d.id === '30:2-2');
    expect(partial?.['entries']).toEqual([
      expect.objectContaining({
        equipmentId: 'ONE',
        stats: expect.objectContaining({ readings: 2 }),
      }),
    ]);
  });
});
