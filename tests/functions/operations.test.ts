/**
 * /api/operations over real sources: dead letters the real pipeline wrote (through the
 * Event Hub handler), alerts owed a delivery in the local Cosmos server, and the lag of
 * each partition asked of the Event Hubs stand-in over AMQP. One source going away (the hub)
 * leaves the other parts answered.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventHubsStandIn, type EventHubsStandIn } from '../../dev/eventhubs/index.js';
import { operationsSchema } from '../../lib/api/operations.js';
import { withOutcome } from '../../lib/fanout/outbox.js';
import { temperatureAlert } from '../helpers/alerts.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';
import { insertEquipment, type Json, PartitionFeed, reading } from '../helpers/telemetry.js';

let eventHubs: EventHubsStandIn;
let eventHubsStopped = false;
beforeAll(async () => {
  eventHubs = await startEventHubsStandIn({
    port: 0,
    hubs: [{ name: 'telemetry', partitions: 2 }],
    keys: [{ name: 'app', key: 'b3BlcmF0aW9ucy10ZXN0LWtleQ==', rights: ['Listen', 'Send'] }],
  });
});
afterAll(async () => {
  if (!eventHubsStopped) await eventHubs.stop();
});
const db = useTestDatabase();
const issuer = useTestIssuer();
const cosmos = useAppCosmos();
useAppWebPubSub();
useAppSettings(() => ({
  EventHubConnection: eventHubs.connectionString('app'),
  EVENTHUB_NAME: 'telemetry',
  EVENTHUB_CONSUMER_GROUP: '$Default',
}));

const tokens = { admin: '', technician: '' };
const getOperations = (token: string = tokens.admin) => call('GET', '/api/operations', { token });

/** `minutes` before the test started, as ISO 8601: the handler's hour is counted from its now. */
const startedMs = Date.now();
const minutesAgo = (minutes: number, plusSeconds = 0) =>
  new Date(startedMs - minutes * 60_000 + plusSeconds * 1000).toISOString();

beforeAll(async () => {
  await insertEquipment(db.pool, 41);
  tokens.admin = await issuer.token(['Admin'], 'admin-ada');
  tokens.technician = await issuer.token(['Technician'], 'tech-dana');
  // Partition 0 through the real handler: sequence numbers 0 to 5.
  const feed = new PartitionFeed('0');
  await feed.send([
    // Two hours ago: outside the hour.
    ['not json at all', minutesAgo(120)],
    // Within the hour: malformed; invalid (41 is registered); unregistered (99 is not); one
    // array event that loses a reading to each of both reasons; one good reading.
    ['still not json', minutesAgo(10)],
    [JSON.stringify(reading('41', minutesAgo(10, 1), { temperature: 300 })), minutesAgo(10, 1)],
    [JSON.stringify(reading('99', minutesAgo(10, 2), { temperature: 40 })), minutesAgo(10, 2)],
    [
      JSON.stringify([
        reading('41', minutesAgo(10, 3), { temperature: 300 }),
        reading('98', minutesAgo(10, 3), { temperature: 40 }),
      ]),
      minutesAgo(10, 3),
    ],
    [JSON.stringify(reading('41', minutesAgo(10, 4), { temperature: 40 })), minutesAgo(10, 4)],
  ]);
});

