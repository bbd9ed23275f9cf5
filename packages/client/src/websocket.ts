/**
 * The part of the WHATWG `WebSocket` the client uses. The browser's
 * `WebSocket` and the `ws` package's `WebSocket` both fit, so Node users pass
 * `ws` and browser bundles never reference it.
 */

/** `readyState` of an open socket, the same in browsers and in `ws`. */
export const OPEN = 1;

/** The events the client reads, reduced to the fields it uses. */
export interface SocketCloseEvent {
  code: number;
  reason: string;
}
export interface SocketMessageEvent {
  data: unknown;
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // The handlers take `any`: the browser's and `ws`'s event classes differ,
  // and a narrower type here would reject one of them.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

/** A `WebSocket` class: the browser's global, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The global `WebSocket` (browsers, Node >= 22), if there is one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === 'function' ? (candidate as WebSocketConstructor) : undefined;
}

/** Closes `socket` with 1000, its handlers detached; resolves once it has closed. */
export function closeSocket(socket: WebSocketLike): Promise<void> {
  return new Promise((resolve) => {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onerror = () => {};
    socket.onclose = () => resolve();
    // 3 = CLOSED: the close event has already fired.
    if (socket.readyState === 3) resolve();
    else socket.close(1000, 'client closed');
  });
}
