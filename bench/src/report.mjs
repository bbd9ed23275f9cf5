/**
 * Turns the samples of a run into the result document (JSON) and the
 * markdown tables.
 */
import { summarize } from './lib/stats.mjs';

/**
 * The issue's targets, each a ratio of medians in the same run. `ratio` is
 * contender ÷ baseline; `atLeast` / `atMost` bound it. `flat` compares a
 * contender's largest case with its smallest (scenario E).
 */
export const TARGETS = [
  { scenario: 'A', metric: 'single', contender: 'wshub', baseline: 'socketio', atLeast: 1.5 },
  { scenario: 'A', metric: 'single', contender: 'wshub', baseline: 'naive', atLeast: 2 },
  { scenario: 'A', metric: 'single', contender: 'wshub', baseline: 'ws-frame', atLeast: 0.9 },
  { scenario: 'A', metric: 'burst', contender: 'wshub', baseline: 'socketio', atLeast: 5 },
  { scenario: 'A', metric: 'burst', contender: 'wshub', baseline: 'ws-coalesced', atLeast: null },
  // The ceiling for "single pushes ÷ per-socket stringify": no hub that writes each message once per socket beats frame-once.
  { scenario: 'A', metric: 'single', contender: 'ws-frame', baseline: 'naive', atLeast: null },
  { scenario: 'A', metric: 'single', contender: 'wshub-nest', baseline: 'wshub', atLeast: 1 / 1.2 },
  { scenario: 'B', metric: 'throughput', contender: 'wshub', baseline: 'socketio', atLeast: 1.5 },
  { scenario: 'B', metric: 'throughput', contender: 'ws-frame', baseline: 'socketio', atLeast: null },
  { scenario: 'B', metric: 'p99@10000', contender: 'wshub', baseline: 'ws-once', atMost: 1.2 },
  { scenario: 'B', metric: 'throughput', contender: 'wshub-nest', baseline: 'wshub', atLeast: 1 / 1.2 },
  // The same command with plain data, which skips class-transformer: the binding's own cost.
  { scenario: 'B', metric: 'throughput', contender: 'wshub-nest-plain', baseline: 'wshub', atLeast: 1 / 1.2 },
  // Metrics on (@wshub/prometheus, scraped every second) may cost at most 5% of the rate.
  { scenario: 'A', metric: 'single', contender: 'wshub-metrics', baseline: 'wshub', atLeast: 0.95 },
  { scenario: 'A', metric: 'burst', contender: 'wshub-metrics', baseline: 'wshub', atLeast: 0.95 },
  { scenario: 'B', metric: 'throughput', contender: 'wshub-metrics', baseline: 'wshub', atLeast: 0.95 },
  // Tracing on (the OpenTelemetry SDK, a no-op exporter) may cost at most 10% of the rate.
  { scenario: 'A', metric: 'single', contender: 'wshub-traced', baseline: 'wshub', atLeast: 0.9 },
  { scenario: 'A', metric: 'burst', contender: 'wshub-traced', baseline: 'wshub', atLeast: 0.9 },
  { scenario: 'B', metric: 'throughput', contender: 'wshub-traced', baseline: 'wshub', atLeast: 0.9 },
  { scenario: 'B', metric: 'throughput', contender: 'wshub-traced-10', baseline: 'wshub', atLeast: 0.9 },
  { scenario: 'C', metric: 'heap', contender: 'wshub', baseline: 'ws-once', atMost: 1.3 },
  { scenario: 'C', metric: 'rss', contender: 'wshub', baseline: 'ws-once', atMost: 1.3 },
  { scenario: 'C', metric: 'rate', contender: 'wshub', baseline: 'ws-once', atLeast: 0.8 },
  { scenario: 'D', metric: 'time', contender: 'wshub', baseline: 'naive', atMost: 1 / 50 },
  // Scoped cost must follow the matching sockets, not all sockets: as N grows 10× (matches per send
  // fixed), wshub's rate must hold up like the scope-index baseline's (a scan falls ~10×).
  { scenario: 'E', metric: 'rate', contender: 'wshub', flat: true, baseline: 'ws-once', atLeast: 0.8 },
  { scenario: 'F', metric: 'throughput', contender: 'wshub-redis', baseline: 'socketio', atLeast: 1.5 },
  // Issue 16: an idle connection costs about what raw ws costs, at every N up to the descriptor limit…
  { scenario: 'G', metric: 'heap', contender: 'wshub', baseline: 'ws-idle', atMost: 1.2 },
  { scenario: 'G', metric: 'rss', contender: 'wshub', baseline: 'ws-idle', atMost: 1.2 },
  // …and no more per connection at the largest N than at the smallest.
  { scenario: 'G', metric: 'heap', contender: 'wshub', flat: true, atMost: 1.1 },
  { scenario: 'G', metric: 'rss', contender: 'wshub', flat: true, atMost: 1.1 },
  { scenario: 'G', metric: 'idleCpu', contender: 'wshub', baseline: 'ws-idle', atMost: 1.2 },
  { scenario: 'G', metric: 'broadcast', contender: 'wshub', baseline: 'ws-idle', atMost: 1.1 },
  { scenario: 'G', metric: 'storm', contender: 'wshub', baseline: 'ws-idle', atMost: null },
  { scenario: 'H', metric: 'heap', contender: 'wshub-workers', baseline: 'ws-idle', atMost: null },
  { scenario: 'H', metric: 'idleCpu', contender: 'wshub-workers', baseline: 'ws-idle', atMost: null },
  { scenario: 'H', metric: 'broadcast', contender: 'wshub-workers', baseline: 'ws-idle', atMost: null },
  { scenario: 'H', metric: 'storm', contender: 'wshub-workers', baseline: 'ws-idle', atMost: null },
  // …and 2 workers deliver at least 1.6× what 1 does, where the hub is the limit; side by side with Socket.IO's cluster adapter.
  { scenario: 'J', metric: 'throughput', contender: 'wshub-workers2', baseline: 'wshub-workers1', atLeast: 1.6 },
  { scenario: 'J', metric: 'broadcast', contender: 'wshub-workers2', baseline: 'wshub-workers1', atLeast: 1.6 },
  { scenario: 'J', metric: 'throughput', contender: 'socketio-workers2', baseline: 'socketio-workers1', atLeast: null },
  { scenario: 'J', metric: 'broadcast', contender: 'socketio-workers2', baseline: 'socketio-workers1', atLeast: null },
  { scenario: 'J', metric: 'throughput', contender: 'wshub-workers2', baseline: 'socketio-workers2', atLeast: null },
  { scenario: 'J', metric: 'broadcast', contender: 'wshub-workers2', baseline: 'socketio-workers2', atLeast: null },
];

