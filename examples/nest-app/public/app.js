// The demo page, on @wshub/client (the import map in index.html points the
// bare name at the package's build, served by the app). The client reconnects
// with backoff and sends the page's watches again after every reconnect, so a
// server restart needs no reload.
import { HubClient } from '@wshub/client';

const $ = (id) => document.getElementById(id);
const userPicker = $('user');
const stateView = $('connection-state');
const detailView = $('connection-detail');
const orderInput = $('order-id');
const watchingView = $('watching');
const notifications = $('notifications');
const ordersTable = $('orders');
const sessionView = $('session');

/** One id per tab, so two tabs of one user are two devices. */
const device = `tab-${Math.random().toString(36).slice(2, 8)}`;

/** What the close codes a person may see here mean (docs/PROTOCOL.md has them all). */
const CLOSE_REASONS = {
  1001: 'the server went away',
  1006: 'no connection',
  4000: 'the server ended the session',
  4401: 'the session expired',
  4403: 'unauthorized',
};

/** @type {{ wsPath: string, accounts: Array<{ token: string, name: string, role: string }> }} */
let config;
/** The connection of the picked user; undefined before a user is picked. */
let client;
/**
 * Watched order id → its `Subscription`. The server answers every watch
 * (protocol v2): `subscription.confirmed` says whether it is in place on the
 * current connection, and `whenConfirmed()` resolves when it is.
 */
const watches = new Map();

function notify(text, problem = false) {
  const item = document.createElement('li');
  item.dataset.testid = 'notification';
  item.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (problem) item.className = 'problem';
  notifications.prepend(item);
}

function showState(state, text = state) {
  stateView.textContent = text;
  stateView.dataset.state = state;
}

/** How many tokens this connection used, and when the current one expires. */
function showSession(count, expiresAt) {
  if (!sessionView) return;
  sessionView.dataset.tokens = String(count);
  sessionView.textContent = `session token #${count}, expires ${new Date(expiresAt).toLocaleTimeString()}`;
}

function showWatching() {
  if (watches.size === 0) {
    watchingView.textContent = 'nothing';
    return;
  }
  watchingView.replaceChildren(
    ...[...watches].map(([id, subscription]) => {
      const confirmed = subscription.confirmed;
      const chip = document.createElement('span');
      chip.className = 'watch';
      chip.dataset.testid = 'watch';
      chip.dataset.orderId = id;
      chip.dataset.confirmed = String(confirmed);
      chip.title = confirmed ? 'the server sends this order’s updates' : 'sent, waiting for the server';
      const label = document.createElement('small');
      label.textContent = confirmed ? 'active' : 'pending';
      chip.append(`order ${id} `, label);
      return chip;
    }),
  );
}

/** Shows each watch as active once the server has confirmed it on the current connection. */
function awaitConfirmations() {
  for (const subscription of watches.values()) void subscription.whenConfirmed().then(showWatching);
}

async function refreshOrders() {
  try {
    const orders = await (await fetch('/orders')).json();
    ordersTable.replaceChildren(
      ...orders.map((order) => {
        const row = document.createElement('tr');
        row.dataset.orderId = String(order.id);
        for (const value of [order.id, order.owner, order.status]) {
          const cell = document.createElement('td');
          cell.textContent = String(value);
          row.append(cell);
        }
        return row;
      }),
    );
  } catch {
    // The server is down: keep the last table; it is refreshed on reconnect.
  }
}

