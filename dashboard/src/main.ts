/**
 * The live dashboard: signs in (a pasted development token, or the platform's session),
 * reads who the user is and what they may see, loads the fleet and the current alerts, then
 * follows them live over Web PubSub, reconnecting by itself. Each view has its own URL in
 * the hash (`#/`, `#/alerts`, `#/alerts/<id>`, `#/equipment/<id>`, `#/operations`), so the
 * back button and bookmarks work and the server serves one page for all of them.
 */
import { WebPubSubClient, WebPubSubJsonReliableProtocol } from '@azure/web-pubsub-client';
import {
  ApiError,
  changeAlertStatus,
  createSilence,
  getAlert,
  getMe,
  addComment,
  assignAlert,
  listAlerts,
  listTechnicians,
  listComments,
  listFleet,
  negotiate,
  storeToken,
  storedToken,
  type StatusDetails,
} from './api.js';
import {
  AlertFeed,
  filterAlerts,
  filterFleet,
  newerTime,
  fleetCounts,
  parseLiveMessage,
  resolutionWork,
  silenceRequest,
  sortAlerts,
  worstAlerts,
  type Alert,
  type AlertFilter,
  type AlertSortKey,
  type FleetMachine,
  type EquipmentStatus,
  type FleetFilter,
  type Me,
  type ResolutionFields,
  type SilenceFields,
} from './model.js';
import { age, alertItem, alertRow, byId, el, formatTime, type AlertAction } from './view.js';

/** How many alerts the page reads at sign-in (the API's largest page). */
const maxAlertsShown = 200;
/** The fleet grid's row height (px, matches style.css): rows are placed, not measured. */
const fleetRowPx = 44;
/** Restart delays after the client gives up reconnecting (ms), then the last one repeated. */
const restartDelaysMs = [1_000, 2_000, 5_000, 10_000, 20_000, 30_000];

type Connection = 'idle' | 'connecting' | 'online' | 'offline' | 'stopped' | 'signed-out';

const connectionText: Record<Connection, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  online: 'Live',
  offline: 'Offline: reconnecting…',
  stopped: 'Offline: retrying soon…',
  'signed-out': 'Signed out',
};

const feed = new AlertFeed();
/**
 * Latest reading per machine from live `equipment.status` messages; the fleet read's
 * `lastReadingAt` covers the time before the first message.
 */
const statuses = new Map<string, EquipmentStatus>();
let fleet: FleetMachine[] = [];
const fleetById = new Map<string, FleetMachine>();
let alertSort: { key: AlertSortKey; descending: boolean } = { key: 'priority', descending: true };
const busy = new Set<string>();
let me: Me | undefined;
let client: WebPubSubClient | undefined;
/** Bumped on every sign-in and sign-out; work of an older session stops touching the page. */
let session = 0;
let restartTimer: ReturnType<typeof setTimeout> | undefined;

function setConnection(state: Connection, detail?: string): void {
  document.body.dataset['connection'] = state;
  byId('connection').textContent = detail
    ? `${connectionText[state]} (${detail})`
    : connectionText[state];
}

