import { CloseReason } from '@wshub/core/protocol';

/** A message as a client parses it: `{ event, data }`. */
export interface ReceivedMessage<D = unknown> {
  event: string;
  data: D;
  /** The message's id, when the hub has receipts on. */
  id?: string;
}

/** How a socket closed, as the client saw it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

export interface NextOptions {
  /**
   * How long to wait for the message, in ms.
   * @default 5000
   */
  timeout?: number;
}

export const DEFAULT_NEXT_TIMEOUT_MS = 5000;

interface Waiter {
  event: string | undefined;
  resolve(message: ReceivedMessage): void;
  reject(error: Error): void;
}

/**
 * The messages one client received, in order, with `next()` taking them one
 * at a time. Shared by `TestClient` (real sockets) and `FakeSocket`, so both
 * wait and fail the same way.
 */
export class MessageQueue {
  /** Everything received, in order, taken or not. */
  readonly messages: ReceivedMessage[] = [];
  private readonly unread: ReceivedMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private closeInfo: CloseInfo | undefined;

  constructor(private readonly owner: string) {}

  push(message: ReceivedMessage): void {
    this.messages.push(message);
    const index = this.waiters.findIndex((w) => w.event === undefined || w.event === message.event);
    if (index === -1) {
      this.unread.push(message);
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    waiter!.resolve(message);
  }

  /** Fails every waiter: nothing more can arrive. */
  close(info: CloseInfo): void {
    this.closeInfo ??= info;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError(waiter.event));
  }

  /** Marks a message as taken without waiting for it (e.g. a watch reply the caller already handled). */
  take(message: ReceivedMessage): void {
    const index = this.unread.indexOf(message);
    if (index !== -1) this.unread.splice(index, 1);
  }

  /**
   * The first message not taken yet (with that `event`, when given). Messages
   * of other events stay unread for later calls.
   */
  next<D = unknown>(event?: string, options: NextOptions = {}): Promise<ReceivedMessage<D>> {
    const index = this.unread.findIndex((m) => event === undefined || m.event === event);
    if (index !== -1) return Promise.resolve(this.unread.splice(index, 1)[0] as ReceivedMessage<D>);
    if (this.closeInfo) return Promise.reject(this.closedError(event));
    const timeout = options.timeout ?? DEFAULT_NEXT_TIMEOUT_MS;
    return new Promise<ReceivedMessage<D>>((resolve, reject) => {
      const waiter: Waiter = {
        event,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as ReceivedMessage<D>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.owner}: no ${describeWanted(event)} within ${timeout} ms; ${this.describeUnread()}`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  private closedError(event: string | undefined): Error {
    const { code, reason } = this.closeInfo!;
    return new Error(
      `${this.owner}: the socket closed with ${describeClose(code, reason)} before ${describeWanted(event)} arrived; ${this.describeUnread()}`,
    );
  }

  private describeUnread(): string {
    if (this.unread.length === 0) {
      return this.messages.length === 0 ? 'nothing arrived' : `nothing unread (${this.messages.length} already taken)`;
    }
    const shown = this.unread.slice(0, 5).map((m) => `${m.event} ${truncate(JSON.stringify(m.data) ?? 'undefined')}`);
    const more = this.unread.length > shown.length ? `, and ${this.unread.length - shown.length} more` : '';
    return `unread: ${shown.join(', ')}${more}`;
  }
}

function describeWanted(event: string | undefined): string {
  return event === undefined ? 'message' : `"${event}" message`;
}

/** `4403 (unauthorized)`: the code with the hub's reason, or the reason the peer gave. */
export function describeClose(code: number, reason: string): string {
  const text = reason || (CloseReason as Record<number, string>)[code];
  return text ? `${code} (${text})` : String(code);
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
