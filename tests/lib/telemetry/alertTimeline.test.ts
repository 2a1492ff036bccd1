import { describe, expect, it } from 'vitest';
import {
  maxTimelineEntries,
  timelineEntries,
  withTimeline,
  type TimelineSubject,
} from '../../../lib/telemetry/alertTimeline.js';

const by = { by: 'admin-ada', at: '2026-11-30T10:00:00.000Z' };
const open: TimelineSubject = { version: 1, status: 'open', severity: 'high' };

describe('timelineEntries', () => {
  it('records a new alert as raised, and muted when it is born suppressed', () => {
    expect(timelineEntries(undefined, open, by)).toEqual([
      { version: 1, ...by, action: 'raised', to: 'high' },
    ]);
    const muted = { ...open, suppressed: { reason: 'maintenance' } };
    expect(timelineEntries(undefined, muted, by).map((e) => [e.action, e.to])).toEqual([
      ['raised', 'high'],
      ['muted', 'maintenance'],
    ]);
  });

  it('records each changed aspect once, and nothing for a version that changes none', () => {
    const next: TimelineSubject = {
      version: 2,
      status: 'acknowledged',
      severity: 'critical',
      assigneeTechnicianId: 7,
    };
    expect(timelineEntries(open, next, by).map((e) => [e.action, e.from, e.to])).toEqual([
      ['acknowledged', 'open', undefined],
      ['escalated', 'high', 'critical'],
      ['assigned', undefined, '7'],
    ]);
    expect(timelineEntries(open, { ...open, version: 2 }, by)).toEqual([]);
  });

  it('tells a withdrawal and a reinstatement from a person’s resolve', () => {
    const withdrawn: TimelineSubject = {
      version: 2,
      status: 'resolved',
      severity: 'high',
      withdrawn: true,
    };
    expect(timelineEntries(open, withdrawn, by).map((e) => e.action)).toEqual(['withdrawn']);
    const back = { version: 3, status: 'open', severity: 'medium' } as const;
    expect(timelineEntries(withdrawn, back, by).map((e) => [e.action, e.from, e.to])).toEqual([
      ['reopened', 'resolved', undefined],
      ['severity-lowered', 'high', 'medium'],
    ]);
  });

  it('records clearing, a flap reopening with its count, and acknowledging a cleared alert', () => {
    const cleared: TimelineSubject = { version: 2, status: 'cleared', severity: 'high' };
    expect(timelineEntries(open, cleared, by).map((e) => [e.action, e.from, e.to])).toEqual([
      ['cleared', 'open', undefined],
    ]);
    const flapped: TimelineSubject = { ...open, version: 3, flapCount: 2 };
    expect(
      timelineEntries({ ...cleared, flapCount: 1 }, flapped, by).map((e) => [
        e.action,
        e.from,
        e.to,
      ]),
    ).toEqual([['reopened', 'cleared', '2']]);
    const seen = { ...cleared, version: 3, acknowledgedAt: by.at };
    expect(timelineEntries(cleared, seen, by).map((e) => [e.action, e.from])).toEqual([
      ['acknowledged', 'cleared'],
    ]);
    expect(timelineEntries(seen, { ...seen, version: 4 }, by)).toEqual([]);
  });

  it('records unassigning and unmuting', () => {
    const before = { ...open, assigneeTechnicianId: 3, suppressed: { reason: 'maintenance' } };
    expect(
      timelineEntries(before, { ...open, version: 2 }, by).map((e) => [e.action, e.from]),
    ).toEqual([
      ['unassigned', '3'],
      ['unmuted', 'maintenance'],
    ]);
  });
});

