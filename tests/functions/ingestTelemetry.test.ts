/**
 * The Event Hub trigger's handler, called in-process the way the Functions host calls it
 * (`cardinality: 'many'`, per-event metadata arrays), against the file's own Cosmos
 * database: every body shape the host may pass, bad data dead-lettered without failing the
 * batch, redeliveries changing nothing, the shapes the Azure host really sends (Long sequence
 * numbers, zone-less times under several time zones, empty bodies), and a batch whose
 * metadata cannot be read parked whole as a dead letter instead of thrown.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestTelemetryFunction } from '../../functions/ingestTelemetry.js';
import { triggerMessagesFor, triggerMetadataFor } from '../../dev/triggerHost.js';
import { alertSlotType } from '../../lib/telemetry/cosmosStore.js';
import { waitFor } from '../dev/webpubsub/helpers.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { renewAppServices } from '../helpers/appServices.js';
import { openAlertsFeed, useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import {
  deliver,
  documents,
  expectCosmosUnchanged,
  hostMetadata,
  insertEquipment,
  invokeIngest,
  PartitionFeed,
  reading,
  type SentEvent,
} from '../helpers/telemetry.js';

const db = useTestDatabase();
useTestIssuer();
const cosmos = useAppCosmos();
const webPubSub = useAppWebPubSub();

// The machines this file sends for (readings of any other id are dead-lettered as unregistered).
beforeAll(async () => {
  for (const id of [
    201, 202, 203, 204, 205, 206, 207, 208, 209, 211, 212, 213, 240, 241, 242, 243, 250, 260,
  ])
    await insertEquipment(db.pool, id);
});

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
      const equipmentId = `21${partitionId}`;
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
    const text = JSON.stringify(reading('208', t('06:00:10'), { pressure: 40 }));
    const { logs } = await feed.send([
      [Buffer.from(`\uFEFF${text}`, 'utf8'), t('06:00:11')],
      [
        JSON.parse(
          JSON.stringify(
            Buffer.from(JSON.stringify(reading('208', t('06:01:00'), { pressure: 44 }))),
          ),
        ),
        t('06:01:01'),
      ],
      [JSON.stringify(reading('208', t('06:06:00'), { pressure: 42 })), t('06:06:01')],
    ]);
    expect(logs[0]).toContain('0 dead letters, 1 windows closed, 1 aggregates');
    expect((await aggregate('208', '06:00:00.000'))?.['summary']).toEqual({
      readings: 2,
      metrics: { pressure: { count: 2, min: 40, max: 44, mean: 42 } },
    });
  });
});

describe('ingestTelemetry: bad data', () => {
  const partitionId = '10';
  const feed = new PartitionFeed(partitionId);
  const invalidText = JSON.stringify(reading('201', t('06:00:30'), { temperature: 9999 }));
  const tooMany = JSON.stringify(
    Array.from({ length: 501 }, (_, i) =>
      reading('204', t(`06:01:${String(i % 60).padStart(2, '0')}`), { temperature: 20 }),
    ),
  );
  const events: SentEvent[] = [
    /* 0 */ [JSON.stringify(reading('202', t('06:00:10'), { temperature: 50 })), t('06:00:11')],
    /* 1 */ ['{"equipmentId": "201", "timestamp": ', t('06:00:20')],
    /* 2 */ [invalidText, t('06:00:31')],
    /* 3 */ [{ equipmentId: '201', temperature: 20 }, t('06:00:40')],
    /* 4: stamped 19 minutes after it was enqueued */
    [JSON.stringify(reading('201', t('06:20:00'), { temperature: 20 })), t('06:01:00')],
    /* 5: an array whose second reading is out of bounds */
    [
      Buffer.from(
        JSON.stringify([
          reading('202', t('06:01:00'), { temperature: 52 }),
          reading('203', t('06:01:00'), { vibration: -1 }),
        ]),
      ),
      t('06:01:05'),
    ],
    /* 6: not UTF-8 */ [Buffer.from([0xff, 0xfe, 0x7b]), t('06:01:10')],
    /* 7: more readings than one event may hold */ [tooMany, t('06:01:20')],
    /* 8: the watermark passes 06:05: window 06:00 closes */
    [JSON.stringify(reading('202', t('06:06:30'), { temperature: 54 })), t('06:06:31')],
    /* 9: late: its window has closed */
    [JSON.stringify(reading('201', t('06:04:00'), { temperature: 40 })), t('06:06:40')],
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
        (d['rejections'] as { index: unknown }[]).map((r) => r.index),
      ]),
    ).toEqual([
      ['10:1', 'malformed', '(unknown)', 1, [null]],
      ['10:2', 'invalid', '201', 2, [null]],
      ['10:3', 'invalid', '201', 3, [null]],
      ['10:4', 'future', '201', 4, [null]],
      ['10:5', 'invalid', '203', 5, [1]],
      ['10:6', 'malformed', '(unknown)', 6, [null]],
      ['10:7', 'too-many', '(unknown)', 7, [null]],
      ['10:9', 'late', '201', 9, [null]],
    ]);
    // One document per event, its only rejection inside.
    const byId = new Map(
      letters.map((d) => [d.id, (d['rejections'] as Record<string, unknown>[])[0]]),
    );
    for (const letter of letters) {
      const sequenceNumber = Number(letter['sequenceNumber']);
      expect(letter['partitionId']).toBe(partitionId);
      expect(letter['enqueuedTime']).toBe(new Date(events[sequenceNumber]![1]).toISOString());
      expect(letter).toMatchObject({ rejectedCount: 1, omittedCount: 0 });
      expect(byId.get(letter.id)?.['issues']).toEqual(
        expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]),
      );
      // DEAD_LETTER_TTL_DAYS defaults to 14.
      expect(letter['ttl']).toBe(14 * 86_400);
    }
    expect(byId.get('10:1')).toMatchObject({
      raw: '{"equipmentId": "201", "timestamp": ',
      rawTruncated: false,
      issues: [{ path: '', message: expect.stringContaining('not valid JSON') }],
    });
    expect(byId.get('10:2')).toMatchObject({
      raw: invalidText,
      issues: [{ path: '/temperature', message: expect.stringContaining('-60 to 250') }],
    });
    expect(byId.get('10:3')).toMatchObject({
      raw: '{"equipmentId":"201","temperature":20}',
      issues: [{ path: '/timestamp', message: 'Required' }],
    });
    expect(byId.get('10:4')?.['issues']).toEqual([
      { path: '/timestamp', message: expect.stringContaining('1140000 ms after') },
    ]);
    expect(byId.get('10:5')).toMatchObject({
      raw: JSON.stringify(reading('203', t('06:01:00'), { vibration: -1 })),
      issues: [{ path: '/vibration', message: expect.any(String) }],
    });
    expect(byId.get('10:6')?.['issues']).toEqual([
      { path: '', message: 'The body is not valid UTF-8' },
    ]);
    expect(byId.get('10:7')).toMatchObject({ rawTruncated: true });
    expect(String(byId.get('10:7')?.['raw']).length).toBeLessThanOrEqual(4096);
    expect(byId.get('10:9')).toMatchObject({
      raw: JSON.stringify({ equipmentId: '201', timestamp: ms('06:04:00'), temperature: 40 }),
      issues: [{ path: '/timestamp', message: expect.stringContaining('closed') }],
    });

    // The good readings of window 06:00 (events 0 and 5[0]) made the aggregate; nothing else.
    expect((await aggregate('202', '06:00:00.000'))?.['summary']).toEqual({
      readings: 2,
      metrics: { temperature: { count: 2, min: 50, max: 52, mean: 51 } },
    });
    for (const equipmentId of ['201', '203', '204']) {
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
      [JSON.stringify(reading('202', t('06:07:00'), { temperature: 56 })), t('06:07:01')],
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
      [JSON.stringify(reading('205', t('07:00:10'), { temperature: 95 })), t('07:00:11')],
      [JSON.stringify(reading('205', t('07:02:10'), { temperature: 91 })), t('07:02:11')],
      [JSON.stringify(reading('205', t('07:06:30'), { temperature: 20 })), t('07:06:31')],
    ]);
    const { logs } = await deliver(sent);
    expect(logs).toEqual([
      'partition 11: 3 events (0 already processed), 0 dead letters, ' +
        '1 windows closed, 1 aggregates, 1 alerts',
    ]);
    const alerts = (await documents(cosmos, 'alerts')).filter(
      (a) => a['equipmentId'] === '205' && a['type'] !== alertSlotType,
    );
    expect(alerts).toEqual([
      expect.objectContaining({
        id: `205:temperature:${t('07:00:00.000')}`,
        status: 'open',
        severity: 'critical',
        occurrences: 1,
        raisedAt: t('07:05:00.000'),
      }),
    ]);
    await expectCosmosUnchanged(cosmos, () => deliver(sent));
  });

  it("grades a window by the equipment's own thresholds, which are stricter than the defaults", async () => {
    // 70 °C is below every default threshold (medium 75) but above this machine's high (65).
    await db.pool.query(
      'INSERT INTO equipment_thresholds (equipment_id, thresholds) VALUES (250, ?)',
      [JSON.stringify({ temperature: { medium: 60, high: 65, critical: 85, clear: 55 } })],
    );
    const warm = new PartitionFeed('12');
    const { logs } = await deliver(
      warm.batch([
        [JSON.stringify(reading('250', t('11:00:10'), { temperature: 70 })), t('11:00:11')],
        [JSON.stringify(reading('250', t('11:06:30'), { temperature: 20 })), t('11:06:31')],
      ]),
    );
    expect(logs).toEqual([
      'partition 12: 2 events (0 already processed), 0 dead letters, ' +
        '1 windows closed, 1 aggregates, 1 alerts',
    ]);
    const alerts = (await documents(cosmos, 'alerts')).filter(
      (a) => a['equipmentId'] === '250' && a['type'] !== alertSlotType,
    );
    expect(alerts).toEqual([
      expect.objectContaining({
        id: `250:temperature:${t('11:00:00.000')}`,
        severity: 'high',
      }),
    ]);
  });
});

