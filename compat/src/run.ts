import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  output: string;
}

/**
 * The environment of a process started in a fresh app: none of the
 * variables the outer `npm run`/turbo/vitest set (an `npm_config_local_prefix`
 * would point npm at this repository, `VITEST_*` would confuse the app's
 * vitest), except where npm keeps its cache and configuration.
 */
export function appEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const npmKept = /^npm_config_(cache|userconfig|globalconfig|registry)$/i.test(key);
    if (!npmKept && /^(npm_|VITEST|VITE_|TURBO_|TSUP_)|^(NODE_OPTIONS|NODE_ENV|INIT_CWD|FORCE_COLOR)$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a command to its end; never throws on a failing exit code (callers assert it with the output). */
export function run(command: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: appEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Like {@link run}, but throws with the command and its output when it fails. */
export async function runOk(command: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const result = await run(command, args, cwd, extraEnv);
  if (result.code !== 0) {
    throw new Error(`\`${[command, ...args].join(' ')}\` in ${cwd} exited with ${result.code}:\n${result.output.slice(-6000)}`);
  }
  return result.output;
}
