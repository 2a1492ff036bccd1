/**
 * The Operations view (admins, `#/operations`): what `GET /api/operations` answers, read
 * again every 15 seconds while the view is shown and the tab visible: the pipeline's lag per
 * Event Hubs partition, the last hour's dead letters by reason (each reason opens the
 * matching dead letters, read from `GET /api/dead-letters` with the link the route gives),
 * and the delivery backlog. A part the server could not read says so; the others stay.
 */
import './operationsPage.css';
import { EquipmentReadError, isRecord, pageItems, readJson } from './equipment/api.js';
import { el, type Child } from './view.js';

const refreshMs = 15_000;
/** Dead letters shown when a reason is opened (the newest; the API pages the rest). */
const lettersShown = 20;

interface PartitionLag {
  partitionId: string;
  events: number;
  seconds: number;
  lastSequenceNumber: number | null;
}
interface ReasonCount {
  reason: string;
  count: number;
  href: string;
}
interface Operations {
  at: string;
  pipelineLag: { partitions: PartitionLag[] } | null;
  deadLetters: { since: string; total: number; href: string; byReason: ReasonCount[] } | null;
  deliveryBacklog: {
    pending: number;
    oldestPendingSince: string | null;
    oldestPendingAgeSeconds: number | null;
  } | null;
  unavailable: { part: string; detail: string }[];
}

const isNumber = (value: unknown): value is number => typeof value === 'number';
const isString = (value: unknown): value is string => typeof value === 'string';

function isPartitionLag(value: unknown): value is PartitionLag {
  return (
    isRecord(value) &&
    isString(value['partitionId']) &&
    isNumber(value['events']) &&
    isNumber(value['seconds']) &&
    (value['lastSequenceNumber'] === null || isNumber(value['lastSequenceNumber']))
  );
}

function isReasonCount(value: unknown): value is ReasonCount {
  return (
    isRecord(value) &&
    isString(value['reason']) &&
    isNumber(value['count']) &&
    isString(value['href'])
  );
}

/** The answer, or undefined when it is not of the documented shape (`Operations`). */
export function parseOperations(body: unknown): Operations | undefined {
  if (!isRecord(body) || !isString(body['at']) || !Array.isArray(body['unavailable']))
    return undefined;
  const lag = body['pipelineLag'];
  const letters = body['deadLetters'];
  const backlog = body['deliveryBacklog'];
  const partitions = isRecord(lag) && Array.isArray(lag['partitions']) ? lag['partitions'] : null;
  const byReason =
    isRecord(letters) && Array.isArray(letters['byReason']) ? letters['byReason'] : null;
  return {
    at: body['at'],
    pipelineLag: partitions ? { partitions: partitions.filter(isPartitionLag) } : null,
    deadLetters:
      isRecord(letters) &&
      byReason &&
      isString(letters['since']) &&
      isNumber(letters['total']) &&
      isString(letters['href'])
        ? {
            since: letters['since'],
            total: letters['total'],
            href: letters['href'],
            byReason: byReason.filter(isReasonCount),
          }
        : null,
    deliveryBacklog:
      isRecord(backlog) && isNumber(backlog['pending'])
        ? {
            pending: backlog['pending'],
            oldestPendingSince: isString(backlog['oldestPendingSince'])
              ? backlog['oldestPendingSince']
              : null,
            oldestPendingAgeSeconds: isNumber(backlog['oldestPendingAgeSeconds'])
              ? backlog['oldestPendingAgeSeconds']
              : null,
          }
        : null,
    unavailable: body['unavailable'].flatMap((entry: unknown) =>
      isRecord(entry) && isString(entry['part']) && isString(entry['detail'])
        ? [{ part: entry['part'], detail: entry['detail'] }]
        : [],
    ),
  };
}

const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const whole = (value: number) => value.toLocaleString(undefined, { maximumFractionDigits: 0 });

const plural = (count: number, noun: string) => `${whole(count)} ${noun}${count === 1 ? '' : 's'}`;