describe('ingestTelemetry: equipment in maintenance', () => {
  const alertOf260 = async () =>
    (await documents(cosmos, 'alerts')).filter(
      (a) => a['equipmentId'] === '260' && a['type'] !== alertSlotType,
    );

  it('stores its alerts muted and notifies nobody until a window after maintenance', async () => {
    await db.pool.query("UPDATE equipment SET status = 'Maintenance' WHERE id = 260");
    // A dashboard listening to every alert, on the app's Web PubSub stand-in.
    const dashboard = await openAlertsFeed(webPubSub);
    const alertMessages = dashboard.messages;
    try {
      const feed = new PartitionFeed('13');
      const hot = feed.batch([
        [JSON.stringify(reading('260', t('12:00:10'), { temperature: 95 })), t('12:00:11')],
        // Closes 12:00 and stays hot into 12:10.
        [JSON.stringify(reading('260', t('12:11:30'), { temperature: 95 })), t('12:11:31')],
      ]);
      const { logs } = await deliver(hot);
      expect(logs).toEqual([
        'partition 13: 2 events (0 already processed), 0 dead letters, ' +
          '1 windows closed, 1 aggregates, 1 alerts',
      ]);
      const [muted, ...others] = await alertOf260();
      expect(others).toEqual([]);
      expect(muted).toMatchObject({
        id: `260:temperature:${t('12:00:00.000')}`,
        version: 1,
        status: 'open',
        suppressed: { reason: 'maintenance' },
        delivery: {
          version: 1,
          type: 'alert.raised',
          pending: [],
          withheld: ['webPubSub', 'push', 'email', 'sms', 'webhooks'],
        },
      });
      expect(muted).not.toHaveProperty('deliveryPending');
      // The same emission again writes the identical document.
      await expectCosmosUnchanged(cosmos, () => deliver(hot));

      // Maintenance over; a new worker (no cached status) grades the next window.
      await db.pool.query("UPDATE equipment SET status = 'Operational' WHERE id = 260");
      await renewAppServices();
      await deliver(
        feed.batch([
          [JSON.stringify(reading('260', t('12:12:00'), { temperature: 95 })), t('12:12:01')],
          [JSON.stringify(reading('260', t('12:16:30'), { temperature: 20 })), t('12:16:31')],
        ]),
      );
      const [delivered] = await alertOf260();
      expect(delivered).toMatchObject({ version: 2, occurrences: 2 });
      expect(delivered).not.toHaveProperty('suppressed');
      expect(delivered?.['delivery']).toMatchObject({ version: 2, type: 'alert.raised' });
      expect(delivered?.['delivery']).not.toHaveProperty('withheld');
      // Nobody was told of the muted version: the first message is the alert, as raised, now.
      await waitFor(() => alertMessages().length > 0 || undefined, 'the alert message');
      const messages = alertMessages();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({
        type: 'alert.raised',
        alert: { id: `260:temperature:${t('12:00:00.000')}`, version: 2 },
      });
      expect(messages[0]?.['alert']).not.toHaveProperty('suppressed');
    } finally {
      dashboard.close();
    }
  });
});