function showProblem(message: string | undefined): void {
  const problem = byId('problem');
  problem.textContent = message ?? '';
  problem.hidden = !message;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

function announce(text: string): void {
  byId('announcer').textContent = text;
}

function machineName(equipmentId: string): string {
  return fleetById.get(equipmentId)?.name ?? `Machine ${equipmentId}`;
}

function siteOf(equipmentId: string): string {
  return fleetById.get(equipmentId)?.location ?? '';
}

function formValues<T extends object>(form: HTMLFormElement, empty: T): T {
  const data = new FormData(form);
  const values: Record<string, string> = {};
  for (const key of Object.keys(empty)) {
    const value = data.get(key);
    values[key] = typeof value === 'string' ? value : '';
  }
  return values as T;
}

const noFleetFilter: FleetFilter = { type: '', site: '', status: '', severity: '', search: '' };
const noAlertFilter: AlertFilter = { severity: '', status: '', metric: '', type: '', site: '' };

/** Fills a filter's options from what the fleet holds, keeping the current choice. */
function fillOptions(select: HTMLSelectElement, values: Iterable<string>): void {
  const chosen = select.value;
  const first = select.options[0];
  const options = [...new Set(values)]
    .filter(Boolean)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
    .map((value) => el('option', { value }, value));
  select.replaceChildren(...(first ? [first] : []), ...options);
  select.value = chosen;
}

function fillFilterOptions(): void {
  for (const form of [
    byId('fleet-filters', HTMLFormElement),
    byId('alert-filters', HTMLFormElement),
  ]) {
    const type = form.elements.namedItem('type');
    const site = form.elements.namedItem('site');
    const status = form.elements.namedItem('status');
    if (type instanceof HTMLSelectElement)
      fillOptions(
        type,
        fleet.map((m) => m.type),
      );
    if (site instanceof HTMLSelectElement)
      fillOptions(
        site,
        fleet.map((m) => m.location ?? ''),
      );
    if (form.id === 'fleet-filters' && status instanceof HTMLSelectElement) {
      fillOptions(
        status,
        fleet.map((m) => m.status),
      );
    }
  }
}

function renderAlerts(): void {
  const table = byId('alerts');
  const focused = document.activeElement;
  const focusKey =
    focused instanceof HTMLElement && table.contains(focused)
      ? [focused.closest('tr')?.dataset['alertId'], focused.dataset['action']]
      : undefined;
  // Keep what the reader is looking at in place: note the first row on screen and where it
  // is, and scroll back to it after new rows slot in above it.
  const anchor = [...table.querySelectorAll<HTMLElement>('tr[data-alert-id]')].find(
    (row) => row.getBoundingClientRect().bottom > 0,
  );
  const anchorId = anchor?.dataset['alertId'];
  const anchorTop = anchor?.getBoundingClientRect().top ?? 0;
  const filter = formValues(byId('alert-filters', HTMLFormElement), noAlertFilter);
  const all = feed.list();
  const shown = sortAlerts(
    filterAlerts(all, fleetById, filter),
    alertSort.key,
    alertSort.descending,
    machineName,
  );
  table.replaceChildren(
    ...shown.map((alert) =>
      alertRow(
        alert,
        busy.has(alert.id),
        machineName(alert.equipmentId),
        siteOf(alert.equipmentId),
      ),
    ),
  );
  byId('alerts-empty').hidden = shown.length > 0;
  byId('alerts-empty').textContent = all.length ? 'No alerts match the filters.' : 'No alerts yet.';
  const open = all.filter((a) => a.status === 'open').length;
  byId('alert-count').textContent = all.length
    ? `(${shown.length} shown; ${open} open of ${all.length})`
    : '';
  if (anchorId && window.scrollY > 0) {
    const again = [...table.querySelectorAll<HTMLElement>('tr')].find(
      (row) => row.dataset['alertId'] === anchorId,
    );
    if (again) window.scrollBy(0, again.getBoundingClientRect().top - anchorTop);
  }
  if (focusKey?.[0]) {
    const row = [...table.querySelectorAll<HTMLElement>('tr')].find(
      (r) => r.dataset['alertId'] === focusKey[0],
    );
    const button =
      row?.querySelector<HTMLButtonElement>(`button[data-action="${focusKey[1] ?? ''}"]`) ??
      row?.querySelector('button');
    button?.focus();
  }
  for (const th of document.querySelectorAll<HTMLElement>('#alert-table th')) {
    const key = th.querySelector('button')?.dataset['sort'];
    if (!key) continue;
    if (key === alertSort.key)
      th.setAttribute('aria-sort', alertSort.descending ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
  if (route.view === 'alert') renderAlertDetail();
  renderFleet();
}

function renderAlertDetail(): void {
  if (route.view !== 'alert') return;
  const alert = feed.get(route.id);
  const root = byId('alert-detail');
  if (!alert) {
    root.replaceChildren(el('p', { class: 'empty' }, 'Loading the alert…'));
    return;
  }
  const site = siteOf(alert.equipmentId);
  const assignee = byId('assignee', HTMLSelectElement);
  // Follow the alert's assignee, but not under the hand of someone choosing one.
  if (document.activeElement !== assignee) {
    assignee.value =
      alert.assigneeTechnicianId === undefined ? '' : String(alert.assigneeTechnicianId);
  }
  byId('alert-title').textContent = `Alert on ${machineName(alert.equipmentId)}`;
  root.replaceChildren(
    alertItem(
      alert,
      busy.has(alert.id),
      `${machineName(alert.equipmentId)}${site ? ` · ${site}` : ''}`,
    ),
    el(
      'p',
      {},
      el('a', { href: `#/equipment/${encodeURIComponent(alert.equipmentId)}` }, 'The machine'),
    ),
  );
}

let fleetShown: FleetMachine[] = [];
let worst = new Map<string, Alert['severity']>();

/** Counts, then the filtered grid; the grid itself draws only its visible rows. */
function renderFleet(): void {
  if (route.view !== 'overview') return;
  worst = worstAlerts(feed.list());
  const counts = fleetCounts(fleet, worst);
  const countList = (entries: [string, number][]) =>
    entries.flatMap(([name, count]) => [
      el('dt', {}, name),
      el('dd', { 'data-count': name }, String(count)),
    ]);
  byId('counts-status').replaceChildren(
    el('dt', { class: 'group' }, 'By status'),
    el('dd', { class: 'group' }, ''),
    ...countList([...counts.byStatus].sort()),
  );
  byId('counts-severity').replaceChildren(
    el('dt', { class: 'group' }, 'By worst open alert'),
    el('dd', { class: 'group' }, ''),
    ...countList(
      (['critical', 'high', 'medium', 'none'] as const).map((s) => [
        s,
        counts.bySeverity.get(s) ?? 0,
      ]),
    ),
  );
  byId('fleet-total').textContent = `(${fleet.length} machines)`;
  fleetShown = filterFleet(
    fleet,
    worst,
    formValues(byId('fleet-filters', HTMLFormElement), noFleetFilter),
  );
  byId('fleet-shown').textContent = `${fleetShown.length} of ${fleet.length} shown`;
  byId('fleet').style.height = `${fleetShown.length * fleetRowPx}px`;
  drawFleetRows();
}

/** Draws the rows in (and just around) the scrolled-to part of the grid. */
function drawFleetRows(): void {
  const scroller = byId('fleet-scroll');
  const first = Math.max(0, Math.floor(scroller.scrollTop / fleetRowPx) - 5);
  const count = Math.ceil(scroller.clientHeight / fleetRowPx) + 10;
  const now = Date.now();
  const rows = fleetShown.slice(first, first + count).map((machine, i) => {
    const id = String(machine.id);
    const severity = worst.get(id);
    const lastReading = newerTime(statuses.get(id)?.at, machine.lastReadingAt);
    const row = el(
      'li',
      {
        class: 'machine',
        'data-equipment-id': id,
        'data-status': machine.status,
        'data-severity': severity ?? 'none',
        'data-at': lastReading ?? '',
      },
      el(
        'a',
        { href: `#/equipment/${encodeURIComponent(id)}` },
        machine.name,
        machine.serialNumber ? el('span', { class: 'serial' }, ` ${machine.serialNumber}`) : null,
      ),
      el('span', {}, machine.location ?? '—'),
      el('span', { class: 'machine-status', 'data-status': machine.status }, machine.status),
      el('span', { class: 'badge', 'data-severity': severity ?? 'none' }, severity ?? 'none'),
      el('span', { class: 'last-reading' }, age(lastReading, now)),
    );
    // Through the CSSOM: the page's CSP (style-src 'self') refuses style attributes.
    row.style.top = `${(first + i) * fleetRowPx}px`;
    return row;
  });
  byId('fleet').replaceChildren(...rows);
}

function renderWho(): void {
  const who = byId('who');
  const scope = byId('equipment-scope');
  // Signed in: the token box gives way to the feed (sign out to use another token).
  byId('token-form').hidden = me !== undefined;
  byId('sign-out').hidden = me === undefined && !storedToken();
  // Shown again once the technicians are listed (admins only).
  if (!me?.roles.includes('Admin')) byId('assign-form').hidden = true;
  if (!me) {
    who.textContent = storedToken() ? 'Signing in…' : 'Not signed in.';
    scope.textContent = '';
    return;
  }
  const roles = me.roles.length ? me.roles.join(', ') : 'no role';
  who.textContent = `Signed in as ${me.subject} (${roles}).`;
  scope.textContent =
    me.equipmentIds === null
      ? 'All equipment.'
      : `Your ${me.equipmentIds.length} assigned piece(s) of equipment.`;
  byId('nav-operations').hidden = !me.roles.includes('Admin');
}

async function loadAlerts(mine: number): Promise<void> {
  const alerts = await listAlerts(undefined, maxAlertsShown);
  if (mine !== session) return;
  // Reads are current: they replace what the feed holds for those alerts.
  for (const alert of alerts) feed.applyRead(alert);
  renderAlerts();
}

/** The fleet in one read (`GET /api/fleet`: a technician gets their assigned machines). */
async function loadFleet(mine: number): Promise<void> {
  const loaded = await listFleet();
  if (mine !== session) return;
  fleet = loaded;
  for (const machine of fleet) fleetById.set(String(machine.id), machine);
  fillFilterOptions();
  // Redraws the fleet too (the alerts name machines, the grid counts their worst alert).
  renderAlerts();
}

function applyAlert(alert: Alert, version: number, type: string): void {
  if (!feed.applyMessage(alert, version)) return;
  renderAlerts();
  const machine = machineName(alert.equipmentId);
  if (type === 'alert.raised') {
    announce(`New ${alert.severity} alert on ${machine}: ${alert.metric}.`);
  } else if (type === 'alert.escalated') {
    announce(`Alert on ${machine} escalated to ${alert.severity}.`);
  } else if (type === 'alert.reopened') {
    announce(`Alert on ${machine} reopened: ${alert.metric}.`);
  } else if (type === 'alert.cleared') {
    announce(`Alert on ${machine} cleared: ${alert.metric} is back to normal.`);
  }
}

function applyStatus(status: EquipmentStatus): void {
  if (!feed.inScope(status.equipmentId)) return;
  const known = statuses.get(status.equipmentId);
  if (known?.at && status.at && status.at < known.at) return; // an older batch, late
  statuses.set(status.equipmentId, status);
  if (route.view === 'overview') drawFleetRows();
}

function onMessage(data: unknown): void {
  const message = parseLiveMessage(data);
  if (!message) return;
  if (message.type === 'equipment.status') applyStatus(message.status);
  else applyAlert(message.alert, message.version, message.type);
}

async function stopClient(): Promise<void> {
  clearTimeout(restartTimer);
  const current = client;
  client = undefined;
  if (current) {
    try {
      current.stop();
    } catch {
      // Already stopped.
    }
  }
  await Promise.resolve();
}

/**
 * Connects, and keeps connecting: the client recovers dropped connections itself
 * (`disconnected` → `connected`); when it gives up (`stopped`) a new start follows with a
 * growing delay. Each new connection re-reads the alerts, so nothing sent while the page
 * was away is missed.
 */
function connect(mine: number, attempt = 0): void {
  if (mine !== session) return;
  setConnection(attempt === 0 ? 'connecting' : 'stopped');
  const live = new WebPubSubClient(
    {
      getClientAccessUrl: async () => {
        try {
          return await negotiate();
        } catch (error) {
          // While reconnecting, an expired token is worth saying: retrying will not fix it.
          if (mine === session && error instanceof ApiError && error.status === 401) {
            showProblem('Your sign-in has expired: paste a new token and sign in again.');
          }
          throw error;
        }
      },
    },
    {
      protocol: WebPubSubJsonReliableProtocol(),
      autoReconnect: true,
      // Reconnect for as long as it takes, backing off to every 15 s while the service is away.
      reconnectRetryOptions: {
        mode: 'Exponential',
        retryDelayInMs: 1_000,
        maxRetryDelayInMs: 15_000,
      },
    },
  );
  client = live;
  let everConnected = false;
  let failures = attempt;
  live.on('connected', () => {
    if (mine !== session || client !== live) return;
    failures = 0;
    setConnection('online');
    if (everConnected) {
      loadAlerts(mine).catch((error: unknown) => {
        showProblem(describe(error));
      });
    }
    everConnected = true;
  });
  live.on('disconnected', () => {
    if (mine !== session || client !== live) return;
    setConnection('offline');
  });
  live.on('stopped', () => {
    if (mine !== session || client !== live) return;
    setConnection('stopped');
    scheduleRestart(mine, failures + 1);
  });
  live.on('group-message', (event) => {
    if (mine === session && client === live) onMessage(event.message.data);
  });
  live.on('server-message', (event) => {
    if (mine === session && client === live) onMessage(event.message.data);
  });
  live.start().catch((error: unknown) => {
    if (mine !== session || client !== live) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      setConnection('signed-out');
      showProblem(`Cannot connect: ${describe(error)} Sign in again.`);
      return;
    }
    setConnection('stopped', describe(error));
    // `stopped` may not fire for a start that never connected; schedule once either way.
    scheduleRestart(mine, failures + 1);
  });
}

function scheduleRestart(mine: number, attempt: number): void {
  clearTimeout(restartTimer);
  const base = restartDelaysMs[Math.min(attempt - 1, restartDelaysMs.length - 1)] ?? 30_000;
  const delay = base / 2 + Math.random() * (base / 2);
  restartTimer = setTimeout(() => {
    if (mine !== session) return;
    client = undefined;
    connect(mine, attempt);
  }, delay);
}

async function signIn(): Promise<void> {
  const mine = ++session;
  await stopClient();
  me = undefined;
  feed.clear();
  statuses.clear();
  busy.clear();
  showProblem(undefined);
  fleet = [];
  fleetById.clear();
  renderAlerts();
  renderWho();
  setConnection('connecting');
  try {
    const who = await getMe();
    if (mine !== session) return;
    me = who;
  } catch (error) {
    if (mine !== session) return;
    setConnection('signed-out');
    showProblem(
      error instanceof ApiError && error.status === 401
        ? 'Sign in: paste a development token (npm run token), or sign in through the platform.'
        : `Cannot read who you are: ${describe(error)}`,
    );
    renderWho();
    return;
  }
  feed.setScope(me.equipmentIds);
  renderWho();
  if (route.view === 'operations') showRoute(route);
  // Connect first so nothing raised while the page loads is missed; reads then fill in.
  connect(mine);
  // Neither read waits for the other: alerts show with numbers until the names arrive.
  await Promise.all([
    loadAlerts(mine).catch((error: unknown) => {
      if (mine === session) showProblem(`Cannot load alerts: ${describe(error)}`);
    }),
    loadFleet(mine).catch((error: unknown) => {
      if (mine === session) showProblem(`Cannot load the fleet: ${describe(error)}`);
    }),
  ]);
  if (route.view === 'alert') await loadRoutedAlert(mine);
  if (me.roles.includes('Admin')) await loadTechnicians(mine);
}

async function loadTechnicians(mine: number): Promise<void> {
  try {
    const technicians = await listTechnicians();
    if (mine !== session) return;
    const select = byId('assignee', HTMLSelectElement);
    const nobody = select.options[0];
    select.replaceChildren(
      ...(nobody ? [nobody] : []),
      ...technicians.map((t) => el('option', { value: String(t.id) }, t.name)),
    );
    byId('assign-form').hidden = false;
  } catch (error) {
    if (mine === session) showProblem(`Cannot list technicians: ${describe(error)}`);
  }
}

function routedAlertId(): string | undefined {
  return route.view === 'alert' ? route.id : undefined;
}

async function loadComments(mine: number): Promise<void> {
  if (route.view !== 'alert') return;
  const alertId = route.id;
  try {
    const comments = await listComments(alertId);
    // The user may have moved on while the comments were on their way.
    if (mine !== session || routedAlertId() !== alertId) return;
    byId('comments').replaceChildren(
      ...comments.map((c) =>
        el('li', {}, el('strong', {}, c.author), ` · ${formatTime(c.at)}: `, c.text),
      ),
    );
  } catch (error) {
    if (mine === session) showProblem(`Cannot read the comments: ${describe(error)}`);
  }
}

async function loadRoutedAlert(mine: number): Promise<void> {
  void loadComments(mine);
  if (route.view !== 'alert' || feed.get(route.id)) return;
  try {
    const alert = await getAlert(route.id);
    if (mine === session) feed.applyRead(alert);
  } catch (error) {
    if (mine === session) showProblem(`Cannot read that alert: ${describe(error)}`);
  }
  renderAlertDetail();
}

/**
 * Acknowledges or resolves alert `id` with a fresh-enough ETag; true once done. What went
 * wrong goes to `onProblem` (the page's problem line, or the open form's).
 */
async function act(
  id: string,
  to: Exclude<AlertAction, 'silence'>,
  details: StatusDetails = {},
  onProblem: (message: string) => void = showProblem,
): Promise<boolean> {
  if (busy.has(id)) return false;
  busy.add(id);
  renderAlerts();
  const mine = session;
  try {
    let alert = feed.get(id);
    if (!alert?.etag) alert = await getAlert(id);
    for (let attempt = 0; ; attempt++) {
      try {
        const changed = await changeAlertStatus(id, to, alert.etag ?? '*', details);
        if (mine === session) feed.applyRead(changed);
        showProblem(undefined);
        announce(
          `Alert on ${machineName(changed.equipmentId)} is now ${changed.status}` +
            (typeof changed.serviceRecordId === 'number'
              ? `, with service record #${changed.serviceRecordId}.`
              : '.'),
        );
        return true;
      } catch (error) {
        // Changed since it was read (another window, another user): read it again and retry
        // once if the change still makes sense; otherwise show what happened.
        if (!(error instanceof ApiError && error.status === 412) || attempt > 0) throw error;
        alert = await getAlert(id);
        if (mine === session) feed.applyRead(alert);
        if (alert.status === to || alert.status === 'resolved') {
          onProblem(`That alert was already ${alert.status} by someone else.`);
          return false;
        }
      }
    }
  } catch (error) {
    if (mine === session) {
      onProblem(`Could not mark the alert ${to}: ${describe(error)}`);
      try {
        feed.applyRead(await getAlert(id));
      } catch {
        // The problem above says enough.
      }
    }
  } finally {
    busy.delete(id);
    if (mine === session) renderAlerts();
  }
  return false;
}

/** The alert a form dialog is open for, and the button to give the focus back to. */
let dialogFor: { alertId: string; action: AlertAction } | undefined;

function setFormProblem(id: string, message: string | undefined): void {
  const problem = byId(id);
  problem.textContent = message ?? '';
  problem.hidden = !message;
}

function openDialog(dialog: HTMLDialogElement, alertId: string, action: AlertAction): void {
  dialogFor = { alertId, action };
  dialog.showModal();
}

/**
 * Where the focus goes once a form closes: the button that opened it, found again by its
 * alert and action (rows are redrawn while the form is open), else the alert's first button.
 */
function restoreFocus(): void {
  const opened = dialogFor;
  dialogFor = undefined;
  if (!opened) return;
  const holders = [byId('alerts'), byId('alert-detail')];
  for (const holder of holders) {
    if (holder.offsetParent === null) continue; // its view is hidden
    const alert = [...holder.querySelectorAll<HTMLElement>('[data-alert-id]')].find(
      (node) => node.dataset['alertId'] === opened.alertId,
    );
    const button =
      alert?.querySelector<HTMLButtonElement>(`button[data-action="${opened.action}"]`) ??
      alert?.querySelector<HTMLButtonElement>('button') ??
      alert?.querySelector<HTMLAnchorElement>('a');
    if (button) {
      button.focus();
      return;
    }
  }
}

function alertLabel(alertId: string): string {
  const alert = feed.get(alertId);
  if (!alert) return alertId;
  const site = siteOf(alert.equipmentId);
  const severity = alert.severity.charAt(0).toUpperCase() + alert.severity.slice(1);
  return `${severity} ${alert.metric} alert on ${machineName(alert.equipmentId)}${site ? ` (${site})` : ''}, raised ${formatTime(alert.raisedAt)}.`;
}

function openResolveForm(alertId: string): void {
  const form = byId('resolve-form', HTMLFormElement);
  form.reset();
  byId('resolve-work', HTMLFieldSetElement).disabled = false;
  setFormProblem('resolve-problem', undefined);
  byId('resolve-about').textContent = alertLabel(alertId);
  openDialog(byId('resolve-dialog', HTMLDialogElement), alertId, 'resolved');
}

function openSilenceForm(alertId: string): void {
  const alert = feed.get(alertId);
  if (!alert) return;
  const form = byId('silence-form', HTMLFormElement);
  form.reset();
  setFormProblem('silence-problem', undefined);
  byId('silence-about').textContent = alertLabel(alertId);
  const machine = fleetById.get(alert.equipmentId);
  const name = machineName(alert.equipmentId);
  const metric = alert.metric === 'offline' ? undefined : alert.metric;
  // Technicians may silence only their own machines (lib/api/silences.ts): wider scopes are
  // for admins, so they are offered to admins alone.
  const admin = me?.roles.includes('Admin') === true;
  const choices: [string, string][] = [
    ['alert', 'This alert only'],
    ...(metric ? [['machine-metric', `${name}: every ${metric} alert`] as [string, string]] : []),
    ['machine', `${name}: every alert`],
    ...(admin && machine
      ? ([
          ['type', `Every ${machine.type} machine`],
          ...(machine.location ? [['site', `Everything at ${machine.location}`]] : []),
        ] as [string, string][])
      : []),
  ];
  byId('silence-scope', HTMLSelectElement).replaceChildren(
    ...choices.map(([value, text]) => el('option', { value }, text)),
  );
  followSilenceScope();
  openDialog(byId('silence-dialog', HTMLDialogElement), alertId, 'silence');
}

/** "Until resolved" is for the alert alone; another scope needs an end. */
function followSilenceScope(): void {
  const scope = byId('silence-scope', HTMLSelectElement).value;
  const duration = byId('silence-duration', HTMLSelectElement);
  const untilResolved = duration.querySelector<HTMLOptionElement>('option[value="resolved"]');
  if (!untilResolved) return;
  untilResolved.disabled = scope !== 'alert';
  if (untilResolved.disabled && duration.value === 'resolved') duration.value = '4';
}

function submitResolve(): void {
  const alertId = dialogFor?.alertId;
  if (!alertId) return;
  const form = byId('resolve-form', HTMLFormElement);
  const details: StatusDetails = {};
  if (byId('resolve-record', HTMLInputElement).checked) {
    const parsed = resolutionWork(
      formValues<ResolutionFields>(form, { description: '', laborHours: '', serviceType: '' }),
    );
    if ('error' in parsed) {
      setFormProblem('resolve-problem', parsed.error);
      return;
    }
    details.serviceRecord = parsed.work;
  }
  setFormProblem('resolve-problem', undefined);
  const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]');
  if (submit) submit.disabled = true;
  void act(alertId, 'resolved', details, (message) => {
    setFormProblem('resolve-problem', message);
  }).then((done) => {
    if (submit) submit.disabled = false;
    if (done) byId('resolve-dialog', HTMLDialogElement).close();
  });
}

function submitSilence(): void {
  const alertId = dialogFor?.alertId;
  const alert = alertId ? feed.get(alertId) : undefined;
  if (!alertId || !alert) return;
  const parsed = silenceRequest(
    alert,
    fleetById.get(alert.equipmentId),
    formValues<SilenceFields>(byId('silence-form', HTMLFormElement), {
      scope: '',
      duration: '',
      reason: '',
    }),
    new Date(),
  );
  if ('error' in parsed) {
    setFormProblem('silence-problem', parsed.error);
    return;
  }
  setFormProblem('silence-problem', undefined);
  const submit = byId('silence-form').querySelector<HTMLButtonElement>('button[type="submit"]');
  if (submit) submit.disabled = true;
  const mine = session;
  void (async () => {
    try {
      const silence = await createSilence(parsed.request);
      if (mine !== session) return;
      byId('silence-dialog', HTMLDialogElement).close();
      announce(`Silence ${silence.id} created.`);
      // A silence made from the alert mutes it at once: show that without waiting for a message.
      feed.applyRead(await getAlert(alertId));
      renderAlerts();
    } catch (error) {
      // The API's problem detail says why (a technician silencing a machine not theirs: 403).
      if (mine === session)
        setFormProblem(
          'silence-problem',
          error instanceof ApiError && error.status === 403
            ? `Not allowed: ${describe(error)}`
            : `Could not create the silence: ${describe(error)}`,
        );
    } finally {
      if (submit) submit.disabled = false;
    }
  })();
}

function wireDialogs(): void {
  for (const dialog of [
    byId('resolve-dialog', HTMLDialogElement),
    byId('silence-dialog', HTMLDialogElement),
  ]) {
    dialog.addEventListener('close', restoreFocus);
    dialog.addEventListener('click', (event) => {
      if (event.target instanceof HTMLElement && event.target.closest('[data-close]'))
        dialog.close();
    });
  }
  byId('resolve-record', HTMLInputElement).addEventListener('change', (event) => {
    const checked = (event.target as HTMLInputElement).checked;
    byId('resolve-work', HTMLFieldSetElement).disabled = !checked;
  });
  byId('resolve-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    submitResolve();
  });
  byId('silence-scope', HTMLSelectElement).addEventListener('change', followSilenceScope);
  byId('silence-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    submitSilence();
  });
}

