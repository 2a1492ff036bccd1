/**
 * The dashboard's feed rules, without a browser: repeats and stale versions are dropped,
 * reads replace what they read, the user's scope filters, and messages that are not one of
 * the envelopes are ignored rather than rendered.
 */
import { describe, expect, it } from 'vitest';
import {
  AlertFeed,
  filterAlerts,
  filterFleet,
  fleetFromAnswer,
  newerTime,
  fleetCounts,
  isMe,
  sortAlerts,
  worstAlerts,
  type Equipment,
  mutedLabel,
  parseLiveMessage,
  resolutionWork,
  silenceRequest,
  statusFromTelemetry,
  type Alert,
} from '../../dashboard/src/model.js';

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: '7:temperature:2026-11-24T08:00:00.000Z',
    equipmentId: '7',
    metric: 'temperature',
    status: 'open',
    severity: 'high',
    occurrences: 1,
    firstWindowStart: '2026-11-24T08:00:00.000Z',
    lastWindowStart: '2026-11-24T08:00:00.000Z',
    raisedAt: '2026-11-24T08:06:00.000Z',
    breach: {
      metric: 'temperature',
      severity: 'high',
      mean: 85,
      threshold: 80,
      comparison: '>',
      unit: '°C',
      description: 'Running hot',
      recommendedAction: 'Check coolant',
    },
    window: {
      start: '2026-11-24T08:00:00.000Z',
      end: '2026-11-24T08:05:00.000Z',
      summary: { readings: 3, metrics: { temperature: { count: 3, min: 84, max: 86, mean: 85 } } },
    },
    etag: '"1"',
    ...overrides,
  };
}

describe('AlertFeed', () => {
  it('keeps one entry per alert and drops a repeated or older version', () => {
    const feed = new AlertFeed();
    expect(feed.applyMessage(alert(), 1)).toBe(true);
    expect(feed.applyMessage(alert(), 1)).toBe(false); // the same message by user id
    expect(feed.applyMessage(alert({ severity: 'critical' }), 2)).toBe(true);
    expect(feed.applyMessage(alert({ severity: 'medium' }), 1)).toBe(false); // late, stale
    expect(feed.size).toBe(1);
    expect(feed.get(alert().id)?.severity).toBe('critical');
  });

  it('applies reads over messages and keeps the version it has seen', () => {
    const feed = new AlertFeed();
    feed.applyRead(alert());
    expect(feed.applyMessage(alert({ status: 'acknowledged' }), 3)).toBe(true);
    feed.applyRead(alert({ status: 'resolved', etag: '"9"' }));
    expect(feed.get(alert().id)).toMatchObject({ status: 'resolved', etag: '"9"' });
    expect(feed.applyMessage(alert({ status: 'acknowledged' }), 3)).toBe(false);
  });

  it("drops a read older than a message it has applied, and takes a read's version", () => {
    const feed = new AlertFeed();
    feed.applyMessage(alert({ severity: 'critical' }), 3);
    expect(feed.applyRead(alert({ severity: 'high', version: 2 }))).toBe(false);
    expect(feed.get(alert().id)?.severity).toBe('critical');
    expect(feed.applyRead(alert({ status: 'acknowledged', version: 4 }))).toBe(true);
    expect(feed.applyMessage(alert({ status: 'open' }), 4)).toBe(false);
    expect(feed.applyMessage(alert({ status: 'resolved' }), 5)).toBe(true);
  });

  it('lists newest raised first, stable on ties', () => {
    const feed = new AlertFeed();
    feed.applyRead(alert({ id: 'a', raisedAt: '2026-11-24T08:00:00.000Z' }));
    feed.applyRead(alert({ id: 'c', raisedAt: '2026-11-24T09:00:00.000Z' }));
    feed.applyRead(alert({ id: 'b', raisedAt: '2026-11-24T09:00:00.000Z' }));
    expect(feed.list().map((a) => a.id)).toEqual(['b', 'c', 'a']);
  });

  it('shows only the equipment in scope', () => {
    const feed = new AlertFeed();
    feed.applyRead(alert({ id: 'x', equipmentId: '8' }));
    feed.setScope([7, 9]);
    expect(feed.size).toBe(0);
    expect(feed.applyMessage(alert({ id: 'y', equipmentId: '8' }), 1)).toBe(false);
    expect(feed.applyMessage(alert(), 1)).toBe(true);
    feed.setScope(null);
    expect(feed.applyRead(alert({ id: 'z', equipmentId: '8' }))).toBe(true);
  });
});