describe('ingestTelemetry: unusable trigger metadata', () => {
  const partitionId = '20';
  const bodies = [
    JSON.stringify(reading('206', t('08:00:00'), { temperature: 20 })),
    JSON.stringify(reading('206', t('08:06:00'), { temperature: 21 })),
  ];
  const enqueued = [t('08:00:01'), t('08:06:01')];
  const good = () => hostMetadata(partitionId, [0, 1], enqueued);
  const without = (key: string) => {
    const { [key]: _left, ...rest } = good();
    return rest;
  };
  const cases: [string, Record<string, unknown> | undefined, RegExp][] = [
    ['no trigger metadata at all', undefined, /no trigger metadata/],
    ['no sequenceNumberArray', without('sequenceNumberArray'), /sequenceNumberArray: missing/],
    ['no enqueuedTimeUtcArray', without('enqueuedTimeUtcArray'), /enqueuedTimeUtcArray: missing/],
    ['no partitionContext', without('partitionContext'), /partitionContext/],
    [
      'a partitionContext without partitionId',
      { ...good(), partitionContext: {} },
      /partitionContext/,
    ],
    ['an empty partitionId', { ...good(), partitionContext: { partitionId: '' } }, /partitionId/],
    [
      'fewer sequence numbers than events',
      { ...good(), sequenceNumberArray: [0] },
      /2 events but 1 sequence numbers/,
    ],
    [
      'more sequence numbers than events',
      { ...good(), sequenceNumberArray: [0, 1, 2] },
      /2 events but 3 sequence numbers/,
    ],
    [
      'fewer enqueued times than events',
      { ...good(), enqueuedTimeUtcArray: [enqueued[0]] },
      /2 events but 1 enqueued times/,
    ],
    ['a negative sequence number', { ...good(), sequenceNumberArray: [-1, 0] }, /unusable entry/],
    ['a fractional sequence number', { ...good(), sequenceNumberArray: [0, 1.5] }, /unusable/],
    [
      'an enqueued time that is not a time',
      { ...good(), enqueuedTimeUtcArray: ['soon', 'x'] },
      /enqueuedTimeUtcArray: 2 unusable entries/,
    ],
  ];

  it.each(cases)(
    'parks a batch with %s whole, without throwing or processing it',
    async (_name, metadata, detail) => {
      const before = await parkedDocuments();
      const { logs } = await invokeIngest(bodies, metadata);
      expect(logs).toEqual([expect.stringMatching(/parked 2 events as an unreadable batch/)]);
      expect(logs[0]).toMatch(detail);
      const added = (await parkedDocuments()).filter(
        (d) => !before.some((b) => b.id === d.id && b['_etag'] === d['_etag']),
      );
      expect(added).toEqual([
        expect.objectContaining({
          type: 'parked-batch',
          reason: 'unreadable-batch',
          equipmentId: '(unknown)',
          detail: expect.stringMatching(detail),
          eventCount: 2,
          chunk: 0,
          chunks: 1,
          ttl: 14 * 86_400,
          events: [
            expect.objectContaining({ raw: bodies[0], rawTruncated: false }),
            expect.objectContaining({ raw: bodies[1], rawTruncated: false }),
          ],
        }),
      ]);
      // Nothing was processed: no state, no partial, no aggregate.
      expect(await stateOf(partitionId)).toBeUndefined();
    },
  );

  it('processes the same batch once the metadata is complete', async () => {
    const { logs } = await invokeIngest(bodies, good());
    expect(logs[0]).toMatch(/^partition 20: 2 events \(0 already processed\)/);
    expect(await stateOf(partitionId)).toMatchObject({ lastSequenceNumber: 1 });
  });

  it('reads sequence numbers the host passes as digit strings', async () => {
    const { logs } = await invokeIngest(
      [JSON.stringify(reading('207', t('08:00:00'), { temperature: 20 }))],
      { ...hostMetadata('21', [0], [t('08:00:01')]), sequenceNumberArray: ['7'] },
    );
    expect(logs[0]).toMatch(/^partition 21: 1 events/);
    expect(await stateOf('21')).toMatchObject({ lastSequenceNumber: 7 });
  });
});

