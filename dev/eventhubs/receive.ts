/**
 * Receive links: a client's receiving link on `<hub>/ConsumerGroups/<group>/Partitions/<id>`
 * with a start-position filter, the `com.microsoft:epoch` link property (the SDKs' owner level)
 * and the `com.microsoft:enable-receiver-runtime-metric` capability (Azure/azure-sdk-for-net,
 * sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpConnectionScope.cs
 * `CreateReceivingLinkAsync`; @azure/event-hubs `PartitionReceiver`). Events go out pre-settled
 * and as the link's credit allows.
 */
import rhea from 'rhea';
import type { Connection, Sender } from 'rhea';
import { requireRight } from './access.js';
import {
  amqpError,
  invalidPartition,
  localAttach,
  mapEntry,
  refuse,
  stringProperty,
} from './amqp.js';
import { FilterError, startPositionFromFilter } from './filter.js';
import { StartPositionOutOfRangeError, encodeAnnotationsSection } from './partition.js';
import type { PartitionLog } from './partition.js';
import { connectionState, type ActiveReceiver, type StandInState } from './state.js';

/** The service allows this many non-exclusive receivers per partition and consumer group. */
const maxNonEpochReceivers = 5;
const epochProperty = 'com.microsoft:epoch';
const receiverNameProperty = 'com.microsoft:receiver-name';
const runtimeMetricCapability = 'com.microsoft:enable-receiver-runtime-metric';

/** Whether a link address is a receive address: `hub/consumergroups/group/partitions/id`. */
export function isReceivePath(path: readonly string[]): boolean {
  return path.length === 5 && path[1] === 'consumergroups' && path[3] === 'partitions';
}

/** Sends the receiver what its credit allows, from its next sequence number on. */
export function pump(receiver: ActiveReceiver): void {
  const { link, partition } = receiver;
  if (!receiver.attachWritten) return;
  while (link.is_open() && link.sendable()) {
    const begin = partition.beginSequenceNumber;
    // Events the receiver had not reached yet may have aged out; it continues after them.
    if (receiver.next < begin) receiver.next = begin;
    const event = partition.get(receiver.next);
    if (!event) return;
    let deliveryAnnotations: Buffer = Buffer.alloc(0);
    if (receiver.runtimeMetric) {
      const p = partition.properties();
      deliveryAnnotations = encodeAnnotationsSection(0x71, {
        last_enqueued_sequence_number: rhea.types.wrap_long(p.lastSequenceNumber),
        last_enqueued_offset: p.lastOffset,
        last_enqueued_time_utc: new Date(p.lastEnqueuedTime),
        runtime_info_retrieval_time_utc: new Date(),
      });
    }
    link.send(Buffer.concat([event.header, deliveryAnnotations, event.tail]), undefined, 0);
    receiver.next += 1;
  }
}

/** Forgets a receiver (its link closed, was stolen, or its connection went). */
export function removeReceiver(state: StandInState, receiver: ActiveReceiver): void {
  receiver.stopListening();
  state.receivers.get(receiver.registryKey)?.delete(receiver);
  state.connections.get(receiver.connection)?.receivers.delete(receiver);
}

/** The partition a receive address names, or why there is none (the link is then refused). */
function resolvePartition(
  state: StandInState,
  link: Sender,
  path: readonly string[],
): PartitionLog | undefined {
  const [hubName = '', , groupName = '', , partitionId = ''] = path;
  const hub = state.hubs.get(hubName);
  if (!hub?.consumerGroups.has(groupName)) {
    refuse(link, 'amqp:not-found', `The messaging entity '${path.join('/')}' could not be found.`);
    return undefined;
  }
  const partition = hub.partitions.get(partitionId);
  if (!partition) link.close(invalidPartition(hub));
  return partition;
}

/** The first sequence number to deliver, from the link's filter; refuses the link if invalid. */
function startSequence(link: Sender, partition: PartitionLog): number | undefined {
  try {
    return partition.startSequence(startPositionFromFilter(link.source.filter));
  } catch (error) {
    if (error instanceof FilterError) {
      refuse(link, 'com.microsoft:argument-error', error.message);
    } else if (error instanceof StartPositionOutOfRangeError) {
      refuse(link, 'com.microsoft:argument-out-of-range', error.message);
    } else throw error;
    return undefined;
  }
}