describe('parseLiveMessage', () => {
  it('reads alert envelopes with their version, as JSON or JSON text', () => {
    const envelope = { type: 'alert.raised', alert: { ...alert(), version: 4 } };
    expect(parseLiveMessage(envelope)).toMatchObject({ type: 'alert.raised', version: 4 });
    expect(parseLiveMessage(JSON.stringify(envelope))).toMatchObject({ version: 4 });
  });

  it('reads clearings and reopenings (hysteresis) with cleared alerts', () => {
    const cleared = {
      ...alert({ status: 'cleared', clearedAt: '2026-11-24T08:15:00.000Z' }),
      version: 2,
    };
    expect(parseLiveMessage({ type: 'alert.cleared', alert: cleared })).toMatchObject({
      type: 'alert.cleared',
      alert: { status: 'cleared' },
    });
    const reopened = { ...alert({ flapCount: 1 }), version: 3 };
    expect(parseLiveMessage({ type: 'alert.reopened', alert: reopened })).toMatchObject({
      type: 'alert.reopened',
      version: 3,
    });
  });

  it('reads an offline alert (no metric figures in its last window)', () => {
    const offline = alert({
      id: '7:offline:2026-11-24T08:03:00.000Z',
      metric: 'offline',
      breach: {
        metric: 'offline',
        severity: 'high',
        mean: 17,
        threshold: 15,
        comparison: '>',
        unit: 'min',
        description: 'No readings since 08:03',
        recommendedAction: 'Check the gateway',
      },
      window: {
        start: '2026-11-24T08:00:00.000Z',
        end: '2026-11-24T08:05:00.000Z',
        summary: { readings: 0, metrics: {} },
      },
      offline: {
        lastSeenAt: '2026-11-24T08:03:00.000Z',
        timeoutMinutes: 15,
        statusBefore: 'Operational',
      },
    });
    const envelope = { type: 'alert.raised', alert: { ...offline, version: 1 } };
    expect(parseLiveMessage(envelope)).toMatchObject({ alert: { metric: 'offline' } });
    expect(parseLiveMessage({ ...envelope, alert: { ...offline, metric: 'noise' } })).toBe(
      undefined,
    );
  });

  it('reads equipment status', () => {
    const message = parseLiveMessage({
      type: 'equipment.status',
      equipmentId: '7',
      at: '2026-11-24T08:01:00.000Z',
      reading: { temperature: 70.5, vibration: 'x' },
      window: {
        start: '2026-11-24T08:00:00.000Z',
        end: '2026-11-24T08:05:00.000Z',
        summary: {
          readings: 2,
          metrics: { temperature: { count: 2, min: 70, max: 71, mean: 70.5 } },
        },
      },
    });
    expect(message).toEqual({
      type: 'equipment.status',
      status: {
        equipmentId: '7',
        at: '2026-11-24T08:01:00.000Z',
        reading: { temperature: 70.5 },
        window: {
          start: '2026-11-24T08:00:00.000Z',
          end: '2026-11-24T08:05:00.000Z',
          summary: {
            readings: 2,
            metrics: { temperature: { count: 2, min: 70, max: 71, mean: 70.5 } },
          },
        },
      },
    });
  });

  it.each([
    ['not JSON', '{'],
    ['no type', { alert: alert() }],
    ['an unknown type', { type: 'alert.deleted', alert: { ...alert(), version: 1 } }],
    ['no version', { type: 'alert.raised', alert: alert() }],
    [
      'a bad severity',
      { type: 'alert.raised', alert: { ...alert({ severity: 'x' as never }), version: 1 } },
    ],
    [
      'a missing breach',
      { type: 'alert.updated', alert: { ...alert(), breach: null, version: 1 } },
    ],
    ['status without equipment', { type: 'equipment.status', reading: {} }],
    ['an array', [1]],
  ])('ignores %s', (_name, data) => {
    expect(parseLiveMessage(data)).toBeUndefined();
  });
});

