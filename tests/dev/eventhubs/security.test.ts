/**
 * Claims-based security of the Event Hubs stand-in through the real SDK: tokens are verified
 * against the configured keys, and a key's rights decide which links it may open.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken, type EventHubsStandIn } from '../../../dev/eventhubs/index.js';
import { fastRetry, keys, receive, startTestStandIn } from './helpers.js';

let standIn: EventHubsStandIn;
const clients: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  standIn = await startTestStandIn();
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await standIn.stop();
});

function producerFor(connectionString: string): EventHubProducerClient {
  const client = new EventHubProducerClient(connectionString, fastRetry);
  clients.push(client);
  return client;
}

/** A connection string carrying a ready-made token, the SAS form the SDK accepts. */
function withToken(token: string): string {
  return `Endpoint=sb://127.0.0.1:${standIn.port};SharedAccessSignature=${token};EntityPath=telemetry;UseDevelopmentEmulator=true`;
}

const resource = () => `sb://127.0.0.1:${standIn.port}/telemetry`;
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe('tokens', () => {
  it('accepts a token signed with a configured key, from a connection string or ready-made', async () => {
    await expect(
      producerFor(standIn.connectionString('device')).getPartitionIds(),
    ).resolves.toHaveLength(4);
    const token = createSasToken({
      resource: resource(),
      keyName: 'app',
      key: keys.app,
      expiry: inAnHour(),
    });
    const producer = producerFor(withToken(token));
    await producer.sendBatch([{ body: 'with a token' }], { partitionId: '0' });
  });

  it('refuses a bad signature (wrong key) as unauthorized', async () => {
    const wrong = standIn.connectionString('app').replace(keys.app, 'not-the-key');
    const producer = producerFor(wrong);
    await expect(producer.sendBatch([{ body: 'x' }], { partitionId: '0' })).rejects.toMatchObject({
      code: 'UnauthorizedError',
      message: expect.stringContaining('InvalidSignature') as unknown,
    });
    await expect(producer.getEventHubProperties()).rejects.toMatchObject({
      code: 'UnauthorizedError',
    });
  });

  it('refuses an unknown key name the same way', async () => {
    const token = createSasToken({
      resource: resource(),
      keyName: 'nobody',
      key: keys.app,
      expiry: inAnHour(),
    });
    await expect(producerFor(withToken(token)).getPartitionIds()).rejects.toMatchObject({
      code: 'UnauthorizedError',
    });
  });

  it('refuses an expired token', async () => {
    const token = createSasToken({
      resource: resource(),
      keyName: 'app',
      key: keys.app,
      expiry: Math.floor(Date.now() / 1000) - 60,
    });
    await expect(
      producerFor(withToken(token)).sendBatch([{ body: 'x' }], { partitionId: '0' }),
    ).rejects.toMatchObject({
      code: 'UnauthorizedError',
      message: expect.stringContaining('ExpiredToken') as unknown,
    });
  });

  it('detaches links when their token expires, and refuses it when put again', async () => {
    const token = createSasToken({
      resource: resource(),
      keyName: 'app',
      key: keys.app,
      expiry: Math.floor(Date.now() / 1000) + 2,
    });
    const producer = producerFor(withToken(token));
    await producer.sendBatch([{ body: 'while valid' }], { partitionId: '0' });
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    await expect(producer.sendBatch([{ body: 'x' }], { partitionId: '0' })).rejects.toMatchObject({
      code: 'UnauthorizedError',
    });
  });

  it('refuses a token whose resource does not cover the entity', async () => {
    const token = createSasToken({
      resource: `sb://127.0.0.1:${standIn.port}/other-hub`,
      keyName: 'app',
      key: keys.app,
      expiry: inAnHour(),
    });
    await expect(
      producerFor(withToken(token)).sendBatch([{ body: 'x' }], { partitionId: '0' }),
    ).rejects.toMatchObject({ code: 'UnauthorizedError' });
  });
});

describe('rights', () => {
  it('lets a send-only device key publish but not receive', async () => {
    const device = producerFor(standIn.connectionString('device'));
    await device.sendBatch([{ body: 'from a device' }], { partitionKey: 'equipment-3' });

    const consumer = new EventHubConsumerClient(
      '$Default',
      standIn.connectionString('device'),
      fastRetry,
    );
    clients.push(consumer);
    const { events, errors } = await receive(consumer, '0', earliestEventPosition, 1, {
      stopOnError: true,
    });
    expect(events).toEqual([]);
    expect(errors[0]).toMatchObject({
      code: 'UnauthorizedError',
      message: expect.stringContaining("'Listen' claim(s) are required") as unknown,
    });
  });

  it('holds a token to the resource it names: one partition does not cover another', async () => {
    const token = createSasToken({
      resource: `sb://127.0.0.1:${standIn.port}/telemetry/Partitions/0`,
      keyName: 'app',
      key: keys.app,
      expiry: inAnHour(),
    });
    const producer = producerFor(withToken(token));
    await producer.sendBatch([{ body: 'partition 0 only' }], { partitionId: '0' });
    await expect(producer.sendBatch([{ body: 'x' }], { partitionId: '1' })).rejects.toMatchObject({
      code: 'UnauthorizedError',
    });
  });

  it('lets the manage key do everything', async () => {
    const root = standIn.connectionString('RootManageSharedAccessKey');
    await producerFor(root).sendBatch([{ body: 'root' }], { partitionId: '3' });
    const consumer = new EventHubConsumerClient('$Default', root, fastRetry);
    clients.push(consumer);
    const { events, errors } = await receive(consumer, '3', earliestEventPosition, 1);
    expect(errors).toEqual([]);
    expect(events.map((e) => e.body as unknown)).toContain('root');
  });
});
