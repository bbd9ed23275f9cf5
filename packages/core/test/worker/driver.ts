/**
 * Drives test/worker/primary.mjs (a node:cluster primary with a WorkerRelay
 * and hub workers) from a test: commands, calls to workers, and connections
 * that land on a given worker.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestSocket } from '@wshub/test-support';

export const primaryScript = fileURLToPath(new URL('./primary.mjs', import.meta.url));

export interface PrimaryOptions {
  /** Environment of the primary and its workers (WSHUB_RECOVERY, WSHUB_WORKER_ARGS, …). */
  env?: Record<string, string>;
  /** Node flags of the primary itself, e.g. a small heap. */
  execArgv?: string[];
}

export class Primary {
  readonly child: ChildProcess;
  readonly errors: string[] = [];
  readonly sockets: TestSocket[] = [];
  port = 0;
  private nextId = 0;
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();

  constructor(options: PrimaryOptions = {}) {
    this.child = fork(primaryScript, [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env },
      execArgv: options.execArgv ?? [],
    });
    this.child.on('message', (m: any) => {
      if (m.type === 'reply') {
        this.replies.get(m.id)?.(m);
        this.replies.delete(m.id);
      } else if (m.type === 'error') this.errors.push(`worker ${m.worker}: ${m.message}`);
    });
    this.child.on('exit', (code, signal) => {
      for (const reply of this.replies.values()) reply({ error: `the primary exited (${code ?? signal})` });
      this.replies.clear();
    });
  }

  command<R>(command: string, args: Record<string, unknown> = {}): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.replies.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result as R)));
      this.child.send({ id, command, args });
    });
  }

  call<R>(worker: number, method: string, args: Record<string, unknown> = {}): Promise<R> {
    return this.command<R>('call', { worker, method, args });
  }

  async fork(): Promise<number> {
    const { worker, port } = await this.command<{ worker: number; port: number }>('fork');
    this.port = port;
    return worker;
  }

  /** A socket of `query` (v2 when `protocols` says so) and the worker it landed on (from the worker's hello). */
  async connect(query: string, protocols?: string[]): Promise<{ socket: TestSocket; worker: number; welcome?: unknown }> {
    const socket = new TestSocket(`ws://127.0.0.1:${this.port}/api/v1/ws?${query}`, { protocols });
    this.sockets.push(socket);
    // The worker's hello comes on 'ready', before a v2 socket's welcome.
    const hello = await socket.next(5000);
    if (hello.event !== 'hello') throw new Error(`expected a hello, got ${JSON.stringify(hello)}`);
    const worker = (hello.data as { worker: number }).worker;
    if (!protocols) return { socket, worker };
    const welcome = await socket.next(5000);
    if (welcome.event !== 'wshub:welcome') throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
    return { socket, worker, welcome: (welcome.data as { recovery?: unknown }).recovery };
  }

  /** As `connect`, retried until the socket lands on `worker`. */
  async connectOn(worker: number, query: string, protocols?: string[]) {
    for (let attempt = 0; attempt < 12; attempt++) {
      const got = await this.connect(query, protocols);
      if (got.worker === worker) return got;
      got.socket.ws.close();
      await got.socket.waitForClose();
    }
    throw new Error(`no connection landed on worker ${worker}`);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.ws.terminate();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    await exited;
  }
}
