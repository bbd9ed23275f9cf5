/**
 * Request/response over the Node IPC channel between the orchestrator and
 * its child processes (server under test, load generator).
 */
import { fork } from 'node:child_process';

/** A child process answering `call(cmd, args)` with the handler's result. */
export class Child {
  /**
   * @param {string} file module to fork
   * @param {{ name: string, execArgv?: string[], env?: Record<string, string> }} options
   */
  constructor(file, { name, execArgv = [], env = {} }) {
    this.name = name;
    this.nextId = 1;
    /** @type {Map<number, { resolve: Function, reject: Function, cmd: string }>} */
    this.waiting = new Map();
    this.exited = false;
    this.stderr = '';
    this.proc = fork(file, [], {
      execArgv,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => {
      // Keep the tail only: enough to explain a crash.
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.proc.on('message', (msg) => {
      const entry = this.waiting.get(msg.id);
      if (!entry) return;
      this.waiting.delete(msg.id);
      if (msg.ok) entry.resolve(msg.result);
      else entry.reject(new Error(`${this.name}: ${entry.cmd} failed: ${msg.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const entry of this.waiting.values()) {
        entry.reject(
          new Error(`${this.name} exited (${signal ?? code}) during ${entry.cmd}${this.stderr ? `:\n${this.stderr}` : ''}`),
        );
      }
      this.waiting.clear();
    });
    live.add(this);
  }

  /**
   * Runs `cmd` in the child; rejects after `timeoutMs` so a stuck child
   * never stalls the run.
   */
  call(cmd, args = {}, timeoutMs = 120_000) {
    if (this.exited) return Promise.reject(new Error(`${this.name} is not running (${cmd})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        cmd,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /**
   * Stops the child; resolves once it has exited. Closing the IPC channel
   * lets it exit normally (so `--cpu-prof` can write its profile); one that
   * does not within `graceMs` is killed.
   */
  async stop(graceMs = 2000) {
    live.delete(this);
    if (this.exited) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    if (this.proc.connected) this.proc.disconnect();
    else this.proc.kill('SIGKILL');
    await gone;
    clearTimeout(timer);
  }
}

/** Children still running, killed if the orchestrator exits early. */
const live = new Set();
process.once('exit', () => {
  for (const child of live) if (!child.exited) child.proc.kill('SIGKILL');
});

/**
 * Child side: answers requests with `handlers[cmd](args)`. The child exits
 * when the orchestrator goes away, so no process outlives a run.
 */
export function serve(handlers) {
  process.on('message', async (message) => {
    // Other messages share the channel (in a cluster worker: the broker's).
    if (typeof message?.cmd !== 'string') return;
    const { id, cmd, args } = message;
    try {
      const handler = handlers[cmd];
      if (!handler) throw new Error(`unknown command "${cmd}"`);
      const result = await handler(args);
      process.send({ id, ok: true, result });
    } catch (error) {
      process.send({ id, ok: false, error: error?.stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // A cluster worker's channel is read before this module runs: messages sent
  // earlier are lost, so the primary waits for this.
  process.send?.({ serving: true });
}
