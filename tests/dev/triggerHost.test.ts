/** The local host's timer triggers and binding expressions. */
import type { Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { resolveSetting, startTimers, triggerMetadataFor } from '../../dev/triggerHost.js';
import type { TimerFunctionDeclaration } from '../../lib/host/declarations.js';

describe('resolveSetting', () => {
  it('replaces %NAME% with the setting and refuses a missing one by name', () => {
    expect(resolveSetting('%HUB%', { HUB: 'telemetry' })).toBe('telemetry');
    expect(resolveSetting('plain', {})).toBe('plain');
    expect(() => resolveSetting('%MISSING_HUB%', {})).toThrow(/MISSING_HUB/);
  });
});

describe('startTimers', () => {
  it('invokes a timer on its six-field schedule with a Timer and a context, until stopped', async () => {
    const calls: { timer: Timer; functionName: string }[] = [];
    let failures = 0;
    const declaration: TimerFunctionDeclaration = {
      kind: 'timer',
      name: 'everySecond',
      schedule: '* * * * * *',
      handler: (timer, context) => {
        calls.push({ timer, functionName: context.functionName });
        // A failing invocation is logged and does not stop the schedule.
        if (calls.length === 1) {
          failures++;
          return Promise.reject(new Error('first one fails'));
        }
        return Promise.resolve();
      },
    };
    const logged: string[] = [];
    const running = startTimers([declaration], (level, name, message) =>
      logged.push(`${level} ${name} ${message}`),
    );
    const deadline = Date.now() + 10_000;
    while (calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await running.stop();
    const seen = calls.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(calls[0]?.functionName).toBe('everySecond');
    expect(calls[0]?.timer).toMatchObject({ isPastDue: false, schedule: { adjustForDST: false } });
    expect(failures).toBe(1);
    expect(
      logged.some((line) => line.startsWith('error everySecond failed: Error: first one fails')),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.length).toBe(seen);
  });
});

describe('triggerMetadataFor', () => {
  it('lines the metadata arrays up with the events, as the Functions host does', () => {
    const enqueued = new Date('2026-11-24T08:00:00Z');
    const metadata = triggerMetadataFor(
      [
        {
          sequenceNumber: 5,
          offset: '100',
          enqueuedTimeUtc: enqueued,
          partitionKey: '7',
          properties: { k: 1 },
        },
        {
          sequenceNumber: 6,
          offset: '200',
          enqueuedTimeUtc: enqueued,
          partitionKey: null,
        },
      ],
      {
        partitionId: '1',
        eventHubName: 'telemetry',
        consumerGroup: '$Default',
        fullyQualifiedNamespace: '127.0.0.1',
      },
    );
    expect(metadata).toMatchObject({
      partitionContext: { partitionId: '1', eventHubName: 'telemetry' },
      sequenceNumberArray: [5, 6],
      offsetArray: ['100', '200'],
      enqueuedTimeUtcArray: [enqueued.toISOString(), enqueued.toISOString()],
      partitionKeyArray: ['7', null],
      propertiesArray: [{ k: 1 }, {}],
    });
  });
});