describe('GET /api/operations', () => {
  it('is for admins only', async () => {
    expectProblem(await call('GET', '/api/operations'), 401, '/api/operations');
    expectProblem(await getOperations(tokens.technician), 403, '/api/operations');
  });

  it('counts the last hour’s dead letters by reason, each linking to exactly those letters', async () => {
    const result = await getOperations();
    expect(result.status, result.text).toBe(200);
    const body = operationsSchema.parse(result.body);
    expect(body.unavailable).toEqual([]);
    const letters = body.deadLetters;
    // Four events lost readings within the hour; the array event counts under both reasons.
    expect(letters?.total).toBe(4);
    expect(letters?.byReason.map(({ reason, count }) => [reason, count])).toEqual([
      ['invalid', 2],
      ['unregistered', 2],
      ['malformed', 1],
    ]);
    // Each link is the dead-letter listing with its filter: it lists what was counted.
    for (const { href, count } of letters?.byReason ?? []) {
      // Relative to the route: /api/operations → /api/dead-letters?….
      const listed = await call('GET', new URL(href, 'http://h/api/operations').href, {
        token: tokens.admin,
      });
      expect(listed.status, listed.text).toBe(200);
      expect((listed.body.items as Json[]).length).toBe(count);
    }
    const all = await call('GET', new URL(letters?.href ?? '', 'http://h/api/operations').href, {
      token: tokens.admin,
    });
    expect((all.body.items as Json[]).map((d) => d.id).sort()).toEqual([
      '0:1',
      '0:2',
      '0:3',
      '0:4',
    ]);
  });

  it('counts the alerts still owed a delivery, and how long the oldest has waited', async () => {
    const before = operationsSchema.parse((await getOperations()).body);
    expect(before.deliveryBacklog).toEqual({
      pending: 0,
      oldestPendingSince: null,
      oldestPendingAgeSeconds: null,
    });
    // Three alerts stored as the pipeline stores them, owing their delivery, and one whose
    // delivery was recorded as done.
    const windowStart = Date.parse('2026-06-02T10:00:00Z');
    for (const id of ['201', '202', '203']) {
      await cosmos.containers.alerts.items.create(temperatureAlert(id, 95, windowStart));
    }
    const delivered = withOutcome(temperatureAlert('204', 95, windowStart), [], startedMs);
    expect(delivered.deliveryPending).toBeUndefined();
    await cosmos.containers.alerts.items.create(delivered);

    const after = operationsSchema.parse((await getOperations()).body);
    expect(after.deliveryBacklog?.pending).toBe(3);
    expect(after.deliveryBacklog?.oldestPendingSince).toEqual(expect.any(String));
    expect(after.deliveryBacklog?.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('measures each partition’s lag against the hub, consumed or not', async () => {
    const producer = new EventHubProducerClient(eventHubs.connectionString('app'), 'telemetry');
    try {
      const send = async (partitionId: string, count: number) => {
        const batch = await producer.createBatch({ partitionId });
        for (let i = 0; i < count; i++) batch.tryAdd({ body: { i } });
        await producer.sendBatch(batch);
      };
      // The hub's partition 0 holds sequence numbers 0 to 9; the pipeline committed 0 to 5.
      await send('0', 10);
      // Partition 1 was never consumed: all three of its events are behind.
      await send('1', 3);
    } finally {
      await producer.close();
    }
    const body = operationsSchema.parse((await getOperations()).body);
    const partitions = body.pipelineLag?.partitions ?? [];
    expect(partitions.map((p) => [p.partitionId, p.events, p.lastSequenceNumber])).toEqual([
      ['0', 4, 5],
      ['1', 3, null],
    ]);
    // Partition 0's newest event was enqueued after the newest one committed (ten minutes
    // before the test began); an uncommitted partition has no committed time to compare.
    expect(partitions[0]?.seconds).toBeGreaterThan(0);
    expect(partitions[1]?.seconds).toBe(0);
  });

  it('answers the other parts when Event Hubs is unreachable, naming the part it could not read', async () => {
    await eventHubs.stop();
    eventHubsStopped = true;
    const result = await getOperations();
    expect(result.status, result.text).toBe(200);
    const body = operationsSchema.parse(result.body);
    expect(body.pipelineLag).toBeNull();
    expect(body.unavailable).toEqual([{ part: 'pipelineLag', detail: expect.any(String) }]);
    // Neither the hub's address nor the SDK's error reaches the caller; the log has the cause.
    expect(result.text).not.toContain('127.0.0.1');
    expect(result.logs.join('\n')).toContain('pipelineLag unavailable');
    expect(body.deadLetters?.total).toBe(4);
    expect(body.deliveryBacklog?.pending).toBe(3);
  });
});
