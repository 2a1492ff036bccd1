/**
 * One partition's event log, in memory, with bounded retention. Events are kept as encoded AMQP
 * sections so what a receiver gets is byte-for-byte what the sender sent, plus the annotations the
 * service stamps (`x-opt-sequence-number`, `x-opt-offset`, `x-opt-enqueued-time`,
 * `x-opt-partition-key`); only message annotations are decoded and re-encoded.
 */
import rhea from 'rhea';

/** rhea's AMQP codec, which its typings leave off `types`: a reader that tracks its position. */
interface AmqpReader {
  readonly position: number;
  remaining(): number;
  read(): unknown;
}
interface AmqpWriter {
  write(value: unknown): void;
  toBuffer(): Buffer;
}
const codec = rhea.types as unknown as {
  Reader: new (buffer: Buffer) => AmqpReader;
  Writer: new () => AmqpWriter;
};

/** How much each partition keeps; whichever limit is hit first wins. */
export interface RetentionPolicy {
  /** Most events kept per partition; older ones are dropped first. Default 10 000. */
  maxEventsPerPartition: number;
  /** Oldest event kept, by enqueued time, in milliseconds. Default one hour. */
  maxAgeMs: number;
}

/** The defaults documented in dev/eventhubs/README.md. */
export const defaultRetention: RetentionPolicy = {
  maxEventsPerPartition: 10_000,
  maxAgeMs: 3_600_000,
};

/** An event as stored: the service's annotations plus the sender's sections, encoded. */
export interface StoredEvent {
  readonly sequenceNumber: number;
  /** Byte position in the partition's stream, as the service's offsets are. */
  readonly offset: number;
  /** Unix milliseconds. */
  readonly enqueuedTime: number;
  /** The header section (may be empty): it must precede delivery annotations on the wire. */
  readonly header: Buffer;
  /** Message annotations (the service's merged with the sender's) and every later section. */
  readonly tail: Buffer;
}

/** What the store needs from an incoming message. */
export interface IncomingEvent {
  /** One complete encoded AMQP message (a batch's data section, or a whole single message). */
  encoded: Buffer;
  /** The partition key, if the sender gave one (on the batch envelope or the message). */
  partitionKey: string | undefined;
}

/** Where a receiver starts; see {@link PartitionLog.startSequence}. */
export type StartPosition =
  | { kind: 'offset'; offset: string; inclusive: boolean }
  | { kind: 'sequenceNumber'; sequenceNumber: number; inclusive: boolean }
  | { kind: 'enqueuedTime'; enqueuedTime: number };

/** Thrown for a start position past the end of the stream, as the service refuses it. */
export class StartPositionOutOfRangeError extends Error {
  override readonly name = 'StartPositionOutOfRangeError';
}

const sectionCodes = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
} as const;

const symbolicSectionCodes: Readonly<Record<string, number>> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
};

/** The section code of one described section read by rhea's reader (numeric or symbolic). */
function sectionCode(section: unknown): number | undefined {
  const descriptor = (section as { descriptor?: { value?: unknown } } | null)?.descriptor;
  const value = descriptor?.value;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return symbolicSectionCodes[value];
  return undefined;
}

/** Encodes one map section (message or delivery annotations) with symbol keys. */
export function encodeAnnotationsSection(
  code: 0x71 | 0x72,
  annotations: Readonly<Record<string, unknown>>,
): Buffer {
  const writer = new codec.Writer();
  writer.write(
    rhea.types.described(
      rhea.types.wrap_ulong(code),
      rhea.types.wrap_map(annotations, (key: unknown) => rhea.types.wrap_symbol(key)),
    ),
  );
  return writer.toBuffer();
}

/** Annotation keys only the service may set. */
const reservedAnnotations = new Set([
  'x-opt-sequence-number',
  'x-opt-offset',
  'x-opt-enqueued-time',
  'x-opt-partition-key',
]);

/** Splits an encoded message into header, the sender's message annotations and the rest. */
function splitSections(encoded: Buffer): {
  header: Buffer;
  annotations: Record<string, unknown>;
  rest: Buffer;
} {
  const reader = new codec.Reader(encoded);
  const header: Buffer[] = [];
  const rest: Buffer[] = [];
  let annotations: Record<string, unknown> = {};
  while (reader.remaining()) {
    const start = reader.position;
    const section: unknown = reader.read();
    const bytes = encoded.subarray(start, reader.position);
    const code = sectionCode(section);
    if (code === sectionCodes.header) header.push(bytes);
    else if (code === sectionCodes.deliveryAnnotations)
      continue; // hop-by-hop: not stored
    else if (code === sectionCodes.messageAnnotations) {
      const decoded = rhea.message.decode(bytes).message_annotations as
        Record<string, unknown> | undefined;
      annotations = { ...decoded };
    } else rest.push(bytes);
  }
  return { header: Buffer.concat(header), annotations, rest: Buffer.concat(rest) };
}

