/**
 * Offline detection against the stores (the pure rules are in offline.ts): batches record
 * presence, and the `detectOffline` timer raises `offline` alerts for machines silent past
 * their timeout and resolves them when readings return, setting the MySQL status to
 * `Offline` and back.
 *
 * Several detectors may run at once. Azure runs a timer function as a singleton across
 * instances (a blob lease per function: Azure/azure-webjobs-sdk#614), but the local host
 * runs one per process, and a lease can lapse; nothing here relies on it. The alert is
 * opened through its slot (create, or replace under the slot's ETag) with a deterministic
 * id, so one alert is raised however many detectors find the silence; status changes are
 * compare-and-set in MySQL, so one of them changes the status and records it.
 */
import type { Alert, AlertWindow } from './alerts.js';
import {
  backOnline,
  isSilent,
  mergePresence,
  newestIn,
  offlineAt,
  offlineTimeoutOf,
  raiseOffline,
  type OfflineTimeouts,
  type Presence,
} from './offline.js';
import type { OfflineEquipment } from './offlineEquipment.js';
import {
  applyAlerts,
  type AlertSlotStore,
  type SilenceLookup,
  type WindowAggregate,
} from './processor.js';
import { suppressionOf } from './silences.js';
import { windowStartOf } from './window.js';

/** Where presence and offline alerts are kept (CosmosTelemetryStore). */
export interface OfflineStore extends AlertSlotStore {
  recordPresence(partitionId: string, update: Presence): Promise<void>;
  listPresence(): Promise<Presence[]>;
  unfinishedOfflineAlerts(): Promise<{ alert: Alert; etag: string }[]>;
  readAggregate(equipmentId: string, windowStart: number): Promise<WindowAggregate | undefined>;
}

/**
 * Records batches' presence in the partition's document at most once a minute: the first
 * batch of a newer minute writes everything held since the last write; later batches of the
 * same minute are only held, unless they carry a machine this process never recorded (a new
 * machine is recorded at once). When a partition goes quiet, what was held (at most a minute)
 * is lost: `presenceSlackMs` in offline.ts allows for it. The document's max-merge is what
 * is correct; this only saves writes.
 */
export function presenceRecorder(
  store: Pick<OfflineStore, 'recordPresence'>,
): (partitionId: string, presence: Presence) => Promise<void> {
  const partitions = new Map<string, { recorded: Presence; held: Presence; minute: number }>();
  return async (partitionId, presence) => {
    const known = partitions.get(partitionId) ?? { recorded: {}, held: {}, minute: -Infinity };
    const held = mergePresence(known.held, presence).presence;
    const newest = newestIn(presence);
    const unseen = Object.keys(presence).some((id) => !(id in known.recorded));
    if (!unseen && newest <= known.minute) {
      partitions.set(partitionId, { ...known, held });
      return;
    }
    await store.recordPresence(partitionId, held);
    partitions.set(partitionId, {
      recorded: mergePresence(known.recorded, held).presence,
      held: {},
      minute: Math.max(known.minute, newest),
    });
  };
}

export interface OfflineDetectorOptions {
  store: OfflineStore;
  timeouts: OfflineTimeouts;
  /** Machines among the ids that exist (MySQL). */
  equipment: (ids: readonly string[]) => Promise<Map<string, OfflineEquipment>>;
  /**
   * Compare-and-set of a machine's status, refused when its status changed since
   * `unchangedSince`; whether this call changed it.
   */
  changeStatus: (
    equipmentId: string,
    from: string,
    to: string,
    unchangedSince?: string,
  ) => Promise<boolean>;
  /** The alert fan-out (never throws). */
  alertsWritten?: (alerts: readonly Alert[]) => Promise<void>;
  /** Silences (MySQL, cached): one holding a machine mutes its offline alert. Default: none. */
  silences?: SilenceLookup | undefined;
}

/** What one run did. */
export interface OfflineReport {
  raised: number;
  backOnline: number;
  failures: { equipmentId: string; error: unknown }[];
}

const noSummary: AlertWindow['summary'] = { readings: 0, metrics: {} };

/** One run of the detector at `nowMs`; one machine's failure does not stop the others. */
export async function detectOffline(
  options: OfflineDetectorOptions,
  nowMs: number,
): Promise<OfflineReport> {
  const { store } = options;
  const lastSeen = (await store.listPresence()).reduce<Presence>(
    (all, presence) => mergePresence(all, presence).presence,
    {},
  );
  const unfinished = await store.unfinishedOfflineAlerts();
  const watched = new Set(unfinished.map(({ alert }) => alert.equipmentId));
  const machines = await options.equipment([...new Set([...Object.keys(lastSeen), ...watched])]);
  const report: OfflineReport = { raised: 0, backOnline: 0, failures: [] };
  const written: Alert[] = [];
  const each = async (equipmentId: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      report.failures.push({ equipmentId, error });
    }
  };

  for (const { alert, etag } of unfinished) {
    await each(alert.equipmentId, async () => {
      const back = backOnline(alert, lastSeen[alert.equipmentId]);
      const before = alert.offline?.statusBefore;
      if (!back) {
        // Still offline. A detector that crashed between raising the alert and setting the
        // status left it unchanged: set it now, unless anyone changed it since the raise.
        if (before && machines.get(alert.equipmentId)?.status === before) {
          await options.changeStatus(alert.equipmentId, before, 'Offline', alert.raisedAt);
        }
        return;
      }
      // Status first: a crash after it leaves the alert unfinished, and the next run's
      // compare-and-set finds the status restored already and only writes the alert.
      if (before) await options.changeStatus(alert.equipmentId, 'Offline', before);
      if (await store.writeAlert(back, etag)) {
        written.push(back);
        report.backOnline++;
      }
    });
  }

  for (const [equipmentId, lastSeenMs] of Object.entries(lastSeen)) {
    const machine = machines.get(equipmentId);
    // Unknown and retired machines are never offline; a watched one is offline already.
    if (!machine || machine.status === 'Retired' || watched.has(equipmentId)) continue;
    const timeoutMinutes = offlineTimeoutOf(options.timeouts, machine);
    if (!isSilent(lastSeenMs, timeoutMinutes, nowMs)) continue;
    await each(equipmentId, async () => {
      // Maintenance: the alert is stored muted and the status left alone; so is a status a
      // person set to Offline already. A silence (a planned shutdown of a site, say) mutes the
      // alert too, judged at the instant the machine counts as offline; the status still
      // becomes Offline, which is a fact, not a notification.
      const inMaintenance = machine.status === 'Maintenance';
      const statusBefore = inMaintenance || machine.status === 'Offline' ? null : machine.status;
      const at = offlineAt(lastSeenMs, timeoutMinutes);
      const silences = options.silences
        ? (await options.silences([equipmentId], at))(equipmentId)
        : [];
      const aggregate = await store.readAggregate(equipmentId, windowStartOf(lastSeenMs));
      const alerts = await applyAlerts(
        store,
        (current) =>
          raiseOffline(current, {
            equipmentId,
            lastSeenMs,
            timeoutMinutes,
            statusBefore,
            suppressed: suppressionOf(inMaintenance, silences, 'offline', at, current),
            lastWindowSummary: aggregate?.summary ?? noSummary,
          }),
        equipmentId,
        'offline',
      );
      written.push(...alerts);
      const raised = alerts.find((alert) => alert.version === 1);
      if (!raised) return;
      report.raised++;
      const before = raised.offline?.statusBefore;
      if (before) await options.changeStatus(equipmentId, before, 'Offline');
    });
  }
  if (written.length) await options.alertsWritten?.(written);
  return report;
}
