/**
 * The reply side of the request/response nodes (`$cbs`, `$management`): clients attach a
 * receiving link per node and name it in each request's `reply-to`.
 */
import rhea from 'rhea';
import type { Connection, Message, Sender } from 'rhea';
import { echoSettleModes } from './amqp.js';
import { connectionState, type ReplyLink, type StandInState } from './state.js';

/** Accepts a client's receiving link on `$cbs` or `$management` as a reply link. */
export function openReplyLink(
  state: StandInState,
  connection: Connection,
  link: Sender,
  address: string,
): void {
  link.set_source({ address });
  link.set_target(link.target);
  echoSettleModes(link);
  const reply: ReplyLink = { sender: link, pending: [] };
  const replies = connectionState(state, connection).replyLinks;
  // Requests name their reply link by link name ($cbs) or target address ($management).
  replies.set(link.name, reply);
  const targetAddress = link.target.address;
  if (typeof targetAddress === 'string' && targetAddress) replies.set(targetAddress, reply);
  state.replyLinks.set(link, reply);
}

/** Sends what the link's credit allows of the queued replies. */
export function flushReplies(reply: ReplyLink): void {
  while (reply.pending.length > 0 && reply.sender.sendable()) {
    const next = reply.pending.shift();
    if (next) reply.sender.send(next);
  }
}

/** What a node answers: a status and, for success, a body. */
export interface Reply {
  statusCode: number;
  statusDescription: string;
  body?: unknown;
  errorCondition?: string;
}

/** Answers `request` on the reply link it names; a request naming none goes unanswered. */
export function respond(
  state: StandInState,
  connection: Connection,
  request: Message,
  reply: Reply,
): void {
  const replyTo = request.reply_to;
  if (typeof replyTo !== 'string') return;
  const link = connectionState(state, connection).replyLinks.get(replyTo);
  if (!link) return;
  const applicationProperties: Record<string, unknown> = {
    // An AMQP int: the .NET client reads it as one and takes anything else (rhea would encode
    // 202 as a uint) as a failure (Azure/azure-amqp, src/Cbs/AmqpCbsLink.cs `SendTokenAsync`;
    // Azure/azure-sdk-for-net, sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpClient.cs
    // `ThrowIfErrorResponse`).
    'status-code': rhea.types.wrap_int(reply.statusCode),
    'status-description': reply.statusDescription,
  };
  if (reply.errorCondition) applicationProperties['error-condition'] = reply.errorCondition;
  link.pending.push({
    correlation_id: request.message_id,
    application_properties: applicationProperties,
    body: reply.body ?? null,
  });
  flushReplies(link);
}