/** Every parked-batch document, sorted by id. */
async function parkedDocuments() {
  return (await documents(cosmos, 'deadLetters'))
    .filter((d) => d['type'] === 'parked-batch')
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** A partition's events as the Azure host delivers them (dev/triggerHost, `azure` fidelity). */
function azureBatch(
  partitionId: string,
  firstSequenceNumber: number,
  events: readonly SentEvent[],
  dataType: 'binary' | 'string' = 'binary',
): { messages: unknown[]; triggerMetadata: Record<string, unknown> } {
  const received = events.map(([, enqueued], i) => ({
    sequenceNumber: firstSequenceNumber + i,
    offset: String((firstSequenceNumber + i) * 512),
    enqueuedTimeUtc: new Date(enqueued),
    partitionKey: null,
  }));
  return {
    // What the SDK receives with skipParsingBodyAsJson: the bytes devices sent.
    messages: triggerMessagesFor(
      events.map(([body]) => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body)),
      dataType,
    ),
    triggerMetadata: triggerMetadataFor(received, {
      partitionId,
      eventHubName: 'telemetry',
      consumerGroup: '$Default',
      fullyQualifiedNamespace: 'localhost',
    }),
  };
}

describe('ingestTelemetry: the shapes the Azure host really sends', () => {
  // Two windows of one machine, with a hot reading so an alert is graded too.
  const readings = (equipmentId: string): SentEvent[] => [
    [
      JSON.stringify(reading(equipmentId, t('10:00:10'), { temperature: 70, pressure: 40 })),
      t('10:00:11'),
    ],
    [JSON.stringify(reading(equipmentId, t('10:02:00'), { temperature: 96 })), t('10:02:01')],
    [
      JSON.stringify([
        reading(equipmentId, t('10:03:00'), { temperature: 72 }),
        reading(equipmentId, t('10:04:59.999'), { vibration: 3.25 }),
      ]),
      t('10:05:00.5'),
    ],
    [JSON.stringify(reading(equipmentId, t('10:06:30'), { temperature: 60 })), t('10:06:31.25')],
    [JSON.stringify(reading(equipmentId, t('10:12:00'), { temperature: 61 })), t('10:12:01')],
  ];
  const empty: SentEvent = ['', t('10:03:30')];

  /** What a pass left for `equipmentId`, without what names the pass itself. */
  async function outcomeOf(equipmentId: string) {
    const aggregates = (await documents(cosmos, 'aggregates'))
      .filter((d) => d['equipmentId'] === equipmentId)
      .map((d): unknown[] => [d['windowStart'], d['summary'], d['stats']]);
    const alerts = (await documents(cosmos, 'alerts'))
      .filter((d) => d['equipmentId'] === equipmentId && d['type'] !== alertSlotType)
      .map((d): unknown[] => [d['metric'], d['severity'], d['raisedAt']]);
    return { aggregates, alerts };
  }

  let clean: Awaited<ReturnType<typeof outcomeOf>> | undefined;

  it('a clean pass: numbers, times with Z, JSON text', async () => {
    const { logs } = await new PartitionFeed('40').send(readings('240'));
    expect(logs[0]).toMatch(/^partition 40: 5 events \(0 already processed\), 0 dead letters/);
    clean = await outcomeOf('240');
    expect(clean.aggregates.map(([windowStart]) => windowStart)).toEqual([
      t('10:00:00.000'),
      t('10:05:00.000'),
    ]);
    expect(clean.alerts).toHaveLength(1);
  });

  const originalTz = process.env['TZ'];
  afterAll(() => {
    if (originalTz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = originalTz;
  });

  it.each([
    ['America/New_York', '41'],
    ['Asia/Kolkata', '42'],
    ['UTC', '43'],
  ])(
    'Long sequence numbers past 2^32, zone-less times and an empty body under TZ=%s: the clean aggregates',
    async (zone, partitionId) => {
      process.env['TZ'] = zone;
      // The zone is in force: a naive Date.parse of a zone-less time now depends on it.
      expect(Date.parse('2026-05-04T10:00:00') === ms('10:00:00')).toBe(zone === 'UTC');
      const equipmentId = String(200 + Number(partitionId));
      const events = readings(equipmentId);
      // An event with an empty body, in the middle of the batch.
      const withEmpty = [...events.slice(0, 2), empty, ...events.slice(2)];
      const first = 2 ** 32 + 1000 * Number(partitionId);
      const batch = azureBatch(partitionId, first, withEmpty);
      expect(batch.messages).toHaveLength(6);
      expect(batch.triggerMetadata['sequenceNumberArray']).toContainEqual({
        low: expect.any(Number),
        high: 1,
        unsigned: false,
      });
      expect(batch.triggerMetadata['enqueuedTimeUtcArray']).toContain('2026-05-04T10:05:00.5');

      const { logs } = await invokeIngest(batch.messages, batch.triggerMetadata);
      expect(logs).toEqual([
        `partition ${partitionId}: 6 events (0 already processed), 1 dead letters, ` +
          '2 windows closed, 2 aggregates, 1 alerts',
      ]);
      expect(await outcomeOf(equipmentId)).toEqual(clean);
      expect(await stateOf(partitionId)).toMatchObject({
        lastSequenceNumber: first + 5,
        maxEventTime: ms('10:12:00'),
      });
      // The empty body is one dead letter of its own, stamped with its UTC enqueued time.
      expect(await deadLettersOf(partitionId)).toEqual([
        expect.objectContaining({
          reason: 'malformed',
          sequenceNumber: first + 2,
          enqueuedTime: t('10:03:30.000'),
          rejections: [
            expect.objectContaining({
              raw: '',
              issues: [{ path: '', message: expect.stringMatching(/empty body/) }],
            }),
          ],
        }),
      ]);
      // A redelivery of the same batch changes nothing.
      await expectCosmosUnchanged(cosmos, () =>
        invokeIngest(batch.messages, batch.triggerMetadata),
      );
    },
  );
});

describe('ingestTelemetry: parking a batch it cannot align', () => {
  it('parks a string batch the host shortened by dropping an empty body, once', async () => {
    const events: SentEvent[] = [
      [JSON.stringify(reading('PK-1', t('11:00:00'), { temperature: 20 })), t('11:00:01')],
      ['', t('11:00:02')],
      ['not json at all', t('11:00:03')],
    ];
    const first = 2 ** 32 + 77;
    // As with dataType 'string': the empty body is gone, the metadata still has three entries.
    const batch = azureBatch('50', first, events, 'string');
    expect(batch.messages).toEqual([
      reading('PK-1', t('11:00:00'), { temperature: 20 }),
      'not json at all',
    ]);

    const { logs } = await invokeIngest(batch.messages, batch.triggerMetadata);
    expect(logs).toEqual([
      `partition 50: parked 2 events as an unreadable batch (parked:50:${first}-${first + 2}, ` +
        `1 documents, sequence numbers ${first}-${first + 2}): ` +
        '2 events but 3 sequence numbers; 2 events but 3 enqueued times',
    ]);
    const parked = await parkedDocuments();
    const mine = parked.filter((d) => d['partitionId'] === '50');
    expect(mine).toEqual([
      expect.objectContaining({
        id: `parked:50:${first}-${first + 2}`,
        type: 'parked-batch',
        equipmentId: '(unknown)',
        reason: 'unreadable-batch',
        partitionId: '50',
        firstSequenceNumber: first,
        lastSequenceNumber: first + 2,
        enqueuedTime: t('11:00:01.000'),
        lastEnqueuedTime: t('11:00:03.000'),
        eventCount: 2,
        // Which body had which number cannot be known once one was dropped.
        events: [
          {
            sequenceNumber: null,
            enqueuedTime: null,
            raw: JSON.stringify(reading('PK-1', t('11:00:00'), { temperature: 20 })),
            rawTruncated: false,
          },
          { sequenceNumber: null, enqueuedTime: null, raw: 'not json at all', rawTruncated: false },
        ],
        chunk: 0,
        chunks: 1,
        ttl: 14 * 86_400,
      }),
    ]);
    expect(await stateOf('50')).toBeUndefined();

    // The host redelivers it (say the instance died before checkpointing): still one document.
    const again = await invokeIngest(batch.messages, batch.triggerMetadata);
    expect(again.logs[0]).toMatch(/parked 2 events/);
    const after = (await parkedDocuments()).filter((d) => d['partitionId'] === '50');
    expect(after.map((d): unknown => d.id)).toEqual(mine.map((d): unknown => d.id));
    expect(after.map((d): unknown => d['events'])).toEqual(mine.map((d): unknown => d['events']));
  });

  it('splits a large parked batch into bounded documents, and names one without metadata by its bodies', async () => {
    // 600 bodies of 6 KiB: each kept to 4 KiB, ~2.4 MB in all, more than one Cosmos item holds.
    const big = Array.from({ length: 600 }, (_, i) =>
      Buffer.from(`${i}:`.padEnd(6144, 'x'), 'utf8'),
    );
    const { logs } = await invokeIngest(big, undefined);
    expect(logs[0]).toMatch(
      /^partition \(unknown\): parked 600 events as an unreadable batch \(parked:[0-9a-f]{64}, 3 documents, sequence numbers \?-\?\): no trigger metadata/,
    );
    const batchId = /\((parked:[0-9a-f]{64}),/.exec(logs[0] ?? '')?.[1];
    const chunks = (await parkedDocuments()).filter((d) => d['batchId'] === batchId);
    expect(chunks.map((d): unknown[] => [d['chunk'], d['chunks'], d['eventCount']])).toEqual([
      [0, 3, 600],
      [1, 3, 600],
      [2, 3, 600],
    ]);
    const events = chunks
      .sort((a, b) => Number(a['chunk']) - Number(b['chunk']))
      .flatMap((d): { raw: string; rawTruncated: boolean }[] => d['events'] as never);
    expect(events).toHaveLength(600);
    for (const [i, event] of events.entries()) {
      expect(event.raw.startsWith(`${i}:`)).toBe(true);
      expect(Buffer.byteLength(event.raw)).toBe(4096);
      expect(event.rawTruncated).toBe(true);
    }
    for (const chunk of chunks)
      expect(Buffer.byteLength(JSON.stringify(chunk))).toBeLessThan(1_000_000);

    // Redelivered: the same ids, no duplicates.
    await invokeIngest(big, undefined);
    const again = (await parkedDocuments()).filter((d) => d['batchId'] === batchId);
    expect(again.map((d) => d.id).sort()).toEqual(chunks.map((d) => d.id).sort());
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
      [JSON.stringify(reading('209', t('09:00:00'), { temperature: 30 }))],
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
            equipmentId: '209',
            windowStart: ms('09:00:00'),
            latest: { equipmentId: '209', timestamp: ms('09:00:00'), temperature: 30 },
          }),
        ],
      }),
    ]);
  });

  it('processes a single message handed over without the array around it', async () => {
    const { logs } = await invokeIngest(
      reading('209', t('09:01:00'), { temperature: 31 }),
      hostMetadata('30', [1], [t('09:01:01')]),
    );
    expect(logs[0]).toMatch(/^partition 30: 1 events \(0 already processed\), 0 dead letters/);
    expect(await stateOf('30')).toMatchObject({ lastSequenceNumber: 1 });
  });

  it('reads every reading of a single message whose body is an array', async () => {
    const { logs } = await invokeIngest(
      [
        [
          reading('209', t('09:02:00'), { temperature: 32 }),
          reading('209', t('09:03:00'), { temperature: 33 }),
        ],
      ],
      hostMetadata('30', [2], [t('09:03:01')]),
    );
    expect(logs[0]).toMatch(/^partition 30: 1 events \(0 already processed\), 0 dead letters/);
    const partial = (await documents(cosmos, 'pipelineState')).find((d) => d.id === '30:2-2');
    expect(partial?.['entries']).toEqual([
      expect.objectContaining({
        equipmentId: '209',
        stats: expect.objectContaining({ readings: 2 }),
      }),
    ]);
  });
});