/** A duration in words: "45 s", "12 min", "3 h 5 min". */
export function durationText(seconds: number): string {
  if (seconds < 90) return `${whole(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const reasonText: Record<string, string> = {
  malformed: 'Malformed (not JSON)',
  invalid: 'Invalid reading',
  'too-many': 'Too many readings in one event',
  future: 'Timestamp in the future',
  late: 'Late (window already closed)',
  unregistered: 'Unregistered equipment',
  'unreadable-batch': 'Unreadable batch',
};

/** A table that scrolls sideways on a narrow screen, reachable by keyboard when it does. */
function scrollingTable(
  label: string,
  head: [title: string, numeric?: 'numeric'][],
  rows: HTMLTableRowElement[],
): HTMLElement {
  return el(
    'div',
    { class: 'table-scroll', role: 'region', 'aria-label': label, tabindex: '0' },
    el(
      'table',
      { class: 'ops-table' },
      el('caption', { class: 'visually-hidden' }, label),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...head.map(([title, numeric]) =>
            el('th', numeric ? { scope: 'col', class: 'ops-number' } : { scope: 'col' }, title),
          ),
        ),
      ),
      el('tbody', {}, ...rows),
    ),
  );
}

function panel(id: string, title: string, ...children: Child[]): HTMLElement {
  return el(
    'section',
    { class: 'ops-panel', id: `ops-${id}`, 'aria-labelledby': `ops-${id}-title` },
    el('h3', { id: `ops-${id}-title` }, title),
    ...children,
  );
}

function unavailableNote(operations: Operations, part: string): HTMLElement {
  const detail = operations.unavailable.find((u) => u.part === part)?.detail;
  return el('p', { class: 'ops-unavailable' }, `Not available right now. ${detail ?? ''}`.trim());
}

function lagPanel(operations: Operations): HTMLElement {
  const lag = operations.pipelineLag;
  if (!lag) return panel('lag', 'Pipeline lag', unavailableNote(operations, 'pipelineLag'));
  const behind = lag.partitions.filter((p) => p.events > 0).length;
  return panel(
    'lag',
    'Pipeline lag',
    el(
      'p',
      { class: 'ops-summary' },
      behind
        ? `${behind} of ${lag.partitions.length} partitions behind.`
        : `All ${lag.partitions.length} partitions caught up.`,
    ),
    scrollingTable(
      'Lag per Event Hubs partition',
      [
        ['Partition'],
        ['Events behind', 'numeric'],
        ['Time behind', 'numeric'],
        ['Last committed', 'numeric'],
      ],
      lag.partitions.map((p) =>
        el(
          'tr',
          { 'data-partition': p.partitionId, class: p.events > 0 ? 'ops-behind' : '' },
          el('td', {}, p.partitionId),
          el('td', { class: 'ops-number', 'data-field': 'events' }, whole(p.events)),
          el('td', { class: 'ops-number' }, durationText(p.seconds)),
          el(
            'td',
            { class: 'ops-number' },
            p.lastSequenceNumber === null ? 'never consumed' : `#${p.lastSequenceNumber}`,
          ),
        ),
      ),
    ),
  );
}

function backlogPanel(operations: Operations): HTMLElement {
  const backlog = operations.deliveryBacklog;
  if (!backlog)
    return panel('backlog', 'Delivery backlog', unavailableNote(operations, 'deliveryBacklog'));
  return panel(
    'backlog',
    'Delivery backlog',
    el(
      'dl',
      { class: 'ops-facts' },
      el('dt', {}, 'Alerts owed a delivery'),
      el('dd', { 'data-field': 'pending' }, whole(backlog.pending)),
      el('dt', {}, 'Oldest waiting'),
      el(
        'dd',
        { 'data-field': 'oldest' },
        backlog.oldestPendingAgeSeconds === null || backlog.oldestPendingSince === null
          ? 'nothing pending'
          : `${durationText(backlog.oldestPendingAgeSeconds)} (since ${dateTime.format(new Date(backlog.oldestPendingSince))})`,
      ),
    ),
  );
}