describe('API shapes', () => {
  it('turns the telemetry route into a status', () => {
    const at = '2026-11-24T08:01:00.000Z';
    expect(
      statusFromTelemetry('7', {
        equipmentId: '7',
        latest: { equipmentId: '7', timestamp: at, pressure: 40 },
        currentWindow: null,
        history: [],
      }),
    ).toEqual({
      equipmentId: '7',
      at,
      reading: { pressure: 40 },
      window: null,
    });
    expect(statusFromTelemetry('8', { latest: null })).toMatchObject({ at: null, reading: {} });
  });

  it('accepts /api/me for a technician and an admin only in its shape', () => {
    expect(
      isMe({ subject: 'a', roles: ['Technician'], technicianId: 1, equipmentIds: [1, 4] }),
    ).toBe(true);
    expect(isMe({ subject: 'b', roles: ['Admin'], technicianId: null, equipmentIds: null })).toBe(
      true,
    );
    expect(isMe({ subject: 'c', roles: 'Admin', equipmentIds: null })).toBe(false);
    expect(isMe({ subject: 'd', roles: [], equipmentIds: ['1'] })).toBe(false);
  });
});

describe('mutedLabel', () => {
  it('labels a suppressed alert in words, and leaves others alone', () => {
    expect(mutedLabel(alert({ suppressed: { reason: 'maintenance' } }))).toBe('Muted: maintenance');
    expect(mutedLabel(alert({ suppressed: { reason: 'silence', silenceId: 12 } }))).toBe(
      'Muted: silence 12',
    );
    expect(mutedLabel(alert())).toBeUndefined();
  });

  it('shows a read alert muted until a later version comes without the suppression', () => {
    const feed = new AlertFeed();
    feed.applyRead(alert({ suppressed: { reason: 'maintenance' }, version: 1 }));
    expect(feed.list().map(mutedLabel)).toEqual(['Muted: maintenance']);
    expect(feed.applyMessage(alert(), 2)).toBe(true); // maintenance over: delivered
    expect(feed.list().map(mutedLabel)).toEqual([undefined]);
  });
});