/** One partition: append, look up, trim. Single-threaded, so no locking. */
export class PartitionLog {
  private events: StoredEvent[] = [];
  /** Index of the first retained event in {@link events}; compacted lazily. */
  private head = 0;
  private nextSequence = 0;
  private nextOffset = 0;
  private lastEnqueuedTime = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly id: string,
    private readonly retention: RetentionPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores events (one send, so one enqueued time) and wakes the receivers. */
  append(incoming: readonly IncomingEvent[]): StoredEvent[] {
    // Enqueued times never go backwards, even if the clock does.
    const enqueuedTime = Math.max(this.now(), this.lastEnqueuedTime);
    const stored: StoredEvent[] = [];
    for (const event of incoming) {
      const { header, annotations, rest } = splitSections(event.encoded);
      const merged: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(annotations)) {
        if (!reservedAnnotations.has(key)) merged[key] = value;
      }
      merged['x-opt-sequence-number'] = rhea.types.wrap_long(this.nextSequence);
      merged['x-opt-offset'] = String(this.nextOffset);
      merged['x-opt-enqueued-time'] = rhea.types.wrap_timestamp(enqueuedTime);
      const key = event.partitionKey ?? annotations['x-opt-partition-key'];
      if (typeof key === 'string') merged['x-opt-partition-key'] = key;
      const tail = Buffer.concat([encodeAnnotationsSection(0x72, merged), rest]);
      const record: StoredEvent = {
        sequenceNumber: this.nextSequence,
        offset: this.nextOffset,
        enqueuedTime,
        header,
        tail,
      };
      this.events.push(record);
      stored.push(record);
      this.nextSequence += 1;
      this.nextOffset += header.length + tail.length;
    }
    this.lastEnqueuedTime = enqueuedTime;
    this.trim();
    for (const listener of [...this.listeners]) listener();
    return stored;
  }

  /** Drops what retention no longer covers. Called on every append and read. */
  private trim(): void {
    const cutoff = this.now() - this.retention.maxAgeMs;
    while (this.head < this.events.length) {
      const first = this.events[this.head];
      const retainedCount = this.events.length - this.head;
      if (!first) break;
      if (retainedCount > this.retention.maxEventsPerPartition || first.enqueuedTime < cutoff) {
        this.head += 1;
      } else break;
    }
    // Compact once the dead prefix dominates, so memory stays proportional to what is retained.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Sequence number of the oldest retained event (the next one to come when none is retained). */
  get beginSequenceNumber(): number {
    this.trim();
    return this.events[this.head]?.sequenceNumber ?? this.nextSequence;
  }

  /** Properties `$management` reports for the partition. */
  properties(): {
    beginSequenceNumber: number;
    lastSequenceNumber: number;
    lastOffset: string;
    lastEnqueuedTime: number;
    isEmpty: boolean;
  } {
    this.trim();
    const last = this.events[this.events.length - 1];
    const isEmpty = this.head >= this.events.length;
    return {
      beginSequenceNumber: this.beginSequenceNumber,
      lastSequenceNumber: this.nextSequence - 1,
      lastOffset: last ? String(last.offset) : '-1',
      lastEnqueuedTime: this.lastEnqueuedTime,
      isEmpty,
    };
  }

  /** The retained event with this sequence number, if any. */
  get(sequenceNumber: number): StoredEvent | undefined {
    this.trim();
    const first = this.events[this.head];
    if (!first || sequenceNumber < first.sequenceNumber) return undefined;
    return this.events[this.head + (sequenceNumber - first.sequenceNumber)];
  }

  /** The sequence number a receiver starting at `position` gets first. */
  startSequence(position: StartPosition): number {
    this.trim();
    const begin = this.beginSequenceNumber;
    const retained = this.events.slice(this.head);
    const firstAfter = (test: (e: StoredEvent) => boolean): number =>
      retained.find(test)?.sequenceNumber ?? this.nextSequence;
    switch (position.kind) {
      case 'offset': {
        if (position.offset === '@latest') return this.nextSequence;
        const offset = Number(position.offset);
        if (!Number.isFinite(offset)) {
          throw new StartPositionOutOfRangeError(`The offset '${position.offset}' is invalid.`);
        }
        if (offset < 0) return begin; // '-1': the start of the stream
        // The service refuses a position past the end of the stream rather than waiting for
        // it, e.g. a checkpoint left by a hub deleted and recreated under the same name:
        // "The supplied offset '13953' is invalid. The last offset in the system is '13952'"
        // (Azure/azure-sdk-for-net#9213, Azure/azure-sdk-for-java#28990; the SDK teams'
        // remedy is to delete the stale checkpoints, see docs/disaster-recovery.md).
        const lastOffset = this.events.at(-1)?.offset ?? -1;
        if (offset > lastOffset) {
          throw new StartPositionOutOfRangeError(
            `The supplied offset '${position.offset}' is invalid. The last offset in the system is '${lastOffset}'.`,
          );
        }
        return firstAfter((e) => (position.inclusive ? e.offset >= offset : e.offset > offset));
      }
      case 'sequenceNumber': {
        const first = position.inclusive ? position.sequenceNumber : position.sequenceNumber + 1;
        if (first > this.nextSequence) {
          throw new StartPositionOutOfRangeError(
            `The supplied sequence number '${position.sequenceNumber}' is invalid. The last sequence number in the system is '${this.nextSequence - 1}'.`,
          );
        }
        return Math.max(first, begin);
      }
      case 'enqueuedTime':
        return firstAfter((e) => e.enqueuedTime > position.enqueuedTime);
    }
  }

  /** Calls `listener` after every append until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