/** Adds median/min/max and ratios to every metric's results. */
export function summarizeMetric(metric, baselines) {
  for (const r of metric.results) {
    const values = r.samples.map((s) => s.value).filter((v) => typeof v === 'number' && Number.isFinite(v));
    Object.assign(r, summarize(values));
    r.failures = r.samples.length - values.length;
    const loads = r.samples.map((s) => s.loadCpu).filter((v) => typeof v === 'number');
    const sys = r.samples.map((s) => s.serverSys).filter((v) => typeof v === 'number');
    r.loadCpuMax = loads.length ? Math.max(...loads) : null;
    r.serverSysMedian = sys.length ? summarize(sys).median : null;
    const perDelivery = r.samples.map((s) => s.serverUsPerDelivery).filter((v) => typeof v === 'number');
    r.serverUsPerDeliveryMedian = perDelivery.length ? summarize(perDelivery).median : null;
  }
  for (const r of metric.results) {
    r.ratios = {};
    for (const b of baselines) {
      const base = metric.results.find((x) => x.contender === b);
      r.ratios[b] = base && r.median && base.median ? r.median / base.median : null;
    }
  }
}

/** Evaluates TARGETS against the summarized scenarios. */
export function evaluateTargets(scenarios) {
  const rows = [];
  for (const t of TARGETS) {
    // A merged document (see run.mjs) may hold a scenario from two runs; each is judged on its own.
    for (const scenario of scenarios.filter((s) => s.id === t.scenario)) rows.push(...targetRows(t, scenario));
  }
  return rows;
}

