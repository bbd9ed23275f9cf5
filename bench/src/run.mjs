#!/usr/bin/env node
/**
 * The benchmark runner.
 *
 *   npm run bench                      full profile (about 9 minutes on 2 cores)
 *   npm run bench -- --quick           about 1.5 minutes
 *   npm run bench -- --scenarios A,B --contenders wshub,socketio --reps 5
 *
 * Each scenario case runs its contenders interleaved (rep 1: A B C, rep 2:
 * B C A, …), every contender in a fresh server process, clients in one
 * shared load process. Writes `<out>/<timestamp>.json` and
 * `<out>/latest.md` and prints the markdown.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labelIn, probeContenders } from './contenders/index.mjs';
import { Child } from './lib/ipc.mjs';
import { messageBytes } from './lib/payload.mjs';
import { startRedis } from './lib/redis.mjs';
import { PROFILES } from './profiles.mjs';
import { evaluateTargets, formatValue, summarizeMetric, toMarkdown } from './report.mjs';
import { SCENARIOS } from './scenarios/index.mjs';
import { Session } from './session.mjs';

const LOAD_PROCESS = fileURLToPath(new URL('./load-process.mjs', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../results/', import.meta.url));

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    contenders: { type: 'string' },
    reps: { type: 'string' },
    'out-dir': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    render: { type: 'string' },
    merge: { type: 'string', multiple: true },
  },
});

const profileName = args.smoke ? 'smoke' : args.quick ? 'quick' : 'full';
const profile = PROFILES[profileName];
const reps = args.reps ? Number(args.reps) : profile.reps;
const onlyScenarios = args.scenarios?.toUpperCase().split(',');
const onlyContenders = args.contenders?.split(',');
// Paths given on the command line are relative to where `npm run bench` was
// typed (npm runs the script inside bench/ and says where it started in INIT_CWD).
const fromCaller = (path) => resolve(process.env.INIT_CWD ?? process.cwd(), path);
const outDir = args['out-dir'] ? fromCaller(args['out-dir']) : DEFAULT_OUT;

const log = (line) => process.stderr.write(`${line}\n`);

/**
 * `--render results/X.json`: rebuilds `latest.md` (and with --write-docs the
 * docs) from a past run. `--merge results/Y.json` (repeatable) adds Y's
 * scenarios (those in `--scenarios`, if given) to X's, so a rerun of some
 * scenarios can stand next to a longer run of the others; see `mergeRuns`.
 */
async function render(file) {
  const { readFile } = await import('node:fs/promises');
  const read = async (path) => JSON.parse(await readFile(path, 'utf8'));
  let doc = await read(file);
  if (args.merge?.length) {
    const extras = await Promise.all(args.merge.map((path) => read(fromCaller(path))));
    doc = mergeRuns(doc, extras, onlyScenarios);
  }
  doc.targets = evaluateTargets(doc.scenarios);
  const markdown = toMarkdown(doc);
  await writeFile(join(outDir, 'latest.md'), markdown);
  if (!args.quiet) process.stdout.write(markdown);
  if (args['write-docs']) {
    await writeDocs(markdown, [file, ...(args.merge ?? []).map(fromCaller)]);
    log(`updated ${DOCS}`);
  }
}

/**
 * One document from several runs. Every scenario keeps the run it came from
 * (`run`: when, profile, repetitions, command), so each table — and each
 * target row, which compares contenders of one table — stays a comparison
 * within one run. A scenario of a later run replaces the earlier run's
 * scenario with the same id and the same cases; with other cases (a quick
 * run's N=1k beside a full run's 1k/5k/10k) both are kept.
 */