function wire(): void {
  const form = byId('token-form', HTMLFormElement);
  const box = byId('token', HTMLTextAreaElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(box.value.trim().replace(/^Bearer\s+/i, ''));
    box.value = '';
    void signIn();
  });
  byId('sign-out').addEventListener('click', () => {
    storeToken('');
    box.value = '';
    session++;
    me = undefined;
    feed.clear();
    statuses.clear();
    fleet = [];
    fleetById.clear();
    void stopClient().then(() => {
      renderAlerts();
      renderWho();
      setConnection('signed-out');
    });
  });
  const onAction = (event: Event) => {
    const target = event.target;
    if (!(target instanceof HTMLButtonElement)) return;
    const action = target.dataset['action'];
    const id = target.closest<HTMLElement>('[data-alert-id]')?.dataset['alertId'];
    if (!id) return;
    if (action === 'acknowledged') void act(id, action);
    else if (action === 'resolved') openResolveForm(id);
    else if (action === 'silence') openSilenceForm(id);
  };
  byId('alerts').addEventListener('click', onAction);
  byId('alert-detail').addEventListener('click', onAction);
  byId('alert-filters', HTMLFormElement).addEventListener('input', renderAlerts);
  byId('acknowledge-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const box = byId('acknowledge-note', HTMLTextAreaElement);
    if (route.view !== 'alert' || !box.value.trim()) return;
    void act(route.id, 'acknowledged', { note: box.value.trim() }).then(() => {
      box.value = '';
    });
  });
  byId('assign-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const alertId = routedAlertId();
    if (!alertId) return;
    const chosen = byId('assignee', HTMLSelectElement).value;
    const mine = session;
    void (async () => {
      try {
        // Always with a fresh ETag: the assignment replaces whatever is current.
        const current = await getAlert(alertId);
        const changed = await assignAlert(
          alertId,
          chosen ? Number(chosen) : null,
          current.etag ?? '*',
        );
        if (mine === session) feed.applyRead(changed);
        announce(chosen ? 'Alert assigned.' : 'Alert unassigned.');
        renderAlerts();
      } catch (error) {
        if (mine === session) showProblem(`Could not assign the alert: ${describe(error)}`);
      }
    })();
  });
  byId('comment-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const box = byId('comment-text', HTMLTextAreaElement);
    const text = box.value.trim();
    if (route.view !== 'alert' || !text) return;
    const mine = session;
    void addComment(route.id, text)
      .then(() => {
        box.value = '';
        announce('Comment added.');
        return loadComments(mine);
      })
      .catch((error: unknown) => {
        showProblem(`Could not add the comment: ${describe(error)}`);
      });
  });
  byId('fleet-filters', HTMLFormElement).addEventListener('input', () => {
    byId('fleet-scroll').scrollTop = 0;
    renderFleet();
  });
  for (const form of [
    byId('alert-filters', HTMLFormElement),
    byId('fleet-filters', HTMLFormElement),
  ]) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
    });
  }
  byId('fleet-scroll').addEventListener('scroll', drawFleetRows, { passive: true });
  byId('alert-table')
    .querySelector('thead')
    ?.addEventListener('click', (event) => {
      const button = event.target instanceof HTMLElement ? event.target.closest('button') : null;
      const key = button?.dataset['sort'] as AlertSortKey | undefined;
      if (!key) return;
      alertSort =
        alertSort.key === key
          ? { key, descending: !alertSort.descending }
          : { key, descending: key === 'priority' || key === 'raisedAt' };
      renderAlerts();
    });
  window.addEventListener('hashchange', () => {
    showRoute(parseRoute(window.location.hash));
  });
  window.addEventListener('online', () => {
    // The network is back: do not wait out a long restart delay.
    if (document.body.dataset['connection'] === 'stopped' && me) {
      clearTimeout(restartTimer);
      connect(session, 1);
    }
  });
}

