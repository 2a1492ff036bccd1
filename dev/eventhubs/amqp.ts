/** Small AMQP helpers shared by the protocol parts: errors, refusals, attach frames, fields. */
import type { AmqpError, Receiver, Sender } from 'rhea';
import type { Hub } from './state.js';

export function amqpError(condition: string, description: string): AmqpError {
  return { condition, description };
}

/**
 * Refuses a link the client attached: rhea has already queued our attach, and the detach that
 * follows carries the error, which is how the service refuses a link too.
 */
export function refuse(link: Sender | Receiver, condition: string, description: string): void {
  link.close(amqpError(condition, description));
}

/** The service's answer to a partition id the hub does not have (ArgumentOutOfRangeError). */
export function invalidPartition(hub: Hub): AmqpError & { condition: string; description: string } {
  return {
    condition: 'com.microsoft:argument-out-of-range',
    description: `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${hub.partitionIds.length - 1}. Parameter name: PartitionId`,
  };
}

/**
 * An entry of an AMQP map (application properties, annotations, link properties). rhea types
 * these maps as always present; a peer may send none.
 */
export function mapEntry(
  map: Readonly<Record<string, unknown>> | undefined,
  name: string,
): unknown {
  return map?.[name];
}

/** A string-valued entry of an AMQP map, see {@link mapEntry}. */
export function stringProperty(
  map: Readonly<Record<string, unknown>> | undefined,
  name: string,
): string | undefined {
  const value = mapEntry(map, name);
  return typeof value === 'string' ? value : undefined;
}

/** The fields of our own attach frame that the stand-in sets; rhea's typings leave `local` out. */
interface LocalAttach {
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
  max_message_size?: number;
  offered_capabilities?: string[];
}

/**
 * Our attach frame for a link the client attached, still editable while the attach event is
 * handled (rhea writes it on the next tick, rhea/lib/link.js `_process`).
 */
export function localAttach(link: Sender | Receiver): LocalAttach {
  return (link as unknown as { local: { attach: LocalAttach } }).local.attach;
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
export function echoSettleModes(link: Sender | Receiver): void {
  const attach = localAttach(link);
  attach.snd_settle_mode = link.snd_settle_mode;
  attach.rcv_settle_mode = link.rcv_settle_mode;
}
