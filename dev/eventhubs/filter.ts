/**
 * The start-position filter receivers attach with: an `apache.org:selector-filter:string` whose
 * value is a SQL-like expression over one annotation, e.g. `amqp.annotation.x-opt-offset > '-1'`
 * (the SDK's earliest), `amqp.annotation.x-opt-offset > '@latest'`, `... x-opt-sequence-number >= '42'`,
 * `... x-opt-enqueued-time > '1700000000000'`. Only these forms exist in practice; anything else
 * is refused rather than guessed at.
 */
import type { StartPosition } from './partition.js';

/** The filter name the SDKs use (descriptor 0x468C00000004). */
export const selectorFilterName = 'apache.org:selector-filter:string';

/**
 * The JS SDK quotes the value (`> '-1'`, @azure/event-hubs `getEventPositionFilter`); the .NET
 * SDK does not (`> -1`, `> @latest`: Azure/azure-sdk-for-net,
 * sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpFilter.cs `BuildFilterExpression`).
 */
const expression =
  /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*(?:'([^']*)'|([^\s']+))\s*$/i;

/** Thrown for a filter this stand-in (and the service) does not understand. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

/**
 * Reads the start position from an attach frame's source filter map. Without a filter the
 * receiver starts at the beginning of the retained stream, the service's default.
 */
export function startPositionFromFilter(filter: unknown): StartPosition {
  if (filter === undefined || filter === null)
    return { kind: 'offset', offset: '-1', inclusive: false };
  if (typeof filter !== 'object') throw new FilterError('The source filter is not a map.');
  const raw: unknown = (filter as Record<string, unknown>)[selectorFilterName];
  if (raw === undefined) return { kind: 'offset', offset: '-1', inclusive: false };
  // rhea hands described values over either unwrapped or as `{ descriptor, value }`.
  let text: unknown = raw;
  if (typeof raw === 'object' && raw !== null && 'value' in raw) text = raw.value;
  if (typeof text !== 'string') throw new FilterError('The selector filter is not a string.');
  const match = expression.exec(text);
  if (!match) throw new FilterError(`The selector filter '${text}' is not supported.`);
  const [, annotation = '', operator, quoted, bare] = match;
  const value = quoted ?? bare ?? '';
  const inclusive = operator === '>=';
  switch (annotation.toLowerCase()) {
    case 'x-opt-offset':
      return { kind: 'offset', offset: value, inclusive };
    case 'x-opt-sequence-number': {
      const sequenceNumber = Number(value);
      if (!Number.isSafeInteger(sequenceNumber)) {
        throw new FilterError(`The sequence number '${value}' is not an integer.`);
      }
      return { kind: 'sequenceNumber', sequenceNumber, inclusive };
    }
    default: {
      // Always exclusive on the wire; the SDK has no inclusive enqueued-time position.
      const enqueuedTime = Number(value);
      if (!Number.isFinite(enqueuedTime)) {
        throw new FilterError(`The enqueued time '${value}' is not a number of milliseconds.`);
      }
      return { kind: 'enqueuedTime', enqueuedTime };
    }
  }
}
