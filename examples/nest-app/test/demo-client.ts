import { WebSocket } from 'ws';

export interface Message {
  event: string;
  data: any;
}

/** A `ws` client that queues what it receives: `next()` takes messages in order. */
export class DemoClient {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;
  private readonly queue: Message[] = [];
  private readonly waiting: Array<(message: Message) => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error(`${url} closed before it opened`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
    this.ws.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as Message;
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.queue.push(message);
    });
  }

  send(event: string, data?: unknown): void {
    this.ws.send(JSON.stringify({ event, data }));
  }

  next(timeoutMs = 5000): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const done = (message: Message) => {
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(done), 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push(done);
    });
  }

  /** Resolves once the server has handled every frame sent before (it answers `ping` in order). */
  async synced(marker: string): Promise<void> {
    this.send('ping', marker);
    const reply = await this.next();
    if (reply.event !== 'pong' || reply.data !== marker) throw new Error(`expected pong ${marker}, got ${JSON.stringify(reply)}`);
  }
}
