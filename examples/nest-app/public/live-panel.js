// The live panel: the last minute of the hub, drawn from GET /demo/activity
// (one sample a second, kept by the server) every second. Plain SVG, no
// chart library.

const SECONDS = 60;
const WIDTH = 600;
const HEIGHT = 120;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const panel = $('live-panel');
const chart = $('live-chart');
const figures = { connections: $('live-connections'), users: $('live-users'), deliveries: $('live-deliveries') };

function show(name, value) {
  figures[name].textContent = String(value);
  figures[name].dataset.value = String(value);
}

/** x of the sample `i` places from the newest (the newest at the right edge). */
const xOf = (fromNewest) => WIDTH - (fromNewest * WIDTH) / (SECONDS - 1);

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function draw(samples) {
  const peakDeliveries = Math.max(1, ...samples.map((s) => s.deliveries));
  const peakSockets = Math.max(1, ...samples.map((s) => Math.max(s.connections, s.users)));
  const y = (value, peak) => HEIGHT - 4 - (value / peak) * (HEIGHT - 8);
  const nodes = [];
  // Deliveries per second as bars, on their own scale…
  const bar = WIDTH / SECONDS;
  samples.forEach((s, i) => {
    const fromNewest = samples.length - 1 - i;
    const top = y(s.deliveries, peakDeliveries);
    nodes.push(element('rect', { class: 'deliveries', x: xOf(fromNewest) - bar, y: top, width: bar - 1, height: HEIGHT - 4 - top }));
  });
  // …connections and users as lines on theirs.
  for (const name of ['connections', 'users']) {
    const points = samples.map((s, i) => `${xOf(samples.length - 1 - i).toFixed(1)},${y(s[name], peakSockets).toFixed(1)}`);
    nodes.push(element('polyline', { class: name, points: points.join(' '), 'data-testid': `live-line-${name}` }));
  }
  chart.replaceChildren(...nodes);
  $('live-scale').textContent = `bars: deliveries/s (peak ${peakDeliveries}); lines: connections, users (peak ${peakSockets})`;
}

/** The outbox: where it lives, its pending rows now, the relay's slowest COMMIT → hub in the last minute. */
function showOutbox(outbox, samples) {
  const where = $('live-outbox');
  where.dataset.state = outbox.state;
  where.textContent =
    outbox.state === 'ready' ? outbox.database : outbox.state === 'starting' ? `opening ${outbox.database}…` : `unavailable: ${outbox.error}`;
  const pending = $('live-pending');
  pending.textContent = outbox.pending === undefined ? '–' : String(outbox.pending);
  pending.dataset.value = String(outbox.pending ?? '');
  const latencies = samples.map((s) => s.relayMs).filter((ms) => ms !== null && ms !== undefined);
  const relay = $('live-relay');
  relay.textContent = latencies.length === 0 ? 'nothing relayed in the last minute' : `${Math.max(...latencies)} ms`;
  relay.dataset.value = latencies.length === 0 ? '' : String(Math.max(...latencies));
  relay.dataset.last = String(latencies.at(-1) ?? '');
}

async function refresh() {
  try {
    const { samples, outbox } = await (await fetch('/demo/activity')).json();
    panel.dataset.samples = String(samples.length);
    const last = samples.at(-1) ?? { connections: 0, users: 0, deliveries: 0 };
    show('connections', last.connections);
    show('users', last.users);
    show('deliveries', last.deliveries);
    figures.deliveries.dataset.peak = String(Math.max(0, ...samples.map((s) => s.deliveries)));
    draw(samples);
    showOutbox(outbox, samples);
    panel.dataset.state = 'live';
  } catch {
    panel.dataset.state = 'offline'; // the server restarts: keep the last picture
  }
}

await refresh();
setInterval(refresh, 1000);
