/**
 * Placeholder for the equipment page (issue #18): the machine's name and latest reading, so
 * the app shell's `#/equipment/<id>` route has something to mount. The charted page replaces
 * this module with the same export.
 */
import { getMachine, getStatus } from './api.js';
import { el, formatTime } from './view.js';

export function renderEquipmentPage(root: HTMLElement, equipmentId: string): () => void {
  let live = true;
  const title = el('h2', { id: 'equipment-page-title' }, `Machine ${equipmentId}`);
  const latest = el('p', { class: 'latest' }, 'Loading…');
  root.replaceChildren(title, latest);
  void getMachine(equipmentId)
    .then((machine) => {
      if (live)
        title.textContent = `${machine.name}${machine.location ? ` · ${machine.location}` : ''}`;
    })
    .catch(() => undefined);
  void getStatus(equipmentId)
    .then((status) => {
      if (!live) return;
      const figures = Object.entries(status.reading).map(([metric, value]) => `${metric} ${value}`);
      latest.textContent = status.at
        ? `Latest reading ${formatTime(status.at)}: ${figures.join(', ')}`
        : 'No readings in the last 24 hours.';
    })
    .catch((error: unknown) => {
      if (live) latest.textContent = `Cannot read telemetry: ${String(error)}`;
    });
  return () => {
    live = false;
    root.replaceChildren();
  };
}
