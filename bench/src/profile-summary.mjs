/**
 * Sums CPU profiles (`.cpuprofile`, from `BENCH_PROFILE_DIR` or
 * `lib/cpu-profile.mjs`) by self time, per function or per file, for one or
 * more groups side by side, in ns per delivered message:
 *
 *   node bench/src/profile-summary.mjs [--by=function|file] [--top=20] label=<path prefix>@<deliveries> ...
 *
 * Each group is every `.cpuprofile` in the prefix's directory whose name
 * starts with the rest of it, read as a regular expression (e.g.
 * `/tmp/p/cross-` for every process of the `cross` runs,
 * `/tmp/p/wshub-redis-\d+-1\.` for the first profiled round of each
 * `wshub-redis` process); `deliveries` is how many messages those profiles
 * delivered in all; without `@<deliveries>`, each column is in % of the
 * group's time instead. `(idle)` is left out.
 * Rows are sorted by the largest difference between the first two groups
 * (or by the first group's time when there is one).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

const args = process.argv.slice(2);
const by = args.find((a) => a.startsWith('--by='))?.slice(5) ?? 'function';
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 20);
const groups = args
  .filter((a) => !a.startsWith('--'))
  .map((a) => {
    const [label, rest] = a.split(/=(.*)/s);
    const [prefix, deliveries] = rest.split('@');
    return { label, prefix, deliveries: deliveries ? Number(deliveries) : undefined };
  });

/** Where a frame's code lives: a package, a Node internal module, or V8's own pseudo-frames. */
function fileOf({ url, functionName }) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const u = url.replace(/^file:\/\//, '');
  const pkg = u.match(/(?:node_modules|packages)\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  if (u.startsWith('node:')) return u;
  return basename(u);
}

function keyOf(frame) {
  if (by === 'file') return fileOf(frame);
  const name = frame.functionName || '(anonymous)';
  return frame.url ? `${name} ${fileOf(frame)}:${frame.lineNumber + 1}` : name;
}

/** Self time in ns per key, over every profile of the group. */
function selfTimes({ prefix }) {
  const name = new RegExp(`^${basename(prefix)}`);
  const files = readdirSync(dirname(prefix))
    .filter((f) => name.test(f) && f.endsWith('.cpuprofile'))
    .map((f) => `${dirname(prefix)}/${f}`);
  const times = new Map();
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const { samples, timeDeltas } = profile;
    for (let i = 0; i < samples.length; i++) {
      // A sample's time is the gap to the next sample.
      const dt = (timeDeltas[i + 1] ?? 0) * 1000;
      const key = keyOf(nodes.get(samples[i]).callFrame);
      if (key === '(idle)') continue;
      times.set(key, (times.get(key) ?? 0) + dt);
    }
  }
  return { files: files.length, times };
}

const results = groups.map((g) => ({ ...g, ...selfTimes(g) }));
const sum = (r) => [...r.times.values()].reduce((s, t) => s + t, 0);
// Per delivery, or in % of the group's time.
const per = (r, key) => ((r.times.get(key) ?? 0) / (r.deliveries ?? sum(r))) * (r.deliveries ? 1 : 100);
const keys = new Set(results.flatMap((r) => [...r.times.keys()]));
const score = (k) => (results.length > 1 ? Math.abs(per(results[0], k) - per(results[1], k)) : per(results[0], k));
const sorted = [...keys].sort((a, b) => score(b) - score(a)).slice(0, top);
const total = (r) => (r.deliveries ? sum(r) / r.deliveries : 100);
const unit = results.every((r) => r.deliveries) ? 'ns per delivery' : '% of each group’s time (not idle)';
const out = [];
out.push(`self time by ${by}, ${unit} (profiles, busy ms: ${results.map((r) => `${r.label} ${r.files}, ${(sum(r) / 1e6).toFixed(0)}`).join('; ')})`);
out.push(`| ${by} | ${results.map((r) => r.label).join(' | ')} |${results.length > 1 ? ' difference |' : ''}`);
out.push(`|---|${results.map(() => '---:|').join('')}${results.length > 1 ? '---:|' : ''}`);
out.push(`| **all (not idle)** | ${results.map((r) => total(r).toFixed(0)).join(' | ')} |${results.length > 1 ? ` ${(total(results[1]) - total(results[0])).toFixed(0)} |` : ''}`);
for (const k of sorted) {
  const digits = results[0].deliveries ? 0 : 1;
  const cells = results.map((r) => per(r, k).toFixed(digits));
  const diff = results.length > 1 ? ` ${(per(results[1], k) - per(results[0], k)).toFixed(digits)} |` : '';
  out.push(`| \`${k}\` | ${cells.join(' | ')} |${diff}`);
}
process.stdout.write(`${out.join('\n')}\n`);
