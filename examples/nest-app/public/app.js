// The demo page: a plain browser WebSocket, no build step.
// Protocol: JSON frames { event, data } both ways (see docs/PROTOCOL.md).

const $ = (id) => document.getElementById(id);
const userPicker = $('user');
const state = $('connection-state');
const orderInput = $('order-id');
const watchingView = $('watching');
const notifications = $('notifications');
const ordersTable = $('orders');

/** One id per tab, so two tabs of one user are two devices. */
const device = `tab-${Math.random().toString(36).slice(2, 8)}`;
const watching = new Set();
let config;
let socket;

function setState(text, kind) {
  state.textContent = text;
  state.dataset.state = kind;
}

function notify(text, problem = false) {
  const item = document.createElement('li');
  item.dataset.testid = 'notification';
  item.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (problem) item.className = 'problem';
  notifications.prepend(item);
}

function showWatching() {
  watchingView.textContent = watching.size ? [...watching].map((id) => `order ${id}`).join(', ') : 'nothing';
}

async function refreshOrders() {
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
}

function send(event, data) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event, data }));
  else notify('not connected: pick a user first', true);
}

function onMessage({ event, data }) {
  switch (event) {
    case 'order-status':
      notify(`order ${data.orderId} is now "${data.status}"`);
      void refreshOrders();
      break;
    case 'announcement':
      notify(`announcement${data.adminsOnly ? ' (admins)' : ''}: ${data.text}`);
      break;
    case 'watch':
      // The only reply to a watch is a refusal.
      if (data.forbidden) {
        watching.delete(String(data.payload));
        showWatching();
        notify(`not allowed to watch order ${data.payload}`, true);
      }
      break;
    case 'exception':
      notify(`server: ${data.message}`, true);
      break;
    default:
      break;
  }
}

function connect(token) {
  socket?.close(1000, 'switching user');
  watching.clear();
  showWatching();
  if (!token) {
    setState('disconnected', 'closed');
    return;
  }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}${config.wsPath}?token=${encodeURIComponent(token)}&device=${device}`);
  socket = ws;
  setState('connecting', 'connecting');
  ws.onopen = () => setState('open', 'open');
  ws.onmessage = (message) => onMessage(JSON.parse(message.data));
  ws.onclose = (close) => {
    if (socket === ws) setState(`closed (${close.code}${close.reason ? ` ${close.reason}` : ''})`, 'closed');
  };
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) notify(`${path}: ${(await response.json()).message ?? response.status}`, true);
}

userPicker.addEventListener('change', () => connect(userPicker.value));
$('watch-button').addEventListener('click', () => {
  const id = orderInput.value.trim();
  if (!id) return;
  send('watch', { event: 'order-status', payload: id });
  watching.add(id);
  showWatching();
});
$('unwatch-button').addEventListener('click', () => {
  const id = orderInput.value.trim();
  send('unwatch', { event: 'order-status', payload: id });
  watching.delete(id);
  showWatching();
});
$('status-button').addEventListener('click', async () => {
  await post(`/orders/${encodeURIComponent(orderInput.value.trim())}/status`, { status: $('status').value });
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
