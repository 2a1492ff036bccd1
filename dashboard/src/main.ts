/**
 * The live dashboard: signs in (a pasted development token, or the platform's session),
 * reads who the user is and what they may see, loads the current alerts and equipment
 * status, then follows them live over Web PubSub, reconnecting by itself.
 */
import { WebPubSubClient, WebPubSubJsonReliableProtocol } from '@azure/web-pubsub-client';
import {
  ApiError,
  changeAlertStatus,
  getAlert,
  getMe,
  getStatus,
  listAlerts,
  negotiate,
  storeToken,
  storedToken,
} from './api.js';
import { AlertFeed, parseLiveMessage, type Alert, type EquipmentStatus, type Me } from './model.js';
import { alertItem, byId, statusItem, type AlertAction } from './view.js';

/** How many alerts and status cards the page keeps on screen. */
const maxAlertsShown = 200;
const maxAdminStatusCards = 12;
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
const statuses = new Map<string, EquipmentStatus>();
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

function renderAlerts(): void {
  const list = byId('alerts');
  const focused = document.activeElement;
  const focusKey =
    focused instanceof HTMLElement && list.contains(focused)
      ? [focused.closest('li')?.dataset['alertId'], focused.dataset['action']]
      : undefined;
  const alerts = feed.list().slice(0, maxAlertsShown);
  list.replaceChildren(...alerts.map((alert) => alertItem(alert, busy.has(alert.id))));
  byId('alerts-empty').hidden = alerts.length > 0;
  const open = alerts.filter((a) => a.status !== 'resolved').length;
  byId('alert-count').textContent = alerts.length ? `(${open} unresolved of ${alerts.length})` : '';
  if (focusKey?.[0]) {
    const item = [...list.querySelectorAll<HTMLElement>('li')].find(
      (li) => li.dataset['alertId'] === focusKey[0],
    );
    const button =
      item?.querySelector<HTMLButtonElement>(`button[data-action="${focusKey[1] ?? ''}"]`) ??
      item?.querySelector('button');
    button?.focus();
  }
}

function renderStatuses(): void {
  const items = [...statuses.values()].sort((a, b) =>
    a.equipmentId.localeCompare(b.equipmentId, undefined, { numeric: true }),
  );
  byId('equipment').replaceChildren(...items.map(statusItem));
}