export function renderOperationsPage(root: HTMLElement): () => void {
  const aborter = new AbortController();
  const { signal } = aborter;
  const status = el('p', { class: 'ops-status' }, 'Loading…');
  const lag = el('div');
  const letters = el('div');
  const backlog = el('div');
  /** The dead letters of the reason opened, kept across refreshes (they are not re-read). */
  const opened = el('div', { id: 'ops-opened-letters', class: 'ops-letters' });
  let openedReason: string | undefined;
  root.replaceChildren(
    el('div', { class: 'operations-page' }, status, lag, letters, opened, backlog),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest: Operations | undefined;

  const operationsUrl = () => new URL('operations', new URL('../', window.location.href));

  async function openReason(entry: ReasonCount): Promise<void> {
    openedReason = entry.reason;
    renderLetters();
    opened.replaceChildren(el('p', { class: 'ops-status' }, 'Loading dead letters…'));
    // The route's link is relative to it; the listing is read with the same credentials.
    const url = new URL(entry.href, operationsUrl());
    url.searchParams.set('limit', String(lettersShown));
    try {
      const items = pageItems(await readJson(url.href, signal), isRecord);
      if (openedReason !== entry.reason) return;
      opened.replaceChildren(
        el(
          'h4',
          {},
          `${reasonText[entry.reason] ?? entry.reason}: ${plural(items.length, 'event')}, newest first`,
        ),
        el(
          'ul',
          { class: 'ops-letter-list' },
          ...items.map((item) => {
            const rejections = Array.isArray(item['rejections']) ? item['rejections'] : [];
            const first: unknown = rejections[0];
            const issues = isRecord(first) && Array.isArray(first['issues']) ? first['issues'] : [];
            const issue: unknown = issues[0];
            const message =
              isRecord(issue) && isString(issue['message'])
                ? issue['message']
                : isString(item['detail'])
                  ? item['detail']
                  : '';
            const enqueued = isString(item['enqueuedTime'])
              ? dateTime.format(new Date(item['enqueuedTime']))
              : '';
            return el(
              'li',
              {},
              el('code', {}, String(item['id'])),
              ` · ${String(item['equipmentId'])} · ${enqueued}`,
              message ? el('span', { class: 'ops-issue' }, message) : null,
            );
          }),
        ),
      );
    } catch (error) {
      if (signal.aborted || openedReason !== entry.reason) return;
      opened.replaceChildren(
        el(
          'p',
          { class: 'ops-unavailable' },
          error instanceof Error ? error.message : String(error),
        ),
      );
    }
  }

  function renderLetters(): void {
    if (!latest) return;
    const found = latest.deadLetters;
    if (!found) {
      letters.replaceChildren(
        panel('letters', 'Dead letters, last hour', unavailableNote(latest, 'deadLetters')),
      );
      return;
    }
    const rows = found.byReason.map((entry) => {
      const show = el(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-expanded': String(openedReason === entry.reason),
          'aria-controls': 'ops-opened-letters',
          'data-reason': entry.reason,
        },
        'Show',
      );
      show.addEventListener('click', () => void openReason(entry));
      return el(
        'tr',
        { 'data-reason': entry.reason },
        el('td', {}, reasonText[entry.reason] ?? entry.reason),
        el('td', { class: 'ops-number', 'data-field': 'count' }, whole(entry.count)),
        el('td', {}, show),
      );
    });
    letters.replaceChildren(
      panel(
        'letters',
        'Dead letters, last hour',
        el(
          'p',
          { class: 'ops-summary', 'data-field': 'total' },
          found.total === 0
            ? 'None since ' + clock.format(new Date(found.since)) + '.'
            : `${plural(found.total, 'event')} since ${clock.format(new Date(found.since))}.`,
        ),
        rows.length
          ? scrollingTable(
              'Dead letters by reason',
              [['Reason'], ['Events', 'numeric'], ['Dead letters']],
              rows,
            )
          : null,
      ),
    );
  }

  function render(operations: Operations): void {
    latest = operations;
    // A refresh replaces the panels: the control that had the focus gets it back.
    const focused = document.activeElement;
    const focusedReason =
      focused instanceof HTMLElement && root.contains(focused)
        ? focused.dataset['reason']
        : undefined;
    status.textContent = `Updated ${clock.format(new Date(operations.at))}; refreshed every 15 s.`;
    lag.replaceChildren(lagPanel(operations));
    renderLetters();
    backlog.replaceChildren(backlogPanel(operations));
    if (focusedReason !== undefined)
      root
        .querySelector<HTMLElement>(`button[data-reason="${CSS.escape(focusedReason)}"]`)
        ?.focus();
  }

  /** The read under way: a tab shown again mid-read does not start a second polling loop. */
  let reading: Promise<void> | undefined;
  function refresh(): void {
    reading ??= read().finally(() => (reading = undefined));
  }

  async function read(): Promise<void> {
    clearTimeout(timer);
    try {
      const operations = parseOperations(await readJson('operations', signal));
      if (signal.aborted) return;
      if (operations) render(operations);
      else status.textContent = 'The server answered in an unexpected shape.';
    } catch (error) {
      if (signal.aborted) return;
      status.textContent =
        error instanceof EquipmentReadError && error.status === 403
          ? 'Operations are for admins.'
          : error instanceof EquipmentReadError && error.status === 401
            ? 'Sign in as an admin to see operations.'
            : `Could not read operations: ${error instanceof Error ? error.message : String(error)}`;
    }
    // Polls only while someone can see it (both branches above leave once unmounted); a tab
    // coming back reads at once.
    if (document.visibilityState === 'visible') timer = setTimeout(refresh, refreshMs);
  }

  const onVisibility = () => {
    if (document.visibilityState === 'visible') refresh();
    else clearTimeout(timer);
  };
  document.addEventListener('visibilitychange', onVisibility);
  refresh();

  return () => {
    aborter.abort();
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
