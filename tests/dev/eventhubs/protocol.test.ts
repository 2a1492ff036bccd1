/**
 * The stand-in at the AMQP level, with a bare rhea client instead of the SDK: SASL ANONYMOUS,
 * links refused without a claim, put-token answers, single (non-batch) messages, filters.
 */
import rhea from 'rhea';
import type { Connection, EventContext, Message } from 'rhea';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createSasToken,
  partitionIndexForKey,
  type EventHubsStandIn,
} from '../../../dev/eventhubs/index.js';
import { keys, startTestStandIn } from './helpers.js';

let standIn: EventHubsStandIn;
let connection: Connection;

/** Resolves with the first of `events` the emitter fires, or rejects after 5 s. */
function next(
  emitter: { once(event: string, listener: (context: EventContext) => void): unknown },
  ...events: string[]
): Promise<{ event: string; context: EventContext }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`none of ${events.join(', ')} within 5 s`));
    }, 5_000);
    for (const event of events) {
      emitter.once(event, (context) => {
        clearTimeout(timer);
        resolve({ event, context });
      });
    }
  });
}

beforeAll(async () => {
  standIn = await startTestStandIn();
  const container = rhea.create_container();
  container.on('error', () => undefined);
  connection = container.connect({
    host: '127.0.0.1',
    port: standIn.port,
    username: 'app', // no password: rhea offers SASL ANONYMOUS, as the SDK does
    reconnect: false,
  });
  await next(connection, 'connection_open');
});

afterAll(async () => {
  connection.close();
  await standIn.stop();
});

let requestCount = 0;

async function putToken(audience: string, token: string): Promise<Record<string, unknown>> {
  requestCount += 1;
  // Link names are unique per connection, so each round trip gets its own reply link.
  const replyTo = `cbs-reply-${requestCount}`;
  const replies = connection.open_receiver({ source: { address: '$cbs' }, name: replyTo });
  const requests = connection.open_sender({ target: { address: '$cbs' } });
  await next(requests, 'sendable');
  const response = next(replies, 'message');
  requests.send({
    message_id: `req-${requestCount}`,
    reply_to: replyTo,
    to: '$cbs',
    application_properties: {
      operation: 'put-token',
      name: audience,
      type: 'servicebus.windows.net:sastoken',
    },
    body: token,
  });
  const { context } = await response;
  requests.close();
  replies.close();
  expect(context.message?.correlation_id).toBe(`req-${requestCount}`);
  return context.message?.application_properties as Record<string, unknown>;
}

const audience = () => `sb://127.0.0.1:${standIn.port}/telemetry`;

it('refuses a link before any token was put', async () => {
  // Its own session, as the SDK uses per link, so the refusal cannot disturb later tests.
  const session = connection.create_session();
  session.begin();
  const sender = session.open_sender({ target: { address: 'telemetry' } });
  const { event } = await next(sender, 'sender_error', 'sendable');
  expect(event).toBe('sender_error');
  expect(sender.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
});

it('answers put-token: 401 for a bad signature, 202 for a good one', async () => {
  const expiry = Math.floor(Date.now() / 1000) + 600;
  const bad = createSasToken({ resource: audience(), keyName: 'app', key: 'nope', expiry });
  expect(await putToken(audience(), bad)).toMatchObject({
    'status-code': 401,
    'status-description': expect.stringContaining('InvalidSignature') as unknown,
  });
  const good = createSasToken({ resource: audience(), keyName: 'app', key: keys.app, expiry });
  expect(await putToken(audience(), good)).toMatchObject({ 'status-code': 202 });
});

it('stores a single (non-batch) message by key and serves it back with annotations', async () => {
  const sender = connection.open_sender({ target: { address: 'telemetry' } });
  await next(sender, 'sendable');
  const message: Message = {
    body: 'single',
    message_annotations: { 'x-opt-partition-key': 'raw-key' },
    application_properties: { source: 'rhea' },
  };
  sender.send(message);
  const { event } = await next(sender, 'accepted', 'rejected');
  expect(event).toBe('accepted');
  sender.close();

  const partition = partitionIndexForKey('raw-key', 4);
  const receiver = connection.open_receiver({
    source: {
      address: `telemetry/ConsumerGroups/$Default/Partitions/${partition}`,
      filter: {
        'apache.org:selector-filter:string': rhea.types.wrap_described(
          "amqp.annotation.x-opt-offset > '-1'",
          0x468c00000004,
        ),
      },
    },
  });
  const { context } = await next(receiver, 'message');
  receiver.close();
  expect(context.message?.body).toBe('single');
  expect(context.message?.application_properties).toEqual({ source: 'rhea' });
  expect(context.message?.message_annotations).toMatchObject({
    'x-opt-partition-key': 'raw-key',
    'x-opt-sequence-number': 0,
    'x-opt-offset': '0',
  });
});

it('refuses a receiver with a filter it does not understand', async () => {
  const session = connection.create_session();
  session.begin();
  const receiver = session.open_receiver({
    source: {
      address: 'telemetry/ConsumerGroups/$Default/Partitions/0',
      filter: { 'apache.org:selector-filter:string': "amqp.annotation.x-opt-offset < '5'" },
    },
  });
  const { event } = await next(receiver, 'receiver_error', 'message');
  expect(event).toBe('receiver_error');
  expect(receiver.error).toMatchObject({ condition: 'com.microsoft:argument-error' });
});