function mergeRuns(base, extras, only) {
  const runOf = (d) => ({ startedAt: d.startedAt, profile: d.profile, reps: d.reps, command: d.command });
  const caseKey = (s) => (s.cases ?? []).map((c) => c.id).join(',');
  const scenarios = base.scenarios.map((s) => ({ ...s, run: s.run ?? runOf(base) }));
  const contenders = new Map(base.contenders.map((c) => [c.id, c]));
  for (const extra of extras) {
    for (const s of extra.scenarios) {
      if (only && !only.includes(s.id)) continue;
      const entry = { ...s, run: s.run ?? runOf(extra) };
      const same = scenarios.findIndex((x) => x.id === s.id && caseKey(x) === caseKey(s));
      if (same !== -1) {
        scenarios[same] = entry;
        continue;
      }
      let at = scenarios.findLastIndex((x) => x.id === s.id);
      if (at === -1) at = scenarios.findLastIndex((x) => x.id < s.id);
      scenarios.splice(at + 1, 0, entry);
    }
    for (const c of extra.contenders) if (c.available || !contenders.has(c.id)) contenders.set(c.id, c);
  }
  // A warning names its scenario first: keep those of the tables shown.
  const keep = (d) => (w) => {
    const id = w.split(' ')[0];
    return !/^[A-Z]$/.test(id) || scenarios.some((s) => s.id === id && s.run.startedAt === d.startedAt);
  };
  return {
    ...base,
    merged: true,
    contenders: [...contenders.values()],
    scenarios,
    warnings: [...base.warnings.filter(keep(base)), ...extras.flatMap((e) => e.warnings.filter(keep(e)))],
  };
}

function skips(params, contender, c) {
  return !!params.skipCases?.[contender.id]?.some((x) => (x instanceof RegExp ? x.test(c.id) : x === c.id));
}