function renderWho(): void {
  const who = byId('who');
  const scope = byId('equipment-scope');
  // Signed in: the token box gives way to the feed (sign out to use another token).
  byId('token-form').hidden = me !== undefined;
  byId('sign-out').hidden = me === undefined && !storedToken();
  if (!me) {
    who.textContent = storedToken() ? 'Signing in…' : 'Not signed in.';
    scope.textContent = '';
    return;
  }
  const roles = me.roles.length ? me.roles.join(', ') : 'no role';
  who.textContent = `Signed in as ${me.subject} (${roles}).`;
  scope.textContent =
    me.equipmentIds === null
      ? 'All equipment: status is shown for equipment with recent alerts and live updates.'
      : `Your ${me.equipmentIds.length} assigned piece(s) of equipment.`;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function loadAlerts(mine: number): Promise<void> {
  const alerts = await listAlerts(undefined, maxAlertsShown);
  if (mine !== session) return;
  // Reads are current: they replace what the feed holds for those alerts.
  for (const alert of alerts) feed.applyRead(alert);
  renderAlerts();
}

async function loadStatuses(mine: number, ids: readonly string[]): Promise<void> {
  await eachLimited(ids, 4, async (id) => {
    if (mine !== session) return;
    try {
      const status = await getStatus(id);
      if (mine !== session) return;
      // A live message may have arrived meanwhile; keep whichever reading is newer.
      const known = statuses.get(id);
      if (!known?.at || (status.at !== null && status.at >= known.at)) statuses.set(id, status);
      renderStatuses();
    } catch (error) {
      if (mine === session && !(error instanceof ApiError && error.status === 404)) {
        showProblem(`Equipment ${id}: ${describe(error)}`);
      }
    }
  });
}

function statusIdsToLoad(): string[] {
  if (!me) return [];
  if (me.equipmentIds !== null) return me.equipmentIds.map(String);
  const ids: string[] = [];
  for (const alert of feed.list()) {
    if (!ids.includes(alert.equipmentId)) ids.push(alert.equipmentId);
    if (ids.length >= maxAdminStatusCards) break;
  }
  return ids;
}

function applyAlert(alert: Alert, version: number, type: string): void {
  if (!feed.applyMessage(alert, version)) return;
  renderAlerts();
  // Admins have no assigned equipment: show the status of what is alerting, a few at most.
  if (me?.equipmentIds === null && !statuses.has(alert.equipmentId)) {
    if (statuses.size < maxAdminStatusCards) void loadStatuses(session, [alert.equipmentId]);
  }
  if (type === 'alert.raised') {
    announce(`New ${alert.severity} alert on equipment ${alert.equipmentId}: ${alert.metric}.`);
  } else if (type === 'alert.escalated') {
    announce(`Alert on equipment ${alert.equipmentId} escalated to ${alert.severity}.`);
  } else if (type === 'alert.reopened') {
    announce(`Alert on equipment ${alert.equipmentId} reopened: ${alert.metric}.`);
  } else if (type === 'alert.cleared') {
    announce(`Alert on equipment ${alert.equipmentId} cleared: ${alert.metric} is back to normal.`);
  }
}

function applyStatus(status: EquipmentStatus): void {
  if (!feed.inScope(status.equipmentId)) return;
  const known = statuses.get(status.equipmentId);
  if (known?.at && status.at && status.at < known.at) return; // an older batch, late
  statuses.set(status.equipmentId, status);
  renderStatuses();
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
  renderAlerts();
  renderStatuses();
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
  // Connect first so nothing raised while the page loads is missed; reads then fill in.
  connect(mine);
  try {
    await loadAlerts(mine);
  } catch (error) {
    if (mine === session) showProblem(`Cannot load alerts: ${describe(error)}`);
  }
  await loadStatuses(mine, statusIdsToLoad());
}

async function act(id: string, to: AlertAction): Promise<void> {
  if (busy.has(id)) return;
  busy.add(id);
  renderAlerts();
  const mine = session;
  try {
    let alert = feed.get(id);
    if (!alert?.etag) alert = await getAlert(id);
    for (let attempt = 0; ; attempt++) {
      try {
        const changed = await changeAlertStatus(id, to, alert.etag ?? '*');
        if (mine === session) feed.applyRead(changed);
        showProblem(undefined);
        announce(`Alert on equipment ${changed.equipmentId} is now ${changed.status}.`);
        return;
      } catch (error) {
        // Changed since it was read (another window, another user): read it again and retry
        // once if the change still makes sense; otherwise show what happened.
        if (!(error instanceof ApiError && error.status === 412) || attempt > 0) throw error;
        alert = await getAlert(id);
        if (mine === session) feed.applyRead(alert);
        if (alert.status === to || alert.status === 'resolved') {
          showProblem(`That alert was already ${alert.status} by someone else.`);
          return;
        }
      }
    }
  } catch (error) {
    if (mine === session) {
      showProblem(`Could not mark the alert ${to}: ${describe(error)}`);
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
    void stopClient().then(() => {
      renderAlerts();
      renderStatuses();
      renderWho();
      setConnection('signed-out');
    });
  });
  byId('alerts').addEventListener('click', (event) => {
    const target = event.target;
    if (!(target instanceof HTMLButtonElement)) return;
    const action = target.dataset['action'];
    const id = target.closest('li')?.dataset['alertId'];
    if (id && (action === 'acknowledged' || action === 'resolved')) void act(id, action);
  });
  window.addEventListener('online', () => {
    // The network is back: do not wait out a long restart delay.
    if (document.body.dataset['connection'] === 'stopped' && me) {
      clearTimeout(restartTimer);
      connect(session, 1);
    }
  });
}

wire();
void signIn();
