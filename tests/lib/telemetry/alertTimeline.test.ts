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