function targetRows(t, scenario) {
  const rows = [];
  const cases = scenario.cases ?? [];
  const find = (c, id) => c.metrics.find((m) => m.key === t.metric)?.results.find((r) => r.contender === id);
  const text = describeTarget(t);
  const caseText = (id) => (scenario.run ? `${id} (${runName(scenario.run)})` : id);
  if (t.flat) {
    if (cases.length < 2) return rows;
    const growth = (id) => {
      const first = find(cases[0], id);
      const last = find(cases[cases.length - 1], id);
      return first?.median && last?.median ? last.median / first.median : null;
    };
    const own = growth(t.contender);
    const base = t.baseline ? growth(t.baseline) : 1;
    const ratio = own !== null && base ? own / base : null;
    rows.push({ ...t, text, case: caseText(`${cases[cases.length - 1].id} vs ${cases[0].id}`), ratio, met: judge(t, ratio) });
    return rows;
  }
  for (const c of cases) {
    const r = find(c, t.contender);
    const base = find(c, t.baseline);
    // In a merged document, a run that did not measure the contender has nothing to say.
    if (scenario.run && (!r || !base)) continue;
    const ratio = r?.median && base?.median ? r.median / base.median : null;
    // For rates, the same comparison in server CPU per delivery (baseline ÷ contender, so
    // higher is better as for the rate): steadier when other processes share the machine.
    const higher = scenario.cases[0]?.metrics.find((m) => m.key === t.metric)?.better === 'higher';
    const cpuRatio =
      higher && r?.serverUsPerDeliveryMedian && base?.serverUsPerDeliveryMedian
        ? base.serverUsPerDeliveryMedian / r.serverUsPerDeliveryMedian
        : null;
    rows.push({ ...t, text, case: caseText(c.id), ratio, cpuRatio, met: judge(t, ratio) });
  }
  return rows;
}

/** How a merged document names a run: its profile and start time. */
function runName(run) {
  return `${run.profile} run ${run.startedAt.slice(0, 16).replace('T', ' ')}`;
}

function judge(t, ratio) {
  if (ratio === null) return null;
  if (t.atLeast != null) return ratio >= t.atLeast;
  if (t.atMost != null) return ratio <= t.atMost;
  return null;
}

function describeTarget(t) {
  const bound = t.atLeast != null ? `≥ ${round(t.atLeast)}×` : t.atMost != null ? `≤ ${round(t.atMost)}×` : '(reference)';
  if (t.flat) {
    const of = (id) => `${id} (largest N ÷ smallest N)`;
    return `${t.scenario} ${t.metric}: ${of(t.contender)}${t.baseline ? ` ÷ ${of(t.baseline)}` : ''} ${bound}`;
  }
  return `${t.scenario} ${t.metric}: ${t.contender} ÷ ${t.baseline} ${bound}`;
}

function round(x) {
  return Number(x.toPrecision(3));
}

// ------------------------------------------------------------ formatting

export function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (unit === 'ms' || unit === 'µs' || unit === '% of a core') return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  if (unit === 'bytes') return value >= 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${value.toFixed(0)} B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k`;
  return value.toFixed(0);
}

function pct(x) {
  return x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`;
}