describe('escalation entries', () => {
  const sweep = { by: 'pipeline', at: '2026-11-30T10:20:00.000Z' };

  it('records an escalation step with who it reached, and a reminder with its count', () => {
    const stepped: TimelineSubject = {
      ...open,
      version: 2,
      escalation: {
        step: 2,
        notify: 'admins',
        reminders: 0,
        last: { action: 'step', at: sweep.at },
      },
    };
    expect(timelineEntries(open, stepped, sweep)).toEqual([
      { version: 2, ...sweep, action: 'escalation-step', to: 'admins' },
    ]);
    const acknowledged = { ...stepped, version: 3, status: 'acknowledged' };
    const at = '2026-11-30T14:20:00.000Z';
    const reminded: TimelineSubject = {
      ...acknowledged,
      version: 4,
      escalation: { step: 2, notify: 'admins', reminders: 1, last: { action: 'reminder', at } },
    };
    expect(timelineEntries(acknowledged, reminded, { by: 'pipeline', at })).toEqual([
      { version: 4, by: 'pipeline', at, action: 'reminded', to: '1' },
    ]);
  });

  it('records nothing for a later version that only carries the escalation over', () => {
    const stepped: TimelineSubject = {
      ...open,
      version: 2,
      escalation: {
        step: 1,
        notify: 'technicians',
        reminders: 0,
        last: { action: 'step', at: sweep.at },
      },
    };
    expect(timelineEntries(stepped, { ...stepped, version: 3 }, by)).toEqual([]);
  });
});

describe('timelineEntries: silences', () => {
  it('names the silence that mutes and unmutes an alert, and a change of what holds it', () => {
    const silenced = (silenceId: number): TimelineSubject => ({
      ...open,
      version: 2,
      suppressed: { reason: 'silence', silenceId },
    });
    expect(timelineEntries(undefined, { ...silenced(4), version: 1 }, by).at(-1)).toMatchObject({
      action: 'muted',
      to: 'silence:4',
    });
    expect(timelineEntries(open, silenced(4), by)).toEqual([
      { version: 2, ...by, action: 'muted', to: 'silence:4' },
    ]);
    // Another silence, or maintenance, taking over: one muted entry naming both.
    expect(timelineEntries(silenced(4), { ...silenced(9), version: 3 }, by)).toEqual([
      { version: 3, ...by, action: 'muted', from: 'silence:4', to: 'silence:9' },
    ]);
    const maintenance = { ...open, version: 3, suppressed: { reason: 'maintenance' } };
    expect(
      timelineEntries(silenced(4), maintenance, by).map((e) => [e.action, e.from, e.to]),
    ).toEqual([['muted', 'silence:4', 'maintenance']]);
    expect(timelineEntries(silenced(4), { ...open, version: 3 }, by)).toEqual([
      { version: 3, ...by, action: 'unmuted', from: 'silence:4' },
    ]);
    // The same silence again changes nothing.
    expect(timelineEntries(silenced(4), { ...silenced(4), version: 3 }, by)).toEqual([]);
  });
});

describe('withTimeline', () => {
  it('appends to the previous version’s timeline and keeps only the newest entries', () => {
    let alert = withTimeline(undefined, open, by);
    for (let version = 2; version <= maxTimelineEntries + 5; version++) {
      const status = version % 2 ? 'open' : 'acknowledged';
      alert = withTimeline(alert, { ...alert, version, status }, by);
    }
    expect(alert.timeline).toHaveLength(maxTimelineEntries);
    expect(alert.timeline?.at(-1)?.version).toBe(maxTimelineEntries + 5);
    // A version that changes nothing adds nothing (and keeps the same array).
    const same = { ...alert, version: alert.version + 1 };
    expect(withTimeline(alert, same, by).timeline).toBe(alert.timeline);
  });
});

describe('timelineEntries for offline alerts', () => {
  it('records the machine coming back once, with the first minute back', () => {
    const offline: TimelineSubject = { ...open, offline: {} };
    const back: TimelineSubject = {
      version: 2,
      status: 'resolved',
      severity: 'high',
      offline: { backOnlineAt: '2026-11-30T10:20:00.000Z' },
    };
    expect(timelineEntries(offline, back, by).map((e) => [e.action, e.to])).toEqual([
      ['resolved', undefined],
      ['back-online', '2026-11-30T10:20:00.000Z'],
    ]);
    expect(timelineEntries(back, { ...back, version: 3 }, by)).toEqual([]);
  });
});