describe('the fleet and alert views', () => {
  const machine = (id: number, overrides: Partial<Equipment> = {}): Equipment => ({
    id,
    serialNumber: `SN-${id}`,
    name: `Excavator ${id}`,
    type: 'excavator',
    location: 'Quarry North',
    status: 'Operational',
    ...overrides,
  });
  const fleet = [
    machine(1),
    machine(2, { type: 'loader', location: 'Depot', status: 'Maintenance' }),
    machine(3, { serialNumber: null, name: 'Crusher' }),
  ];
  const alerts = [
    alert({ id: 'a', equipmentId: '1', severity: 'medium', raisedAt: '2026-11-24T09:00:00Z' }),
    alert({ id: 'b', equipmentId: '1', severity: 'critical', raisedAt: '2026-11-24T08:00:00Z' }),
    alert({ id: 'c', equipmentId: '2', severity: 'high', status: 'resolved' }),
    alert({ id: 'd', equipmentId: '3', severity: 'high', raisedAt: '2026-11-24T10:00:00Z' }),
  ];

  it('takes each machine’s worst unsettled alert, ignoring resolved ones', () => {
    expect(Object.fromEntries(worstAlerts(alerts))).toEqual({ '1': 'critical', '3': 'high' });
  });

  it('counts machines by status and by worst alert', () => {
    const { byStatus, bySeverity } = fleetCounts(fleet, worstAlerts(alerts));
    expect(Object.fromEntries(byStatus)).toEqual({ Operational: 2, Maintenance: 1 });
    expect(Object.fromEntries(bySeverity)).toEqual({ critical: 1, none: 1, high: 1 });
  });

  it('filters the fleet by type, site, status, severity and a name or serial search', () => {
    const worst = worstAlerts(alerts);
    const ids = (filter: Partial<Parameters<typeof filterFleet>[2]>) =>
      filterFleet(fleet, worst, {
        type: '',
        site: '',
        status: '',
        severity: '',
        search: '',
        ...filter,
      }).map((m) => m.id);
    expect(ids({})).toEqual([1, 2, 3]);
    expect(ids({ type: 'loader' })).toEqual([2]);
    expect(ids({ site: 'Quarry North' })).toEqual([1, 3]);
    expect(ids({ status: 'Maintenance' })).toEqual([2]);
    expect(ids({ severity: 'none' })).toEqual([2]);
    expect(ids({ search: 'crush' })).toEqual([3]);
    expect(ids({ search: 'sn-2' })).toEqual([2]);
  });

  it('sorts alerts critical first, then newest, and by other columns on request', () => {
    const name = (id: string) => fleet.find((m) => String(m.id) === id)?.name ?? id;
    expect(sortAlerts(alerts, 'priority', true, name).map((a) => a.id)).toEqual([
      'b',
      'd',
      'c',
      'a',
    ]);
    expect(sortAlerts(alerts, 'machine', false, name).map((a) => a.id)).toEqual([
      'd',
      'b',
      'a',
      'c',
    ]);
  });

  it('filters alerts by the machine’s type and site, and by suppression', () => {
    const byId = new Map(fleet.map((m) => [String(m.id), m]));
    const none = { severity: '', status: '', metric: '', type: '', site: '' };
    expect(filterAlerts(alerts, byId, { ...none, site: 'Depot' }).map((a) => a.id)).toEqual(['c']);
    expect(filterAlerts(alerts, byId, { ...none, status: 'suppressed' })).toEqual([]);
    const muted = alert({ id: 'm', suppressed: { reason: 'maintenance' } as Alert['suppressed'] });
    expect(filterAlerts([muted], byId, { ...none, status: 'suppressed' })).toEqual([muted]);
  });

  it('reads the fleet answer’s rows by its columns, dropping rows of another shape', () => {
    const columns = ['id', 'name', 'type', 'location', 'serialNumber', 'status', 'lastReadingAt'];
    const at = '2026-11-30T08:03:00.000Z';
    expect(
      fleetFromAnswer({
        columns,
        rows: [
          [1, 'Pump', 'pump', 'North', 'SN-1', 'Operational', at],
          [2, 'Crusher', 'crusher', null, null, 'Offline', null],
          ['3', 'Bad id', 'pump', null, null, 'Operational', null],
          { id: 4 },
        ],
      }),
    ).toEqual([
      {
        id: 1,
        name: 'Pump',
        type: 'pump',
        location: 'North',
        serialNumber: 'SN-1',
        status: 'Operational',
        lastReadingAt: at,
      },
      {
        id: 2,
        name: 'Crusher',
        type: 'crusher',
        location: null,
        serialNumber: null,
        status: 'Offline',
        lastReadingAt: null,
      },
    ]);
    // Columns in another order would put values in the wrong fields: refused whole.
    expect(fleetFromAnswer({ columns: [...columns].reverse(), rows: [] })).toBeUndefined();
    expect(fleetFromAnswer({ items: [] })).toBeUndefined();
  });

  it('takes the newer of the live and the read last reading', () => {
    const early = '2026-11-30T08:03:00.000Z';
    const late = '2026-11-30T08:03:41.512Z';
    expect(newerTime(late, early)).toBe(late);
    expect(newerTime(early, late)).toBe(late);
    expect(newerTime(undefined, early)).toBe(early);
    expect(newerTime(null, null)).toBeNull();
  });
});