function ratioText(x) {
  if (x === null || x === undefined) return '–';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

/** The markdown report of a result document. */
export function toMarkdown(doc) {
  const m = doc.machine;
  const lines = [];
  if (doc.merged) {
    const runs = [...new Map(doc.scenarios.map((s) => [s.run.startedAt, s.run])).values()];
    lines.push(
      `Tables from ${runs.length} runs, each scenario from one run (contenders interleaved within it); the run is named under each scenario and in the targets' case column: ` +
        runs.map((r) => `${runName(r)} (\`${r.command}\`, ${r.reps} repetition(s))`).join('; ') +
        '.',
    );
  } else {
    lines.push(`Run ${doc.startedAt} · profile \`${doc.profile}\` · ${doc.reps} repetition(s), contenders interleaved · ${(doc.durationMs / 1000).toFixed(0)} s`);
  }
  lines.push('');
  lines.push(
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, ${m.platform} ${m.release}; Node ${m.node}, ws ${m.ws}, socket.io ${m.socketio}. ` +
      `One server process, one load process (raw \`ws\` clients); message ${doc.message.bytes} bytes of JSON.`,
  );
  lines.push('');
  lines.push(
    'Values are the median [min–max] of the repetitions. `× X` = this row\'s median ÷ baseline X\'s median (for "lower is better" metrics a ratio below 1 is better). ' +
      '`load CPU`: peak CPU of the load process during the measurement (100% = one core; near 100% the load side may be the limit). ' +
      '`srv µs/msg`: server CPU per delivery, first call → last receipt (holds up better than rates when other processes take CPU; in F both nodes). ' +
      '`srv sys`: share of the server\'s CPU spent in the kernel.',
  );
  const unavailable = doc.contenders.filter((c) => !c.available);
  if (unavailable.length) {
    lines.push('');
    lines.push(`Not measured: ${unavailable.map((c) => `${c.label} (${c.reason})`).join('; ')}.`);
  }
  if (doc.targets.length) {
    lines.push(
      '',
      '## Targets',
      '',
      'Ratios of medians in this run. For rates, `by CPU` repeats the comparison in server CPU per delivery (baseline ÷ contender).',
      '',
      '| target | case | measured | by CPU | met |',
      '|---|---|---:|---:|---|',
    );
    for (const t of doc.targets) {
      const met = t.met === null ? '–' : t.met ? 'yes' : '**no**';
      lines.push(`| ${t.text} | ${t.case} | ${ratioText(t.ratio)} | ${ratioText(t.cpuRatio)} | ${met} |`);
    }
  }
  for (const s of doc.scenarios) {
    lines.push('', `## ${s.id}. ${s.title}${s.run ? ` (${s.run.profile} run)` : ''}`, '');
    if (s.run) lines.push(`From the ${runName(s.run)}: \`${s.run.command}\`, ${s.run.reps} repetition(s).`, '');
    if (s.skipped) {
      lines.push(`Skipped: ${s.skipped}`);
      continue;
    }
    lines.push(s.description);
    for (const c of s.cases) {
      for (const metric of c.metrics) {
        const better = metric.better === 'higher' ? 'higher is better' : 'lower is better';
        lines.push('', `**${c.label} — ${metric.label}** (${metric.unit}, ${better})`, '');
        const header = [
          'contender',
          'median [min–max]',
          ...s.baselines.map((b) => `× ${shortLabel(doc, b, s.id)}`),
          'load CPU',
          'srv µs/msg',
          'srv sys',
        ];
        lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
        for (const r of metric.results) {
          const value =
            r.median === null
              ? `failed${r.samples[0]?.error ? ` (${r.samples.find((x) => x.error)?.error})` : ''}`
              : `${formatValue(r.median, metric.unit)} [${formatValue(r.min, metric.unit)}–${formatValue(r.max, metric.unit)}]` +
                (r.failures ? ` (${r.failures} failed)` : '');
          const cells = [
            r.label,
            value,
            ...s.baselines.map((b) => (b === r.contender ? '1' : ratioText(r.ratios[b]))),
            pct(r.loadCpuMax),
            r.serverUsPerDeliveryMedian === null ? '–' : r.serverUsPerDeliveryMedian.toFixed(2),
            pct(r.serverSysMedian),
          ];
          lines.push(`| ${cells.join(' | ')} |`);
        }
      }
    }
  }
  if (doc.warnings.length) {
    lines.push('', '## Warnings', '');
    for (const w of doc.warnings) lines.push(`- ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

function shortLabel(doc, id, scenario) {
  const c = doc.contenders.find((x) => x.id === id);
  return c?.labels?.[scenario] ?? c?.label ?? id;
}
