/**
 * `$management` READ of hub and partition properties. Both SDKs send `operation` READ, `type`
 * (`com.microsoft:eventhub` or `com.microsoft:partition`), `name` (the hub), `partition` and
 * `security_token` as application properties (Azure/azure-sdk-for-net,
 * sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpManagement.cs; @azure/event-hubs
 * `ManagementClient`) and read the answer's body as a map.
 */
import rhea from 'rhea';
import type { Connection, Message } from 'rhea';
import { authorised, covers, resourcePath } from './access.js';
import { invalidPartition, stringProperty } from './amqp.js';
import { respond, type Reply } from './replies.js';
import { SasTokenError, verifySasToken, type AccessRight } from './sas.js';
import type { Hub, StandInState } from './state.js';

const anyRight: readonly AccessRight[] = ['Send', 'Listen', 'Manage'];

/** Handles one request on `$management` and answers it. */
export function handleManagementRequest(
  state: StandInState,
  connection: Connection,
  request: Message,
): void {
  respond(state, connection, request, read(state, connection, request));
}

function read(state: StandInState, connection: Connection, request: Message): Reply {
  const props = request.application_properties;
  const operation = stringProperty(props, 'operation');
  const name = stringProperty(props, 'name') ?? '';
  if (operation !== 'READ') {
    return failure(501, `Operation '${operation ?? ''}' is not supported.`, 'amqp:not-implemented');
  }
  const hub = state.hubs.get(name.toLowerCase());
  if (!hub) {
    return failure(404, `The messaging entity '${name}' could not be found.`, 'amqp:not-found');
  }
  if (!mayRead(state, connection, hub, stringProperty(props, 'security_token'))) {
    return failure(401, `Unauthorized access to '${hub.name}'.`, 'amqp:unauthorized-access');
  }
  const type = stringProperty(props, 'type');
  if (type === 'com.microsoft:eventhub') return hubProperties(hub);
  if (type === 'com.microsoft:partition') {
    return partitionProperties(hub, stringProperty(props, 'partition') ?? '');
  }
  return failure(400, `Unknown type '${type ?? ''}'.`, 'com.microsoft:argument-error');
}

function failure(statusCode: number, statusDescription: string, errorCondition: string): Reply {
  return { statusCode, statusDescription, errorCondition };
}

/**
 * Reads need a claim on the hub (any right: the service lets a send-only device read partition
 * ids), from put-token on this connection (the JS SDK) or the request's own token (the .NET
 * SDK sends one with every request and no put-token).
 */
function mayRead(
  state: StandInState,
  connection: Connection,
  hub: Hub,
  securityToken: string | undefined,
): boolean {
  const hubPath = hub.name.toLowerCase();
  const claimed = [hubPath, `${hubPath}/$management`].some((path) =>
    anyRight.some((right) => authorised(state, connection, path, right)),
  );
  if (claimed || !securityToken) return claimed;
  try {
    const { fields } = verifySasToken(securityToken, state.keys);
    return covers(resourcePath(fields.resource), hubPath);
  } catch (error) {
    if (error instanceof SasTokenError) return false;
    throw error;
  }
}

function hubProperties(hub: Hub): Reply {
  return {
    statusCode: 200,
    statusDescription: 'OK',
    body: {
      name: hub.name,
      type: 'com.microsoft:eventhub',
      created_at: hub.createdAt,
      partition_count: hub.partitionIds.length,
      // An AMQP array of strings, not a list: the .NET client casts it to string[]
      // (Azure/azure-sdk-for-net, sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/
      // AmqpMessageConverter.cs `CreateEventHubPropertiesFromResponse`).
      partition_ids: rhea.types.wrap_array([...hub.partitionIds], 0xb1, undefined),
    },
  };
}

function partitionProperties(hub: Hub, id: string): Reply {
  const partition = hub.partitions.get(id);
  if (!partition) {
    const error = invalidPartition(hub);
    return failure(400, error.description, error.condition);
  }
  const p = partition.properties();
  return {
    statusCode: 200,
    statusDescription: 'OK',
    body: {
      name: hub.name,
      type: 'com.microsoft:partition',
      partition: id,
      begin_sequence_number: rhea.types.wrap_long(p.beginSequenceNumber),
      last_enqueued_sequence_number: rhea.types.wrap_long(p.lastSequenceNumber),
      last_enqueued_offset: p.lastOffset,
      last_enqueued_time_utc: new Date(p.lastEnqueuedTime),
      is_partition_empty: p.isEmpty,
    },
  };
}
