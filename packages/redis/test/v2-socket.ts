import type { IncomingMessage } from 'node:http';
import { expect } from 'vitest';
import WebSocket from 'ws';

/** `?user=<id>`, or `?json=<id as JSON>` for ids a URL cannot carry (lone surrogates). */
export function authenticate(req: IncomingMessage) {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const json = params.get('json');
  const id: string = json !== null ? JSON.parse(json) : (params.get('user') ?? 'anonymous');
  return { id, deviceFingerprint: params.get('device') ?? 'd1' };
}

export interface Frame {
  event: string;
  data: any;
  scope?: string | true;
  offset?: number;
}

/** A protocol v2 socket with a queue of what arrived. */
export class V2Socket {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  welcome: { epoch: string; offset: number } | undefined;
  private ids = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(port: number, query: string): Promise<V2Socket> {
    const socket = new V2Socket(new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?${query}`, ['wshub']));
    const welcome = await socket.next();
    expect(welcome.event).toBe('wshub:welcome');
    socket.welcome = welcome.data.recovery;
    return socket;
  }

  async next(timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame within 5 s');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames.shift()!;
  }

  /** Application messages, `count` of them. */
  async take(count: number): Promise<Frame[]> {
    const out: Frame[] = [];
    while (out.length < count) {
      const f = await this.next();
      if (!f.event.startsWith('wshub:')) out.push(f);
    }
    return out;
  }

  async resume(position: unknown): Promise<{ replay: Frame[]; ack: any }> {
    const id = ++this.ids;
    this.ws.send(JSON.stringify({ event: 'wshub:resume', id, data: position }));
    const replay: Frame[] = [];
    for (;;) {
      const f = await this.next();
      if (f.event === 'wshub:ack' && f.data.id === id) return { replay, ack: f.data };
      replay.push(f);
    }
  }

  close(): void {
    this.ws.terminate();
  }
}