/** Connects as the user with `token` (none: disconnects), dropping the previous user's watches. */
function connect(token) {
  void client?.close();
  client = undefined;
  if (sessionView) {
    sessionView.textContent = '';
    delete sessionView.dataset.tokens;
  }
  watches.clear();
  showWatching();
  detailView.textContent = '';
  if (!token) {
    showState('none', 'not connected');
    return;
  }
  const account = config.accounts.find((a) => a.token === token);
  let tokens = 0;
  const hub = new HubClient(config.wsPath, {
    // A short-lived token for this account, fetched at every connect and
    // whenever the server says the session is about to expire: the client
    // then renews the session on the open socket, without reconnecting.
    token: async () => {
      const response = await fetch(`/demo/token?account=${encodeURIComponent(token)}`);
      if (!response.ok) throw new Error(`GET /demo/token answered ${response.status}`);
      const issued = await response.json();
      tokens += 1;
      if (client === hub) showSession(tokens, issued.expiresAt);
      return issued.token;
    },
    query: { device },
    // One server on one machine: try at least every 5 s, so a restart is
    // picked up quickly. The default ceiling (30 s) is for many clients,
    // whose reconnects it spreads out.
    reconnect: { maxDelayMs: 5000 },
  });
  client = hub;
  // Events of a client the page has since replaced are ignored.
  const on = (event, handler) => hub.on(event, (data) => client === hub && handler(data));
  let everOpen = false;
  let lost = false;

  showState(hub.state);
  on('state', (state) => {
    showState(state);
    if (state === 'reconnecting') {
      // Re-sent on reconnect; unconfirmed until the new server answers.
      showWatching();
    } else if (state === 'open') {
      detailView.textContent = `as ${account.name} (${device})`;
      if (everOpen) notify(`reconnected; watching again: ${[...watches.keys()].map((id) => `order ${id}`).join(', ') || 'nothing'}`);
      everOpen = true;
      lost = false;
      awaitConfirmations();
      void refreshOrders();
    }
  });
  on('close', ({ code, reason, retryInMs }) => {
    const why = `${CLOSE_REASONS[code] ?? (reason || 'closed')} (${code})`;
    detailView.textContent = retryInMs === null ? why : `${why}; next try in ${(retryInMs / 1000).toFixed(1)} s`;
    if (everOpen && !lost) notify(`connection lost: ${why}; reconnecting`, true);
    lost = true;
  });
  on('order-status', ({ orderId, status }) => {
    notify(`order ${orderId} is now "${status}"`);
    void refreshOrders();
  });
  on('announcement', ({ text, adminsOnly }) => notify(`announcement${adminsOnly ? ' (admins)' : ''}: ${text}`));
  on('exception', ({ message }) => notify(`server: ${message}`, true));
  on('unauthorized', () => notify('the server refused this user (4403)', true));
  on('ended', ({ code }) => notify(`the server ended this session (${code})`, true));
  on('error', (error) => notify(error.message, true));
}

function orderId() {
  const id = Number(orderInput.value);
  if (Number.isInteger(id) && id > 0) return String(id);
  notify(`"${orderInput.value}" is not an order id`, true);
  return undefined;
}

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) notify(`${path}: ${(await response.json()).message ?? response.status}`, true);
  } catch {
    notify(`${path}: the server is not reachable`, true);
  }
}

userPicker.addEventListener('change', () => connect(userPicker.value));
$('watch-button').addEventListener('click', () => {
  const id = orderId();
  if (!id || watches.has(id)) return;
  if (!client) {
    notify('pick a user first', true);
    return;
  }
  const subscription = client.watch('order-status', id);
  watches.set(id, subscription);
  subscription.onForbidden(() => {
    if (watches.get(id) === subscription) watches.delete(id);
    showWatching();
    notify(`not allowed to watch order ${id}`, true);
  });
  void subscription.whenConfirmed().then(showWatching);
  showWatching();
});
$('unwatch-button').addEventListener('click', () => {
  const id = orderId();
  watches.get(id)?.unwatch();
  watches.delete(id);
  showWatching();
});
$('status-button').addEventListener('click', async () => {
  const id = orderId();
  if (!id) return;
  await post(`/orders/${id}/status`, { status: $('status').value });
  await refreshOrders();
});
$('rollback-button').addEventListener('click', async () => {
  const id = orderId();
  if (!id) return;
  await post(`/orders/${id}/status`, { status: $('status').value, rollback: true });
  await refreshOrders();
});
$('announce-button').addEventListener('click', () => post('/announcements', { text: 'Hello from the demo page' }));

config = await (await fetch('/demo/config')).json();
for (const account of config.accounts) {
  const option = document.createElement('option');
  option.value = account.token;
  option.textContent = `${account.name} (${account.role})`;
  userPicker.append(option);
}
await refreshOrders();
