/**
 * A local stand-in for Azure Event Hubs that the real `@azure/event-hubs` SDK talks to over AMQP
 * 1.0 on loopback (`UseDevelopmentEmulator=true` connection strings: plain TCP, SASL ANONYMOUS,
 * then claims-based security over the `$cbs` node). It speaks what the SDK uses, the way the
 * service answers it: `put-token` with SAS tokens checked against the configured keys and their
 * rights, `$management` READ of hub and partition properties, publishing to a hub (partition by
 * key hash or round robin) or to a partition, receiving per consumer group and partition from any
 * start position with credit-based flow, and exclusive (epoch) receivers. Retention is in memory
 * and bounded (see {@link RetentionPolicy}); nothing survives {@link EventHubsStandIn.stop}.
 */
import type { Socket } from 'node:net';
import rhea from 'rhea';
import type { AmqpError, Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import { FilterError, startPositionFromFilter } from './filter.js';
import {
  PartitionLog,
  StartPositionOutOfRangeError,
  defaultRetention,
  encodeAnnotationsSection,
  type IncomingEvent,
  type RetentionPolicy,
} from './partition.js';
import { partitionIndexForKey } from './partitionKey.js';
import { saslServerMechanisms } from './sasl.js';
import {
  SasTokenError,
  effectiveRights,
  verifySasToken,
  type AccessRight,
  type SharedAccessKey,
} from './sas.js';

/** One event hub the stand-in hosts. */
export interface EventHubConfig {
  /** The hub (entity) name; matched case-insensitively, as the service does. */
  name: string;
  /** Partition count; ids are `"0"` … `"n-1"`. */
  partitions: number;
  /** Consumer groups besides `$Default`, which always exists. */
  consumerGroups?: readonly string[];
}

/** Options for {@link startEventHubsStandIn}. */
export interface EventHubsStandInOptions {
  /** A loopback address (`127.0.0.1`, `::1` or `localhost`); default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 5672, the port the SDK assumes for emulators. */
  port?: number;
  hubs: readonly EventHubConfig[];
  /** Shared access policies tokens may be signed with. */
  keys: readonly SharedAccessKey[];
  /** Per-partition retention; defaults in {@link defaultRetention}. */
  retention?: Partial<RetentionPolicy>;
}

/** A running stand-in. */
export interface EventHubsStandIn {
  readonly host: string;
  readonly port: number;
  /**
   * A connection string for a configured key, in the emulator form the SDK understands:
   * `Endpoint=sb://HOST:PORT;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=HUB;UseDevelopmentEmulator=true`.
   * `hubName` defaults to the first configured hub.
   */
  connectionString(keyName: string, hubName?: string): string;
  /** Closes every connection and the listener. */
  stop(): Promise<void>;
}

/** AMQP message format of the SDK's batched sends: data sections, each an encoded message. */
const batchMessageFormat = 0x80013700;
/** The service's limit for one send, which the SDK reads from the attach to size batches. */
const maxMessageSize = 1024 * 1024;
/** The service allows this many non-exclusive receivers per partition and consumer group. */
const maxNonEpochReceivers = 5;
const epochProperty = 'com.microsoft:epoch';
const receiverNameProperty = 'com.microsoft:receiver-name';
const runtimeMetricCapability = 'com.microsoft:enable-receiver-runtime-metric';
const sasTokenType = 'servicebus.windows.net:sastoken';

interface Hub {
  readonly name: string;
  readonly createdAt: Date;
  readonly partitionIds: readonly string[];
  readonly partitions: ReadonlyMap<string, PartitionLog>;
  /** Lower-cased name → configured name. */
  readonly consumerGroups: ReadonlyMap<string, string>;
  roundRobin: number;
}

/** A claim granted by `put-token` on one connection. */
interface Claim {
  /** Normalised resource path (see {@link resourcePath}). */
  readonly path: string;
  readonly rights: ReadonlySet<AccessRight>;
  /** Unix milliseconds. */
  readonly expiresAt: number;
}

/** A link on which the stand-in answers requests (`$cbs`, `$management`). */
interface ReplyLink {
  readonly sender: Sender;
  readonly pending: Message[];
}

/** A consumer's open receive link. */
interface ActiveReceiver {
  readonly link: Sender;
  readonly connection: Connection;
  readonly registryKey: string;
  readonly partition: PartitionLog;
  readonly epoch: number | undefined;
  readonly name: string;
  readonly runtimeMetric: boolean;
  /** Sequence number of the next event to deliver. */
  next: number;
  /** Whether our attach has been written; no transfer may go out before it (see openReceiver). */
  attachWritten: boolean;
  stopListening: () => void;
}

interface ConnectionState {
  claims: Claim[];
  readonly replyLinks: Map<string, ReplyLink>;
  readonly receivers: Set<ActiveReceiver>;
  /** Open entity links and the claim each needs; re-checked as claims expire. */
  readonly guarded: Map<Sender | Receiver, { path: string; right: AccessRight }>;
}

/** What the stand-in does with messages arriving on one of its receiving links. */
type InboundLink =
  | { readonly kind: 'cbs' }
  | { readonly kind: 'management' }
  | { readonly kind: 'publish'; readonly hub: Hub; readonly partitionId: string | undefined };

/** The parts of rhea's link object that its typings leave out: the local attach frame. */
interface LinkInternals {
  local: {
    attach: {
      snd_settle_mode?: number;
      rcv_settle_mode?: number;
      max_message_size?: number;
      offered_capabilities?: unknown;
    };
  };
}

function localAttach(link: Sender | Receiver): LinkInternals['local']['attach'] {
  return (link as unknown as LinkInternals).local.attach;
}

/**
 * Answers an attach with the settle modes the client asked for. The sender's choice is the
 * link's (AMQP 1.0, 2.7.3), and Microsoft.Azure.Amqp adopts whatever the answering attach says
 * ("the service side can override the settle type": Azure/azure-amqp, src/AmqpLink.cs
 * `OnReceiveAttach`). Its request/response links send settled with an empty delivery tag
 * (src/RequestResponseAmqpLink.cs); answered with rhea's default (mixed) they would keep each
 * request unsettled under that same tag until our disposition arrives, and the next request
 * fails with "An item with the same key has already been added".
 */
function echoSettleModes(link: Sender | Receiver): void {
  const attach = localAttach(link);
  attach.snd_settle_mode = link.snd_settle_mode;
  attach.rcv_settle_mode = link.rcv_settle_mode;
}

/**
 * The path part of a resource URI or link address, lower-cased, without scheme, host or
 * surrounding slashes: `sb://127.0.0.1:5672/Telemetry/Partitions/0` → `telemetry/partitions/0`.
 * The host is ignored on purpose: clients reach the stand-in under whatever loopback name they
 * like, and the namespace is implicit.
 */
export function resourcePath(uri: string): string {
  let path = uri.trim();
  const scheme = path.indexOf('://');
  if (scheme >= 0) {
    path = path.slice(scheme + 3);
    const slash = path.indexOf('/');
    path = slash >= 0 ? path.slice(slash + 1) : '';
  }
  return path.replace(/^\/+|\/+$/g, '').toLowerCase();
}

/** Whether a claim (or token) for `scope` covers `path`: the same resource or one below it. */
function covers(scope: string, path: string): boolean {
  return scope === '' || path === scope || path.startsWith(`${scope}/`);
}

/** The service's answer to a partition id the hub does not have (ArgumentOutOfRangeError). */
function invalidPartition(hub: Hub): { condition: string; description: string } {
  return {
    condition: 'com.microsoft:argument-out-of-range',
    description: `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${hub.partitionIds.length - 1}. Parameter name: PartitionId`,
  };
}

function amqpError(condition: string, description: string): AmqpError {
  return { condition, description };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

/** Reads an AMQP message body section (rhea's `Section`) as the buffers of its data sections. */
function dataSections(body: unknown): Buffer[] {
  if (Buffer.isBuffer(body)) return [body];
  const section = body as { typecode?: unknown; content?: unknown; multiple?: unknown } | null;
  if (section?.typecode !== 0x75) return [];
  if (section.multiple === true && Array.isArray(section.content)) {
    return section.content.filter((c): c is Buffer => Buffer.isBuffer(c));
  }
  return Buffer.isBuffer(section.content) ? [section.content] : [];
}

function stringProperty(
  props: Record<string, unknown> | undefined,
  name: string,
): string | undefined {
  const value = props?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Starts the stand-in and resolves once it listens.
 *
 * @example
 * const eh = await startEventHubsStandIn({ port: 0, hubs: [{ name: 'telemetry', partitions: 4 }],
 *   keys: [{ name: 'app', key: 'secret', rights: ['Listen', 'Send'] }] });
 * const producer = new EventHubProducerClient(eh.connectionString('app'));
 */
export async function startEventHubsStandIn(
  options: EventHubsStandInOptions,
): Promise<EventHubsStandIn> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new Error(`The Event Hubs stand-in listens on loopback only, not on '${host}'.`);
  }
  if (options.hubs.length === 0) throw new Error('Configure at least one event hub.');
  const retention: RetentionPolicy = { ...defaultRetention, ...options.retention };
  const keys = [...options.keys];

  const hubs = new Map<string, Hub>();
  for (const config of options.hubs) {
    if (!Number.isInteger(config.partitions) || config.partitions < 1 || config.partitions > 1024) {
      throw new Error(`Hub '${config.name}': partitions must be an integer from 1 to 1024.`);
    }
    const partitionIds = Array.from({ length: config.partitions }, (_, i) => String(i));
    const groups = new Map<string, string>([['$default', '$Default']]);
    for (const group of config.consumerGroups ?? []) groups.set(group.toLowerCase(), group);
    hubs.set(config.name.toLowerCase(), {
      name: config.name,
      createdAt: new Date(),
      partitionIds,
      partitions: new Map(partitionIds.map((id) => [id, new PartitionLog(id, retention)])),
      consumerGroups: groups,
      roundRobin: 0,
    });
  }

  const connections = new Map<Connection, ConnectionState>();
  const inbound = new WeakMap<Receiver, InboundLink>();
  const replyLinkOf = new WeakMap<Sender, ReplyLink>();
  const activeOf = new WeakMap<Sender, ActiveReceiver>();
  /** `hub/group/partition` → its open receivers. */
  const registry = new Map<string, Set<ActiveReceiver>>();

  const stateOf = (connection: Connection): ConnectionState => {
    let state = connections.get(connection);
    if (!state) {
      state = { claims: [], replyLinks: new Map(), receivers: new Set(), guarded: new Map() };
      connections.set(connection, state);
    }
    return state;
  };

  /** Whether the connection holds an unexpired claim with `right` covering `path`. */
  const authorised = (connection: Connection, path: string, right: AccessRight): boolean => {
    const now = Date.now();
    return stateOf(connection).claims.some(
      (c) => c.expiresAt > now && c.rights.has(right) && covers(c.path, path),
    );
  };

  const refuse = (link: Sender | Receiver, condition: string, description: string): void => {
    // rhea has already queued our attach; the detach that follows carries the error, which is
    // how the service refuses a link too.
    link.close(amqpError(condition, description));
  };

  /**
   * Refuses `link` with the service's wording unless the connection holds `right` for
   * `path`; returns whether the link may go on.
   */
  const requireRight = (
    link: Sender | Receiver,
    connection: Connection,
    path: string,
    right: AccessRight,
  ): boolean => {
    if (authorised(connection, path, right)) return true;
    refuse(
      link,
      'amqp:unauthorized-access',
      `Unauthorized access. '${right}' claim(s) are required to perform this operation. Resource: '${path}'.`,
    );
    return false;
  };

  // ---- request/response nodes ($cbs, $management) ----

  const flushReplies = (reply: ReplyLink): void => {
    while (reply.pending.length > 0 && reply.sender.sendable()) {
      const next = reply.pending.shift();
      if (next) reply.sender.send(next);
    }
  };

  const respond = (
    connection: Connection,
    request: Message,
    statusCode: number,
    statusDescription: string,
    body?: unknown,
    errorCondition?: string,
  ): void => {
    const replyTo = request.reply_to;
    if (typeof replyTo !== 'string') return; // nobody to answer
    const reply = stateOf(connection).replyLinks.get(replyTo);
    if (!reply) return;
    const applicationProperties: Record<string, unknown> = {
      // An AMQP int: the .NET client reads it as one and takes anything else (rhea would encode
      // 202 as a uint) as a failure (Azure/azure-amqp, src/Cbs/AmqpCbsLink.cs `SendTokenAsync`;
      // Azure/azure-sdk-for-net, sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpClient.cs
      // `ThrowIfErrorResponse`).
      'status-code': rhea.types.wrap_int(statusCode),
      'status-description': statusDescription,
    };
    if (errorCondition) applicationProperties['error-condition'] = errorCondition;
    const response: Message = {
      correlation_id: request.message_id,
      application_properties: applicationProperties,
      body: body ?? null,
    };
    reply.pending.push(response);
    flushReplies(reply);
  };

  const handlePutToken = (connection: Connection, request: Message): void => {
    const props = request.application_properties as Record<string, unknown> | undefined;
    if (stringProperty(props, 'operation') !== 'put-token') {
      respond(connection, request, 400, 'The $cbs node supports put-token only.');
      return;
    }
    const audience = stringProperty(props, 'name');
    const type = stringProperty(props, 'type');
    const token: unknown = request.body;
    if (!audience || typeof token !== 'string') {
      respond(connection, request, 400, 'put-token needs a name (audience) and a token body.');
      return;
    }
    if (type !== sasTokenType) {
      respond(
        connection,
        request,
        401,
        `The stand-in accepts '${sasTokenType}' tokens only, not '${type ?? ''}'.`,
      );
      return;
    }
    try {
      const { fields, key } = verifySasToken(token, keys);
      const path = resourcePath(audience);
      if (!covers(resourcePath(fields.resource), path)) {
        respond(
          connection,
          request,
          401,
          `InvalidAudience: The token audience '${fields.resource}' does not cover '${audience}'.`,
        );
        return;
      }
      const state = stateOf(connection);
      state.claims = state.claims.filter((c) => c.path !== path);
      state.claims.push({
        path,
        rights: effectiveRights(key.rights),
        expiresAt: fields.expiry * 1000,
      });
      respond(connection, request, 202, 'Accepted');
    } catch (error) {
      if (error instanceof SasTokenError) {
        respond(connection, request, error.statusCode, error.message);
      } else throw error;
    }
  };

  const handleManagement = (connection: Connection, request: Message): void => {
    const props = request.application_properties as Record<string, unknown> | undefined;
    const operation = stringProperty(props, 'operation');
    const type = stringProperty(props, 'type');
    const name = stringProperty(props, 'name') ?? '';
    if (operation !== 'READ') {
      respond(
        connection,
        request,
        501,
        `Operation '${operation ?? ''}' is not supported.`,
        undefined,
        'amqp:not-implemented',
      );
      return;
    }
    const hub = hubs.get(name.toLowerCase());
    if (!hub) {
      respond(
        connection,
        request,
        404,
        `The messaging entity '${name}' could not be found.`,
        undefined,
        'amqp:not-found',
      );
      return;
    }
    // Reads need a claim on the hub (any right: the service lets a send-only device read
    // partition ids), from the request's own token or from put-token on this connection.
    const hubPath = hub.name.toLowerCase();
    let allowed = [hubPath, `${hubPath}/$management`].some((p) =>
      (['Send', 'Listen', 'Manage'] as const).some((r) => authorised(connection, p, r)),
    );
    const securityToken = stringProperty(props, 'security_token');
    if (!allowed && securityToken) {
      try {
        const { fields } = verifySasToken(securityToken, keys);
        allowed = covers(resourcePath(fields.resource), hubPath);
      } catch (error) {
        if (!(error instanceof SasTokenError)) throw error;
      }
    }
    if (!allowed) {
      respond(
        connection,
        request,
        401,
        `Unauthorized access to '${hub.name}'.`,
        undefined,
        'amqp:unauthorized-access',
      );
      return;
    }
    if (type === 'com.microsoft:eventhub') {
      respond(connection, request, 200, 'OK', {
        name: hub.name,
        type: 'com.microsoft:eventhub',
        created_at: hub.createdAt,
        partition_count: hub.partitionIds.length,
        // An AMQP array of strings, not a list: the .NET client casts it to string[]
        // (Azure/azure-sdk-for-net, sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/
        // AmqpMessageConverter.cs `CreateEventHubPropertiesFromResponse`).
        partition_ids: rhea.types.wrap_array([...hub.partitionIds], 0xb1, undefined),
      });
      return;
    }
    if (type === 'com.microsoft:partition') {
      const id = stringProperty(props, 'partition') ?? '';
      const partition = hub.partitions.get(id);
      if (!partition) {
        const error = invalidPartition(hub);
        respond(connection, request, 400, error.description, undefined, error.condition);
        return;
      }
      const p = partition.properties();
      respond(connection, request, 200, 'OK', {
        name: hub.name,
        type: 'com.microsoft:partition',
        partition: id,
        begin_sequence_number: rhea.types.wrap_long(p.beginSequenceNumber),
        last_enqueued_sequence_number: rhea.types.wrap_long(p.lastSequenceNumber),
        last_enqueued_offset: p.lastOffset,
        last_enqueued_time_utc: new Date(p.lastEnqueuedTime),
        is_partition_empty: p.isEmpty,
      });
      return;
    }
    respond(
      connection,
      request,
      400,
      `Unknown type '${type ?? ''}'.`,
      undefined,
      'com.microsoft:argument-error',
    );
  };

  // ---- publishing ----

  const publish = (
    context: EventContext,
    link: Extract<InboundLink, { kind: 'publish' }>,
  ): void => {
    const delivery = context.delivery;
    if (!delivery) return;
    // For formats other than 0 rhea hands over the raw bytes, whatever its typings say.
    const payload = context.message as unknown;
    let events: IncomingEvent[];
    let envelopeKey: string | undefined;
    let size: number;
    if (delivery.format === batchMessageFormat && Buffer.isBuffer(payload)) {
      const envelope = rhea.message.decode(payload);
      const annotations = envelope.message_annotations as Record<string, unknown> | undefined;
      envelopeKey = stringProperty(annotations, 'x-opt-partition-key');
      events = dataSections(envelope.body).map((encoded) => ({
        encoded,
        partitionKey: envelopeKey,
      }));
      size = payload.length;
    } else if (delivery.format === 0 && payload && !Buffer.isBuffer(payload)) {
      const message = payload as Message;
      const encoded = rhea.message.encode(message);
      const annotations = message.message_annotations;
      envelopeKey = stringProperty(annotations, 'x-opt-partition-key');
      events = [{ encoded, partitionKey: envelopeKey }];
      size = encoded.length;
    } else {
      delivery.reject(
        amqpError('amqp:not-implemented', `Message format ${delivery.format} is not supported.`),
      );
      return;
    }
    if (size > maxMessageSize) {
      delivery.reject(
        amqpError(
          'amqp:link:message-size-exceeded',
          `The received message (size ${size} bytes) exceeds the limit (${maxMessageSize} bytes).`,
        ),
      );
      return;
    }
    if (events.length === 0) {
      delivery.reject(amqpError('com.microsoft:argument-error', 'The batch holds no events.'));
      return;
    }
    const { hub } = link;
    let partitionId = link.partitionId;
    if (partitionId === undefined) {
      if (envelopeKey !== undefined) {
        partitionId = hub.partitionIds[partitionIndexForKey(envelopeKey, hub.partitionIds.length)];
      } else {
        partitionId = hub.partitionIds[hub.roundRobin % hub.partitionIds.length];
        hub.roundRobin += 1;
      }
    }
    const partition = partitionId === undefined ? undefined : hub.partitions.get(partitionId);
    if (!partition) {
      delivery.reject(
        amqpError('amqp:not-found', `Partition '${partitionId ?? ''}' does not exist.`),
      );
      return;
    }
    try {
      partition.append(events);
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
  };

  // ---- receiving ----

  const pump = (receiver: ActiveReceiver): void => {
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
  };

  const removeReceiver = (receiver: ActiveReceiver): void => {
    receiver.stopListening();
    registry.get(receiver.registryKey)?.delete(receiver);
    connections.get(receiver.connection)?.receivers.delete(receiver);
  };

  const openReceiver = (context: EventContext, link: Sender, path: string[]): void => {
    // path: [hub, 'consumergroups', group, 'partitions', id]
    const [hubName = '', , groupName = '', , partitionId = ''] = path;
    const hub = hubs.get(hubName);
    const group = hub?.consumerGroups.get(groupName);
    const partition = hub?.partitions.get(partitionId);
    if (!hub || !group) {
      refuse(
        link,
        'amqp:not-found',
        `The messaging entity '${path.join('/')}' could not be found.`,
      );
      return;
    }
    if (!partition) {
      link.close(invalidPartition(hub));
      return;
    }
    if (!requireRight(link, context.connection, path.join('/'), 'Listen')) return;
    let next: number;
    try {
      next = partition.startSequence(startPositionFromFilter(link.source.filter));
    } catch (error) {
      if (error instanceof FilterError) {
        refuse(link, 'com.microsoft:argument-error', error.message);
      } else if (error instanceof StartPositionOutOfRangeError) {
        refuse(link, 'com.microsoft:argument-out-of-range', error.message);
      } else throw error;
      return;
    }
    const props = link.properties as Record<string, unknown> | undefined;
    const rawEpoch = props?.[epochProperty];
    const epoch = typeof rawEpoch === 'number' ? rawEpoch : undefined;
    const name = stringProperty(props, receiverNameProperty) ?? 'nil';
    const registryKey = `${hub.name.toLowerCase()}/${groupName}/${partitionId}`;
    const existing = registry.get(registryKey) ?? new Set<ActiveReceiver>();
    registry.set(registryKey, existing);
    const epochHolders = [...existing].filter((r) => r.epoch !== undefined);
    const highest = Math.max(...epochHolders.map((r) => r.epoch ?? -Infinity));
    if (epoch === undefined) {
      if (epochHolders.length > 0) {
        refuse(
          link,
          'amqp:link:stolen',
          `At least one receiver for the endpoint is created with epoch of '${highest}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
        );
        return;
      }
      if (existing.size >= maxNonEpochReceivers) {
        refuse(
          link,
          'amqp:resource-limit-exceeded',
          `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${maxNonEpochReceivers}.`,
        );
        return;
      }
    } else {
      if (epochHolders.length > 0 && highest > epoch) {
        refuse(
          link,
          'amqp:link:stolen',
          `Receiver '${name}' with a higher epoch '${highest}' already exists. Receiver '${name}' with epoch ${epoch} cannot be created. Make sure you are creating receiver with increasing epoch value to ensure connectivity, or ensure all old epoch receivers are closed or disconnected.`,
        );
        return;
      }
      // An exclusive receiver with an equal or higher epoch takes the partition from everyone.
      for (const other of [...existing]) {
        removeReceiver(other);
        other.link.close(
          amqpError(
            'amqp:link:stolen',
            `New receiver '${name}' with higher epoch of '${epoch}' is created hence current receiver '${other.name}' with epoch '${other.epoch ?? 'nil'}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
          ),
        );
      }
    }
    const desired = link.desired_capabilities as unknown;
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
      connection: context.connection,
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
    stateOf(context.connection).receivers.add(receiver);
    activeOf.set(link, receiver);
    stateOf(context.connection).guarded.set(link, { path: path.join('/'), right: 'Listen' });
    // rhea writes a session's queued transfers before its links' attach frames
    // (rhea/lib/session.js `_process`), on the next tick. A client's flow often arrives with its
    // attach, so events pumped now would reach it before our attach: Microsoft.Azure.Amqp then
    // closes the session and the .NET consumer fails with "The AMQP object ... is aborted".
    // setImmediate runs after that tick's output.
    setImmediate(() => {
      receiver.attachWritten = true;
      pump(receiver);
    });
  };

  // ---- AMQP plumbing ----

  const container = rhea.create_container({ id: 'eventhubs-stand-in' });
  // ANONYMOUS and MSSBCBS: identity comes from the tokens put on $cbs (see sasl.ts).
  container.sasl_server_mechanisms = saslServerMechanisms();

  container.on('connection_open', (context: EventContext) => {
    stateOf(context.connection);
  });

  // The client attached a sending link: we receive on it.
  container.on('receiver_open', (context: EventContext) => {
    const link = context.receiver;
    if (!link) return;
    const address = typeof link.target.address === 'string' ? link.target.address : '';
    const path = resourcePath(address).split('/');
    link.set_target(link.target);
    echoSettleModes(link);
    if (path.length === 1 && path[0] === '$cbs') {
      inbound.set(link, { kind: 'cbs' });
      return;
    }
    if (path[path.length - 1] === '$management') {
      inbound.set(link, { kind: 'management' });
      return;
    }
    const hub = hubs.get(path[0] ?? '');
    const partitionId = path.length === 3 && path[1] === 'partitions' ? path[2] : undefined;
    if (!hub || (path.length !== 1 && partitionId === undefined)) {
      refuse(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
      return;
    }
    if (partitionId !== undefined && !hub.partitions.has(partitionId)) {
      link.close(invalidPartition(hub));
      return;
    }
    if (!requireRight(link, context.connection, path.join('/'), 'Send')) return;
    localAttach(link).max_message_size = maxMessageSize;
    inbound.set(link, { kind: 'publish', hub, partitionId });
    stateOf(context.connection).guarded.set(link, { path: path.join('/'), right: 'Send' });
  });

  // The client attached a receiving link: we send on it.
  container.on('sender_open', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    const address = typeof link.source.address === 'string' ? link.source.address : '';
    const path = resourcePath(address).split('/');
    if (path.length === 1 && (path[0] === '$cbs' || path[0] === '$management')) {
      link.set_source({ address });
      link.set_target(link.target);
      echoSettleModes(link);
      const reply: ReplyLink = { sender: link, pending: [] };
      const replies = stateOf(context.connection).replyLinks;
      // Requests name their reply link by link name ($cbs) or target address ($management).
      replies.set(link.name, reply);
      const targetAddress = link.target.address;
      if (typeof targetAddress === 'string' && targetAddress) replies.set(targetAddress, reply);
      replyLinkOf.set(link, reply);
      return;
    }
    if (path.length === 5 && path[1] === 'consumergroups' && path[3] === 'partitions') {
      openReceiver(context, link, path);
      return;
    }
    refuse(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
  });

  container.on('message', (context: EventContext) => {
    const link = context.receiver;
    const kind = link ? inbound.get(link) : undefined;
    if (!link || !kind) return;
    if (kind.kind === 'publish') {
      publish(context, kind);
      return;
    }
    const request = context.message;
    context.delivery?.accept();
    if (!request) return;
    if (kind.kind === 'cbs') handlePutToken(context.connection, request);
    else handleManagement(context.connection, request);
  });

  container.on('sendable', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    const reply = replyLinkOf.get(link);
    if (reply) flushReplies(reply);
    const receiver = activeOf.get(link);
    if (receiver) pump(receiver);
  });

  container.on('sender_draining', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    const receiver = activeOf.get(link);
    if (receiver) pump(receiver);
    // Whatever credit is left cannot be used now: hand it back, as drain asks.
    link.set_drained(true);
  });

  container.on('sender_close', (context: EventContext) => {
    const link = context.sender;
    if (!link) return;
    connections.get(context.connection)?.guarded.delete(link);
    const receiver = activeOf.get(link);
    if (receiver) removeReceiver(receiver);
  });

  container.on('receiver_close', (context: EventContext) => {
    const link = context.receiver;
    if (link) connections.get(context.connection)?.guarded.delete(link);
  });

  // A claim lasts until its token expires: links that relied on it are then detached, as the
  // service does when a client stops renewing its token (the SDK renews well before expiry).
  const expiryCheck = setInterval(() => {
    for (const [connection, state] of connections) {
      for (const [link, need] of [...state.guarded]) {
        if (authorised(connection, need.path, need.right)) continue;
        state.guarded.delete(link);
        const receiver = link.is_sender() ? activeOf.get(link as Sender) : undefined;
        if (receiver) removeReceiver(receiver);
        link.close(
          amqpError(
            'amqp:unauthorized-access',
            `The token for '${need.path}' has expired; put a new one on $cbs and attach again.`,
          ),
        );
      }
    }
  }, 1_000);
  expiryCheck.unref();

  const forget = (connection: Connection): void => {
    const state = connections.get(connection);
    if (!state) return;
    for (const receiver of [...state.receivers]) removeReceiver(receiver);
    connections.delete(connection);
  };
  container.on('connection_close', (context: EventContext) => {
    forget(context.connection);
  });
  container.on('disconnected', (context: EventContext) => {
    forget(context.connection);
  });
  // Peers' errors (a client detaching with an error, a dropped socket) are theirs to handle;
  // without these listeners rhea would re-emit them as 'error' and crash the process.
  for (const event of [
    'error',
    'connection_error',
    'session_error',
    'sender_error',
    'receiver_error',
  ]) {
    container.on(event, () => undefined);
  }

  const sockets = new Set<Socket>();
  const server = container.listen({
    host,
    port: options.port ?? 5672,
    // SASL ANONYMOUS when the client asks for SASL (it does when the connection string names a
    // key), plain AMQP when it does not (a `SharedAccessSignature=` connection string has no
    // user name, so rhea skips SASL). Either way identity comes from the tokens put on $cbs.
    require_sasl: false,
    // Publishing links settle deliveries themselves, to reject what cannot be stored.
    autoaccept: false,
  } as Parameters<typeof container.listen>[0]);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 5672);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    host,
    port,
    connectionString(keyName: string, hubName?: string): string {
      const key = keys.find((k) => k.name === keyName);
      if (!key) throw new Error(`No key named '${keyName}' is configured.`);
      const hub = hubName ?? options.hubs[0]?.name ?? '';
      return `Endpoint=sb://${urlHost}:${port};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key};EntityPath=${hub};UseDevelopmentEmulator=true`;
    },
    async stop(): Promise<void> {
      clearInterval(expiryCheck);
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      for (const connection of connections.keys()) {
        try {
          connection.close(amqpError('amqp:connection:forced', 'The stand-in is stopping.'));
        } catch {
          // already gone
        }
      }
      // Give clients a moment to read the close frame, then cut what is left.
      const deadline = Date.now() + 250;
      while (sockets.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
