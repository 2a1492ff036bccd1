/**
 * Publishing links: a client's sending link to `<hub>` or `<hub>/Partitions/<id>`. Deliveries
 * are SDK batches (message format 0x80013700, each data section an encoded event) or single
 * messages (format 0); a partition key picks the partition by the service's hash, no key goes
 * round robin. Each delivery is accepted once stored, or rejected with the service's condition.
 */
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Message, Receiver } from 'rhea';
import { requireRight } from './access.js';
import { amqpError, invalidPartition, localAttach, refuse, stringProperty } from './amqp.js';
import type { IncomingEvent } from './partition.js';
import { partitionIndexForKey } from './partitionKey.js';
import { connectionState, type Hub, type StandInState } from './state.js';

/** AMQP message format of the SDKs' batched sends: data sections, each an encoded message. */
const batchMessageFormat = 0x80013700;
/** The service's limit for one send, which the SDKs read from the attach to size batches. */
const maxMessageSize = 1024 * 1024;

/** Accepts (or refuses) a client's sending link to a hub or one of its partitions. */
export function openPublishLink(
  state: StandInState,
  connection: Connection,
  link: Receiver,
  path: readonly string[],
  address: string,
): void {
  const hub = state.hubs.get(path[0] ?? '');
  const partitionId = path.length === 3 && path[1] === 'partitions' ? path[2] : undefined;
  if (!hub || (path.length !== 1 && partitionId === undefined)) {
    refuse(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
    return;
  }
  if (partitionId !== undefined && !hub.partitions.has(partitionId)) {
    link.close(invalidPartition(hub));
    return;
  }
  const resource = path.join('/');
  if (!requireRight(state, link, connection, resource, 'Send')) return;
  localAttach(link).max_message_size = maxMessageSize;
  state.inbound.set(link, { kind: 'publish', hub, partitionId });
  connectionState(state, connection).guarded.set(link, { path: resource, right: 'Send' });
}

/** The events of one delivery and the partition key its envelope carries. */
interface Decoded {
  events: IncomingEvent[];
  partitionKey: string | undefined;
  size: number;
}

/**
 * Reads a delivery. rhea decodes format 0 into a message and, for any other format, hands over
 * the raw bytes, whatever its typings say; both are checked here rather than assumed.
 */
function decode(delivery: Delivery, payload: unknown): Decoded | undefined {
  if (delivery.format === batchMessageFormat && Buffer.isBuffer(payload)) {
    const envelope: unknown = rhea.message.decode(payload);
    if (!isMessage(envelope)) return undefined;
    const partitionKey = stringProperty(envelope.message_annotations, 'x-opt-partition-key');
    return {
      events: dataSections(envelope.body).map((encoded) => ({ encoded, partitionKey })),
      partitionKey,
      size: payload.length,
    };
  }
  if (delivery.format === 0 && isMessage(payload)) {
    const encoded = rhea.message.encode(payload);
    const partitionKey = stringProperty(payload.message_annotations, 'x-opt-partition-key');
    return { events: [{ encoded, partitionKey }], partitionKey, size: encoded.length };
  }
  return undefined;
}

function isMessage(payload: unknown): payload is Message {
  return typeof payload === 'object' && payload !== null && !Buffer.isBuffer(payload);
}

/** Reads an AMQP message body section (rhea's `Section`) as the buffers of its data sections. */
function dataSections(body: unknown): Buffer[] {
  if (Buffer.isBuffer(body)) return [body];
  if (typeof body !== 'object' || body === null || !('typecode' in body)) return [];
  if (body.typecode !== 0x75 || !('content' in body)) return [];
  const { content } = body;
  if ('multiple' in body && body.multiple === true && Array.isArray(content)) {
    return content.filter((c): c is Buffer => Buffer.isBuffer(c));
  }
  return Buffer.isBuffer(content) ? [content] : [];
}

/** The partition a delivery goes to: the link's, the key's hash, or the next in turn. */
function partitionFor(
  hub: Hub,
  linkPartition: string | undefined,
  key: string | undefined,
): string | undefined {
  if (linkPartition !== undefined) return linkPartition;
  if (key !== undefined) {
    return hub.partitionIds[partitionIndexForKey(key, hub.partitionIds.length)];
  }
  const next = hub.partitionIds[hub.roundRobin % hub.partitionIds.length];
  hub.roundRobin += 1;
  return next;
}

/** Stores one delivery on a publishing link and settles it. */
export function publish(
  context: EventContext,
  target: { readonly hub: Hub; readonly partitionId: string | undefined },
): void {
  const { delivery } = context;
  if (!delivery) return;
  const payload: unknown = context.message;
  const decoded = decode(delivery, payload);
  if (!decoded) {
    delivery.reject(
      amqpError('amqp:not-implemented', `Message format ${delivery.format} is not supported.`),
    );
    return;
  }
  if (decoded.size > maxMessageSize) {
    delivery.reject(
      amqpError(
        'amqp:link:message-size-exceeded',
        `The received message (size ${decoded.size} bytes) exceeds the limit (${maxMessageSize} bytes).`,
      ),
    );
    return;
  }
  if (decoded.events.length === 0) {
    delivery.reject(amqpError('com.microsoft:argument-error', 'The batch holds no events.'));
    return;
  }
  const partitionId = partitionFor(target.hub, target.partitionId, decoded.partitionKey);
  const partition = partitionId === undefined ? undefined : target.hub.partitions.get(partitionId);
  if (!partition) {
    delivery.reject(
      amqpError('amqp:not-found', `Partition '${partitionId ?? ''}' does not exist.`),
    );
    return;
  }
  try {
    partition.append(decoded.events);
  } catch (error) {
    delivery.reject(
      amqpError(
        'com.microsoft:argument-error',
        `The message could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
    return;
  }
  delivery.accept();
}