async function main() {
  if (args.render) return render(fromCaller(args.render));
  const started = new Date();
  const warnings = [];
  const contenders = (await probeContenders()).filter((c) =>
    onlyContenders ? onlyContenders.includes(c.id) : !profile.skip?.includes(c.id),
  );
  for (const c of contenders) if (!c.available) log(`- ${c.id}: not measured (${c.reason})`);
  const scenarios = SCENARIOS.filter((s) => (onlyScenarios ? onlyScenarios.includes(s.id) : !s.optIn));

  let load;
  const loadProcess = () => {
    if (!load || load.exited) load = new Child(LOAD_PROCESS, { name: 'load' });
    return load;
  };
  let redis;
  const results = [];
  try {
    for (const scenario of scenarios) {
      const params = profile[scenario.id];
      // A profile may give a long scenario fewer repetitions (`reps` in its params); --reps decides for all.
      const scenarioReps = args.reps ? Number(args.reps) : (params.reps ?? reps);
      const entrants = contenders.filter((c) => c.available && c.scenarios.includes(scenario.id));
      const doc = {
        id: scenario.id,
        title: scenario.title,
        description: scenario.description,
        params,
        reps: scenarioReps,
        baselines: entrants.filter((c) => c.baseline).map((c) => c.id),
        cases: [],
      };
      results.push(doc);
      if (entrants.length === 0) {
        doc.skipped = 'no contender available';
        continue;
      }
      if (scenario.needsRedis && !redis) {
        try {
          redis = await startRedis();
        } catch (error) {
          doc.skipped = `no redis-server (${error.message})`;
          warnings.push(`${scenario.id}: ${doc.skipped}`);
          continue;
        }
      }
      const metrics = typeof scenario.metrics === 'function' ? scenario.metrics(params) : scenario.metrics;
      for (const c of scenario.cases(params)) {
        const caseDoc = {
          id: c.id,
          label: c.label,
          params: c.params,
          metrics: metrics.map((m) => ({
            ...m,
            results: entrants
              .filter((e) => !skips(params, e, c))
              .map((e) => ({ contender: e.id, label: labelIn(e, scenario.id), baseline: !!e.baseline, samples: [] })),
          })),
        };
        doc.cases.push(caseDoc);
        // A profile may leave a contender out of some cases (`skipCases: { id: [caseId or RegExp] }`).
        const inCase = entrants.filter((e) => !skips(params, e, c));
        for (let rep = 0; rep < scenarioReps; rep++) {
          // Rotate the order every repetition so no contender always runs first.
          const order = inCase.map((_, i) => inCase[(i + rep) % inCase.length]);
          for (const contender of order) {
            const session = new Session({ contender, load: loadProcess(), redisUrl: redis?.url });
            const sessionStart = Date.now();
            let out;
            try {
              out = await scenario.run(session, c.params, params);
            } catch (error) {
              const message = String(error?.message ?? error).split('\n')[0];
              warnings.push(`${scenario.id} ${c.id} rep ${rep + 1} ${contender.id}: ${message}`);
              out = Object.fromEntries(metrics.map((m) => [m.key, { value: null, error: message }]));
            } finally {
              const counters = await session
                .close()
                .catch((error) => warnings.push(`cleanup after ${contender.id}: ${error.message}`));
              for (const stat of Array.isArray(counters) ? counters : []) {
                const lost = (stat.dropped ?? 0) + (stat.slowConsumers ?? 0) + (stat.deliveryErrors ?? 0) + (stat.errors ?? 0);
                if (lost) warnings.push(`${scenario.id} ${c.id} rep ${rep + 1} ${contender.id}: server counters ${JSON.stringify(stat)}`);
              }
            }
            for (const m of caseDoc.metrics) {
              const target = m.results.find((r) => r.contender === contender.id);
              target.samples.push({ rep: rep + 1, ...(out[m.key] ?? { value: null, error: 'not reported' }) });
            }
            log(
              `${scenario.id} ${c.id} rep ${rep + 1}/${scenarioReps} ${contender.id}: ` +
                caseDoc.metrics.map((m) => `${m.key}=${formatValue(out[m.key]?.value, m.unit)}`).join(' ') +
                ` (${((Date.now() - sessionStart) / 1000).toFixed(1)} s)`,
            );
          }
        }
        for (const m of caseDoc.metrics) summarizeMetric(m, doc.baselines);
        for (const m of caseDoc.metrics) {
          for (const r of m.results) {
            if (r.loadCpuMax !== null && r.loadCpuMax > 0.9) {
              warnings.push(`${scenario.id} ${c.id} ${m.key} ${r.contender}: load process at ${Math.round(r.loadCpuMax * 100)}% CPU; the load side may be the limit`);
            }
          }
        }
      }
    }
  } finally {
    await load?.stop();
    redis?.stop();
    // Whatever a scenario started for itself (I: its Redis Clusters).
    for (const scenario of scenarios) await scenario.stop?.();
  }

  const finished = new Date();
  const doc = {
    schema: 'wshub-bench/1',
    profile: profileName,
    reps,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished - started,
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machine(),
    message: { bytes: messageBytes() },
    contenders: contenders.map(({ id, label, labels, available, reason, baseline, scenarios: s }) => ({
      id,
      label,
      labels,
      available,
      ...(reason ? { reason } : {}),
      baseline: !!baseline,
      scenarios: s,
    })),
    scenarios: results,
    targets: evaluateTargets(results),
    warnings,
  };
  const markdown = toMarkdown(doc);
  await mkdir(outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const jsonPath = join(outDir, `${stamp}.json`);
  await writeFile(jsonPath, `${JSON.stringify(doc, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.md'), markdown);
  if (!args.quiet) process.stdout.write(markdown);
  log(`results: ${jsonPath}`);
  if (args['write-docs']) {
    await writeDocs(markdown, [jsonPath]);
    log(`updated ${DOCS}`);
  }
}

const DOCS = fileURLToPath(new URL('../../docs/BENCHMARKS.md', import.meta.url));
const BEGIN = '<!-- bench:begin (generated by `npm run bench -- --write-docs`; edit outside these markers) -->';
const END = '<!-- bench:end -->';

/** Replaces the generated part of docs/BENCHMARKS.md, keeping the prose around it. */
async function writeDocs(markdown, jsonPaths) {
  const { readFile } = await import('node:fs/promises');
  const { relative } = await import('node:path');
  let doc;
  try {
    doc = await readFile(DOCS, 'utf8');
  } catch {
    doc = `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  }
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start === -1 || end < start) throw new Error(`${DOCS} lacks the bench:begin / bench:end markers`);
  const files = jsonPaths.map((p) => `\`${relative(join(DOCS, '..', '..'), resolve(p))}\``);
  // bench/results/ is not committed: the names identify the runs for whoever holds the files.
  const source = `Raw samples (not committed; \`npm run bench\` writes its own): ${files.join(', ')}.\n\n`;
  const generated = `${BEGIN}\n\n${source}${markdown.replace(/^## /gm, '### ')}\n${END}`;
  await writeFile(DOCS, doc.slice(0, start) + generated + doc.slice(end + END.length));
}

function machine() {
  const require = createRequire(import.meta.url);
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'n/a';
    }
  };
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    platform: os.platform(),
    release: os.release(),
    node: process.version,
    ws: version('ws'),
    socketio: version('socket.io'),
  };
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