describe('the resolve form', () => {
  const fields = { description: ' Replaced the coolant pump ', laborHours: '', serviceType: '' };

  it('sends the work done, trimmed, with hours and type only when given', () => {
    expect(resolutionWork(fields)).toEqual({ work: { description: 'Replaced the coolant pump' } });
    expect(resolutionWork({ ...fields, laborHours: '1.25', serviceType: 'emergency' })).toEqual({
      work: {
        description: 'Replaced the coolant pump',
        laborHours: 1.25,
        serviceType: 'emergency',
      },
    });
    expect(resolutionWork({ ...fields, laborHours: '0' })).toEqual({
      work: { description: 'Replaced the coolant pump', laborHours: 0 },
    });
  });

  it.each([
    [{ ...fields, description: '   ' }, /Describe/],
    [{ ...fields, description: 'x'.repeat(4001) }, /4000/],
    [{ ...fields, laborHours: '-1' }, /Labour hours/],
    [{ ...fields, laborHours: '1.234' }, /two decimals/],
    [{ ...fields, laborHours: '10000' }, /9999.99/],
    [{ ...fields, laborHours: 'two' }, /Labour hours/],
  ])('refuses %j with a message', (input, message) => {
    const parsed = resolutionWork(input);
    expect('error' in parsed && parsed.error).toMatch(message);
  });
});

describe('the silence form', () => {
  const now = new Date('2026-11-30T10:00:00.000Z');
  const hot = alert({ id: '7:temperature:x', equipmentId: '7', metric: 'temperature' });
  const machine: Pick<Equipment, 'type' | 'location'> = { type: 'pump', location: 'Depot' };
  const form = (scope: string, duration: string, reason = ' Recalibrating ') => ({
    scope,
    duration,
    reason,
  });

  it('holds the alert alone until it is resolved, or for a while', () => {
    expect(silenceRequest(hot, machine, form('alert', 'resolved'), now)).toEqual({
      request: { alertId: '7:temperature:x', reason: 'Recalibrating' },
    });
    expect(silenceRequest(hot, machine, form('alert', '4'), now)).toEqual({
      request: {
        alertId: '7:temperature:x',
        reason: 'Recalibrating',
        endsAt: '2026-11-30T14:00:00.000Z',
      },
    });
  });

  it('silences the machine (one metric or all), its type or its site for a while', () => {
    expect(silenceRequest(hot, machine, form('machine-metric', '1'), now)).toEqual({
      request: {
        equipmentId: 7,
        metric: 'temperature',
        reason: 'Recalibrating',
        endsAt: '2026-11-30T11:00:00.000Z',
      },
    });
    const endsAt = '2026-12-07T10:00:00.000Z';
    expect(silenceRequest(hot, machine, form('machine', '168'), now)).toEqual({
      request: { equipmentId: 7, reason: 'Recalibrating', endsAt },
    });
    expect(silenceRequest(hot, machine, form('type', '168'), now)).toEqual({
      request: { equipmentType: 'pump', reason: 'Recalibrating', endsAt },
    });
    expect(silenceRequest(hot, machine, form('site', '168'), now)).toEqual({
      request: { location: 'Depot', reason: 'Recalibrating', endsAt },
    });
  });

  it.each([
    ['no reason', hot, machine, form('alert', 'resolved', '  '), /reason/],
    ['a long reason', hot, machine, form('alert', '1', 'x'.repeat(501)), /500/],
    ['an unknown scope', hot, machine, form('fleet', '1'), /what to silence/],
    ['no end for a wider scope', hot, machine, form('machine', 'resolved'), /alone/],
    ['no duration', hot, machine, form('machine', ''), /how long/],
    ['over a week', hot, machine, form('machine', '169'), /how long/],
    ['a site the machine lacks', hot, { ...machine, location: null }, form('site', '1'), /site/],
    ['the type before the fleet loads', hot, undefined, form('type', '1'), /not loaded/],
    [
      'a metric of an offline alert',
      alert({ metric: 'offline' }),
      machine,
      form('machine-metric', '1'),
      /offline/,
    ],
    [
      'a machine outside the registry',
      alert({ equipmentId: 'sim-3' }),
      machine,
      form('machine', '1'),
      /registry/,
    ],
  ])('refuses %s with a message', (_, which, known, input, message) => {
    const parsed = silenceRequest(which, known, input, now);
    expect('error' in parsed && parsed.error).toMatch(message);
  });
});
