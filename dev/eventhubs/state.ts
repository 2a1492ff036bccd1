/**
 * What the stand-in knows: its hubs and keys, and per AMQP connection the claims put on `$cbs`,
 * the reply links of `$cbs`/`$management`, and the open receivers. One explicit object, handed
 * to each protocol part (cbs.ts, management.ts, publish.ts, receive.ts).
 */
import type { Connection, Message, Receiver, Sender } from 'rhea';
import { PartitionLog, type RetentionPolicy } from './partition.js';
import type { AccessRight, SharedAccessKey } from './sas.js';

/** One event hub the stand-in hosts. */
export interface EventHubConfig {
  /** The hub (entity) name; matched case-insensitively, as the service does. */
  name: string;
  /** Partition count; ids are `"0"` … `"n-1"`. */
  partitions: number;
  /** Consumer groups besides `$Default`, which always exists. */
  consumerGroups?: readonly string[];
}

export interface Hub {
  readonly name: string;
  readonly createdAt: Date;
  readonly partitionIds: readonly string[];
  readonly partitions: ReadonlyMap<string, PartitionLog>;
  /** Lower-cased name → configured name. */
  readonly consumerGroups: ReadonlyMap<string, string>;
  roundRobin: number;
}

/** A claim granted by `put-token` on one connection. */
export interface Claim {
  /** Normalised resource path (see `resourcePath` in access.ts). */
  readonly path: string;
  readonly rights: ReadonlySet<AccessRight>;
  /** Unix milliseconds. */
  readonly expiresAt: number;
}

/** A link on which the stand-in answers requests (`$cbs`, `$management`). */
export interface ReplyLink {
  readonly sender: Sender;
  readonly pending: Message[];
}

/** A consumer's open receive link. */
export interface ActiveReceiver {
  readonly link: Sender;
  readonly connection: Connection;
  /** `hub/group/partition`, lower-cased: its key in {@link StandInState.receivers}. */
  readonly registryKey: string;
  readonly partition: PartitionLog;
  readonly epoch: number | undefined;
  readonly name: string;
  readonly runtimeMetric: boolean;
  /** Sequence number of the next event to deliver. */
  next: number;
  /** Whether our attach has been written; no transfer may go out before it (see receive.ts). */
  attachWritten: boolean;
  stopListening: () => void;
}

/** An open entity link and the claim it needs; re-checked as claims expire. */
export interface GuardedLink {
  readonly path: string;
  readonly right: AccessRight;
  /** Set for receive links, which leave their partition's receivers when detached. */
  readonly receiver?: ActiveReceiver;
}

export interface ConnectionState {
  claims: Claim[];
  /** By link name ($cbs) and by target address ($management): what requests' reply-to name. */
  readonly replyLinks: Map<string, ReplyLink>;
  readonly receivers: Set<ActiveReceiver>;
  readonly guarded: Map<Sender | Receiver, GuardedLink>;
}

/** What the stand-in does with messages arriving on one of its receiving links. */
export type InboundLink =
  | { readonly kind: 'cbs' }
  | { readonly kind: 'management' }
  | { readonly kind: 'publish'; readonly hub: Hub; readonly partitionId: string | undefined };

export interface StandInState {
  /** Lower-cased name → hub. */
  readonly hubs: ReadonlyMap<string, Hub>;
  readonly keys: readonly SharedAccessKey[];
  readonly connections: Map<Connection, ConnectionState>;
  readonly inbound: WeakMap<Receiver, InboundLink>;
  readonly replyLinks: WeakMap<Sender, ReplyLink>;
  readonly activeReceivers: WeakMap<Sender, ActiveReceiver>;
  /** `hub/group/partition` → its open receivers. */
  readonly receivers: Map<string, Set<ActiveReceiver>>;
}

/** Builds the state for the configured hubs, or throws for a configuration the service refuses. */
export function createState(
  hubs: readonly EventHubConfig[],
  keys: readonly SharedAccessKey[],
  retention: RetentionPolicy,
): StandInState {
  if (hubs.length === 0) throw new Error('Configure at least one event hub.');
  const byName = new Map<string, Hub>();
  for (const config of hubs) {
    if (!Number.isInteger(config.partitions) || config.partitions < 1 || config.partitions > 1024) {
      throw new Error(`Hub '${config.name}': partitions must be an integer from 1 to 1024.`);
    }
    const partitionIds = Array.from({ length: config.partitions }, (_, i) => String(i));
    const groups = new Map<string, string>([['$default', '$Default']]);
    for (const group of config.consumerGroups ?? []) groups.set(group.toLowerCase(), group);
    byName.set(config.name.toLowerCase(), {
      name: config.name,
      createdAt: new Date(),
      partitionIds,
      partitions: new Map(partitionIds.map((id) => [id, new PartitionLog(id, retention)])),
      consumerGroups: groups,
      roundRobin: 0,
    });
  }
  return {
    hubs: byName,
    keys: [...keys],
    connections: new Map(),
    inbound: new WeakMap(),
    replyLinks: new WeakMap(),
    activeReceivers: new WeakMap(),
    receivers: new Map(),
  };
}

/** The state of one connection, created on first use. */
export function connectionState(state: StandInState, connection: Connection): ConnectionState {
  let found = state.connections.get(connection);
  if (!found) {
    found = { claims: [], replyLinks: new Map(), receivers: new Set(), guarded: new Map() };
    state.connections.set(connection, found);
  }
  return found;
}