type Route =
  | { view: 'overview' }
  | { view: 'alerts' }
  | { view: 'alert'; id: string }
  | { view: 'equipment'; id: string }
  | { view: 'operations' };

let route: Route = { view: 'overview' };
let unmountEquipment: (() => void) | undefined;
/** Stops the Operations view's polling when another view is shown. */
let unmountOperations: (() => void) | undefined;

export function parseRoute(hash: string): Route {
  const [, view, id] = /^#?\/?([a-z]*)(?:\/(.+))?$/.exec(hash) ?? [];
  const decoded = id ? decodeURIComponent(id) : undefined;
  if (view === 'alerts' && decoded) return { view: 'alert', id: decoded };
  if (view === 'alerts') return { view: 'alerts' };
  if (view === 'equipment' && decoded) return { view: 'equipment', id: decoded };
  if (view === 'operations') return { view: 'operations' };
  return { view: 'overview' };
}

/** Counts showRoute calls: a view chunk that arrives after another call mounts nothing. */
let routeShown = 0;

function showRoute(next: Route): void {
  const previous = route;
  route = next;
  const shown = (routeShown += 1);
  unmountEquipment?.();
  unmountEquipment = undefined;
  unmountOperations?.();
  unmountOperations = undefined;
  document.body.dataset['view'] = next.view;
  for (const section of document.querySelectorAll<HTMLElement>('section.view')) {
    section.hidden = section.id !== `view-${next.view}`;
  }
  const navKey = next.view === 'alert' ? 'alerts' : next.view;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset['nav'] === navKey) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (next.view === 'equipment') {
    // The equipment page (with uPlot) and the Operations view are chunks of their own,
    // fetched when first shown: the first view loads without them. Mounted only if no other
    // route was shown while the chunk was on its way.
    void import('./equipmentPage.js').then(({ renderEquipmentPage }) => {
      if (routeShown === shown)
        unmountEquipment = renderEquipmentPage(byId('equipment-root'), next.id);
    });
  } else if (next.view === 'alert') {
    byId('comments').replaceChildren();
    renderAlertDetail();
    if (me) void loadRoutedAlert(session);
  } else if (next.view === 'overview') {
    renderFleet();
  } else if (next.view === 'operations' && me) {
    // Read once signed in (signIn shows the route again): no 401 before a token is pasted.
    void import('./operationsPage.js').then(({ renderOperationsPage }) => {
      if (routeShown === shown) unmountOperations = renderOperationsPage(byId('operations-root'));
    });
  }
  // A new view takes the focus to its heading, as a page load would for screen readers;
  // not on the first view, where the sign-in form has it.
  if (previous !== next && document.readyState === 'complete') {
    const heading = document.querySelector<HTMLElement>(`#view-${next.view} h2`);
    heading?.setAttribute('tabindex', '-1');
    heading?.focus({ preventScroll: false });
  }
}

/**
 * Links in emails and SMS point at `?alert=<id>` (the server's deep-link format): it becomes
 * `#/alerts/<id>` in place (`replaceState`), so back leaves the dashboard rather than
 * returning to the query form of the same view.
 */
function landingRoute(): Route {
  const url = new URL(window.location.href);
  const alertId = url.searchParams.get('alert');
  if (alertId) {
    url.searchParams.delete('alert');
    url.hash = `#/alerts/${encodeURIComponent(alertId)}`;
    history.replaceState(null, '', url);
  }
  return parseRoute(window.location.hash);
}

/**
 * Without a pasted token, only a deployed page has a platform session to try: on this
 * machine (`npm start`) asking /api/me would only fail with 401 in the console.
 */
function hasPlatformSignIn(): boolean {
  return !['127.0.0.1', 'localhost', '[::1]'].includes(window.location.hostname);
}

wire();
wireDialogs();
showRoute(landingRoute());
if (storedToken() || hasPlatformSignIn()) void signIn();
else {
  renderWho();
  setConnection('signed-out');
}
