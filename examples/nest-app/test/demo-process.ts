import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const URL_LINE = /wshub NestJS demo: http:\/\/localhost:(\d+)/;

/**
 * The compiled demo in its own process, exactly as `npm start` runs it.
 * {@link DemoProcess.start} resolves once it printed its URL.
 */
export class DemoProcess {
  /** Everything the process wrote to stdout and stderr so far. */
  output = '';
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  #port = 0;

  private constructor(readonly child: ChildProcess) {
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
      });
    }
  }

  /**
   * Starts the demo on `port` (0: a free one), with `env` added to the
   * environment (e.g. `TOKEN_TTL_MS`), and waits for its database (which
   * opens after the URL is printed). Rejects with the process's output if it
   * exits first, or prints no URL or has no database within `timeoutMs`.
   */
  static async start(port = 0, timeoutMs = 90_000, env: Record<string, string> = {}): Promise<DemoProcess> {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...env, PORT: String(port), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = new DemoProcess(child);
    const deadline = Date.now() + timeoutMs;
    demo.#port = await demo.#printedPort(timeoutMs);
    await demo.#databaseOpen(deadline);
    return demo;
  }

  /**
   * Starts the demo the way the root README says, `npm start` at the
   * repository root (which builds first, a cache hit once built); `child` is
   * then the npm process, not the server.
   */
  static async startWithNpm(port = 0, timeoutMs = 60_000): Promise<DemoProcess> {
    const child = spawn('npm', ['start'], {
      cwd: repositoryRoot,
      env: { ...process.env, PORT: String(port), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = new DemoProcess(child);
    demo.#port = await demo.#printedPort(timeoutMs);
    return demo;
  }

  get port(): number {
    return this.#port;
  }

  /** `http://127.0.0.1:<port>` */
  get base(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Sends `signal` unless the process has ended, and resolves with its exit code. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  async #databaseOpen(deadline: number): Promise<void> {
    for (;;) {
      // While PGlite starts it holds the event loop; a kept-alive connection may be reset meanwhile.
      const state = await fetch(`${this.base}/demo/outbox`, { headers: { connection: 'close' } }).then(
        async (response) => ((await response.json()) as { state: string }).state,
        () => 'starting',
      );
      if (state === 'ready') return;
      if (state !== 'starting' || Date.now() > deadline) {
        this.child.kill('SIGKILL');
        throw new Error(`the demo's database is ${state}:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  #printedPort(timeoutMs: number): Promise<number> {
    const { child } = this;
    return new Promise((resolve, reject) => {
      // Registered after the constructor's listener, so `output` already has the chunk.
      const onData = () => {
        const printed = URL_LINE.exec(this.output)?.[1];
        if (printed) {
          done();
          resolve(Number(printed));
        }
      };
      // 'close' comes after the last output, so the error shows all of it.
      const onClose = (code: number | null, signal: string | null) => {
        done();
        reject(new Error(`the demo exited (${signal ?? code}) before it printed its URL:\n${this.output}`));
      };
      const timer = setTimeout(() => {
        done();
        child.kill('SIGKILL');
        reject(new Error(`the demo printed no URL within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('close', onClose);
      };
      child.stdout!.on('data', onData);
      child.once('close', onClose);
    });
  }
}