/**
 * Applies the service's epoch rules for a new receiver on a partition and group that `existing`
 * already read: an equal or higher epoch takes the partition from everyone (they are detached
 * with `amqp:link:stolen`); a lower epoch, or none, is refused while an epoch receiver holds
 * it; without epochs, five receivers are allowed. Returns whether the new one may open.
 */
function admit(
  state: StandInState,
  link: Sender,
  existing: ReadonlySet<ActiveReceiver>,
  epoch: number | undefined,
  name: string,
): boolean {
  const epochHolders = [...existing].filter((r) => r.epoch !== undefined);
  const highest = Math.max(...epochHolders.map((r) => r.epoch ?? -Infinity));
  if (epoch === undefined) {
    if (epochHolders.length > 0) {
      refuse(
        link,
        'amqp:link:stolen',
        `At least one receiver for the endpoint is created with epoch of '${highest}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
      );
      return false;
    }
    if (existing.size >= maxNonEpochReceivers) {
      refuse(
        link,
        'amqp:resource-limit-exceeded',
        `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${maxNonEpochReceivers}.`,
      );
      return false;
    }
    return true;
  }
  if (epochHolders.length > 0 && highest > epoch) {
    refuse(
      link,
      'amqp:link:stolen',
      `Receiver '${name}' with a higher epoch '${highest}' already exists. Receiver '${name}' with epoch ${epoch} cannot be created. Make sure you are creating receiver with increasing epoch value to ensure connectivity, or ensure all old epoch receivers are closed or disconnected.`,
    );
    return false;
  }
  for (const other of [...existing]) {
    removeReceiver(state, other);
    other.link.close(
      amqpError(
        'amqp:link:stolen',
        `New receiver '${name}' with higher epoch of '${epoch}' is created hence current receiver '${other.name}' with epoch '${other.epoch ?? 'nil'}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
      ),
    );
  }
  return true;
}

/** Accepts (or refuses) a client's receiving link on a partition of a consumer group. */
export function openReceiver(
  state: StandInState,
  connection: Connection,
  link: Sender,
  path: readonly string[],
): void {
  const partition = resolvePartition(state, link, path);
  if (!partition) return;
  const resource = path.join('/');
  if (!requireRight(state, link, connection, resource, 'Listen')) return;
  const next = startSequence(link, partition);
  if (next === undefined) return;
  const rawEpoch = mapEntry(link.properties, epochProperty);
  const epoch = typeof rawEpoch === 'number' ? rawEpoch : undefined;
  const name = stringProperty(link.properties, receiverNameProperty) ?? 'nil';
  const registryKey = resource;
  const existing = state.receivers.get(registryKey) ?? new Set<ActiveReceiver>();
  state.receivers.set(registryKey, existing);
  if (!admit(state, link, existing, epoch, name)) return;

  const desired: unknown = link.desired_capabilities;
  const runtimeMetric = Array.isArray(desired)
    ? desired.includes(runtimeMetricCapability)
    : desired === runtimeMetricCapability;
  const attach = localAttach(link);
  attach.snd_settle_mode = 1; // events go out pre-settled, as the service sends them
  if (runtimeMetric) attach.offered_capabilities = [runtimeMetricCapability];
  link.set_source({ address: link.source.address });
  link.set_target(link.target);
  const receiver: ActiveReceiver = {
    link,
    connection,
    registryKey,
    partition,
    epoch,
    name,
    runtimeMetric,
    next,
    attachWritten: false,
    stopListening: () => undefined,
  };
  receiver.stopListening = partition.onAppend(() => {
    pump(receiver);
  });
  existing.add(receiver);
  const perConnection = connectionState(state, connection);
  perConnection.receivers.add(receiver);
  perConnection.guarded.set(link, { path: resource, right: 'Listen', receiver });
  state.activeReceivers.set(link, receiver);
  // rhea writes a session's queued transfers before its links' attach frames
  // (rhea/lib/session.js `_process`), on the next tick. A client's flow often arrives with its
  // attach, so events pumped now would reach it before our attach: Microsoft.Azure.Amqp then
  // closes the session and the .NET consumer fails with "The AMQP object ... is aborted".
  // setImmediate runs after that tick's output.
  setImmediate(() => {
    receiver.attachWritten = true;
    pump(receiver);
  });
}
