import { describe, expect, it } from 'vitest';
import { eventsFromTrigger, TriggerMetadataError } from '../../../lib/telemetry/trigger.js';

/** Trigger metadata as the Functions host passes it for `cardinality: 'many'`. */
function hostMetadata(count: number, overrides: Record<string, unknown> = {}) {
  return {
    partitionContext: {
      eventHubName: 'telemetry',
      consumerGroup: '$Default',
      fullyQualifiedNamespace: 'sis.servicebus.windows.net',
      partitionId: '2',
    },
    sequenceNumberArray: Array.from({ length: count }, (_, i) => 100 + i),
    enqueuedTimeUtcArray: Array.from({ length: count }, (_, i) => `2026-11-24T08:00:0${i}.000Z`),
    offsetArray: Array.from({ length: count }, (_, i) => String(4096 * i)),
    partitionKeyArray: Array.from({ length: count }, () => '7'),
    propertiesArray: Array.from({ length: count }, () => ({})),
    systemPropertiesArray: Array.from({ length: count }, () => ({})),
    ...overrides,
  };
}

describe('eventsFromTrigger', () => {
  it('pairs each message with its sequence number and enqueued time', () => {
    const { partitionId, events } = eventsFromTrigger(['a', { b: 1 }], hostMetadata(2));
    expect(partitionId).toBe('2');
    expect(events).toEqual([
      { body: 'a', sequenceNumber: 100, enqueuedTimeMs: Date.parse('2026-11-24T08:00:00.000Z') },
      {
        body: { b: 1 },
        sequenceNumber: 101,
        enqueuedTimeMs: Date.parse('2026-11-24T08:00:01.000Z'),
      },
    ]);
  });

  it('accepts sequence numbers as digit strings and times as Dates', () => {
    const { events } = eventsFromTrigger(
      ['a'],
      hostMetadata(1, {
        sequenceNumberArray: ['9007199254740'],
        enqueuedTimeUtcArray: [new Date(5000)],
      }),
    );
    expect(events[0]).toMatchObject({ sequenceNumber: 9007199254740, enqueuedTimeMs: 5000 });
  });

  it.each([
    ['no metadata', undefined],
    ['no partition context', { ...hostMetadata(1), partitionContext: undefined }],
    ['an empty partition id', hostMetadata(1, { partitionContext: { partitionId: '' } })],
    ['no sequence numbers', { ...hostMetadata(1), sequenceNumberArray: undefined }],
    ['a negative sequence number', hostMetadata(1, { sequenceNumberArray: [-1] })],
    ['a time that is not one', hostMetadata(1, { enqueuedTimeUtcArray: ['yesterday'] })],
    [
      'fewer sequence numbers than messages',
      hostMetadata(1, { enqueuedTimeUtcArray: ['2026-11-24T08:00:00Z', 'x'] }),
    ],
  ])('refuses %s', (_name, metadata) => {
    expect(() => eventsFromTrigger(['a'], metadata as Record<string, unknown> | undefined)).toThrow(
      TriggerMetadataError,
    );
  });

  it('refuses arrays that do not line up with the messages', () => {
    expect(() => eventsFromTrigger(['a', 'b', 'c'], hostMetadata(2))).toThrow(
      /3 events but 2 sequence numbers/,
    );
  });
});
