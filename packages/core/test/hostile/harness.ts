import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./hub-process.mjs', import.meta.url));
// WSHUB_CORE_DIST runs the attacks against another build of the package (e.g. an older one).
const dist = process.env.WSHUB_CORE_DIST ?? fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** The old space the hub process may use: attacks that used to take gigabytes must fit. */
export const HEAP_LIMIT_MB = 256;

export interface Scenario {
  options?: Record<string, unknown>;
  canWatchMs?: number | 'never';
  throwingDisconnectHandler?: boolean;
}

export interface Memory {
  heapUsed: number;
  arrayBuffers: number;
  rss: number;
}

/** A `WsHub` in a child process with a small heap, driven over IPC. */
export class HubProcess {
  readonly child: ChildProcess;
  port = 0;
  exit: { code: number | null; signal: string | null } | undefined;
  stderr = '';
  private nextId = 0;
  private readonly replies = new Map<number, (message: { result?: unknown; error?: string }) => void>();

  private constructor(scenario: Scenario) {
    if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `npm run build` first');
    this.child = fork(script, [], {
      execArgv: [`--max-old-space-size=${HEAP_LIMIT_MB}`, '--expose-gc'],
      env: { ...process.env, WSHUB_SCENARIO: JSON.stringify(scenario) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      for (const reply of this.replies.values()) reply({ error: `hub process exited (${code ?? signal}): ${this.stderr}` });
      this.replies.clear();
    });
    this.child.on('message', (message: { type: string; id?: number; port?: number; result?: unknown; error?: string }) => {
      if (message.type === 'reply' && message.id !== undefined) {
        this.replies.get(message.id)?.(message);
        this.replies.delete(message.id);
      }
    });
  }

  static async start(scenario: Scenario = {}): Promise<HubProcess> {
    const hub = new HubProcess(scenario);
    hub.port = await new Promise<number>((resolve, reject) => {
      hub.child.on('message', (m: { type: string; port?: number }) => {
        if (m.type === 'listening') resolve(m.port!);
      });
      hub.child.once('exit', () => reject(new Error(`hub process exited before listening: ${hub.stderr}`)));
    });
    return hub;
  }

  url(query: string): string {
    return `ws://127.0.0.1:${this.port}/api/v1/ws?${query}`;
  }

  call<R = unknown>(command: string, args?: Record<string, unknown>): Promise<R> {
    if (this.exit) return Promise.reject(new Error(`hub process is gone (${this.exit.code ?? this.exit.signal}): ${this.stderr}`));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.replies.set(id, (message) => (message.error ? reject(new Error(message.error)) : resolve(message.result as R)));
      this.child.send({ id, command, args });
    });
  }

  /** Heap + ArrayBuffers after two full GCs, in MiB. */
  async retainedMb(): Promise<number> {
    const m = await this.call<Memory>('memory');
    return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
  }

  get alive(): boolean {
    return this.exit === undefined && this.child.exitCode === null;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/**
 * A WebSocket client written on a bare TCP socket, so a test can send what
 * no well-behaved library sends: unfinished fragments, invalid UTF-8, bad
 * opcodes, frames it never stops sending, a close frame it never answers.
 * It reads the server's frames to learn the close code.
 */
export class RawClient {
  status = 0;
  closeCode: number | undefined;
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number | undefined; afterMs: number }>;
  private readonly mask = randomBytes(4);
  private buffer = Buffer.alloc(0);
  private upgraded = false;
  private closeSeenAt = 0;

  private constructor(readonly socket: Socket) {
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.once('close', () =>
        resolve({ code: this.closeCode, afterMs: this.closeSeenAt ? Date.now() - this.closeSeenAt : 0 }),
      );
    });
  }

  /** Opens the TCP connection and sends the upgrade; resolves with the HTTP status (101, 503…). `protocol` 'wshub' speaks v2. */
  static async open(port: number, query: string, path = '/api/v1/ws', protocol?: string): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    const client = new RawClient(socket);
    socket.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET ${path}?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
        '\r\n',
    );
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        client.buffer = Buffer.concat([client.buffer, chunk]);
        if (!client.upgraded) {
          const end = client.buffer.indexOf('\r\n\r\n');
          if (end === -1) return;
          client.status = Number(client.buffer.subarray(9, 12).toString());
          client.upgraded = client.status === 101;
          client.buffer = client.buffer.subarray(end + 4);
          resolve();
        }
        client.parse();
      };
      socket.on('data', onData);
      socket.once('close', () => resolve());
    });
    return client;
  }

  /** A masked client frame. */
  frame(opcode: number, payload: Buffer | string, fin = true): Buffer {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const length = data.length;
    const offset = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = Buffer.alloc(offset + 4 + length);
    frame[0] = (fin ? 0x80 : 0) | opcode;
    if (offset === 2) frame[1] = 0x80 | length;
    else if (offset === 4) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    this.mask.copy(frame, offset);
    for (let i = 0; i < length; i++) frame[offset + 4 + i] = data[i]! ^ this.mask[i & 3]!;
    return frame;
  }

  text(payload: string | Buffer): Buffer {
    return this.frame(0x1, payload);
  }

  /** Writes unless the socket's own buffer is full; false when it is (the peer stopped reading). */
  write(data: Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  /** The first message received (or already there) that `match` accepts; rejects after `ms`. */
  async nextMatching(match: (message: { event?: string; data?: any }) => boolean, ms = 3000): Promise<{ event?: string; data?: any }> {
    const until = Date.now() + ms;
    for (let seen = 0; ; ) {
      for (; seen < this.messages.length; seen++) {
        const message = JSON.parse(this.messages[seen]!);
        if (match(message)) return message;
      }
      if (Date.now() > until) throw new Error(`no matching message within ${ms} ms; got ${this.messages.length}`);
      await pace(10);
    }
  }

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  private parse(): void {
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 0x8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeSeenAt = Date.now();
        // Never answered: a hostile peer keeps the connection open.
      } else if (opcode === 0x1) {
        this.messages.push(payload.toString());
      }
    }
  }
}

/** Resolves after `ms`; only for pacing an attack, never to wait for an outcome. */
export const pace = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
