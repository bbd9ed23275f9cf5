import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import type { Connection, PreparedMessage } from '../session/connection.js';
import { sessionOf } from '../session/socket-fields.js';
import { undrainedBytes, writePrepared } from './frame-writer.js';
import { type CloseOptions, Hub, type HubSocket } from '../hub/hub.js';
import type { HubOptions, HubUser } from '../config/options.js';
import { resolveOptions } from '../config/resolve-options.js';
import { SUBPROTOCOL } from '../protocol/protocol.js';

/** A hub socket over `ws`: the `ws` WebSocket with the hub's fields (`@kovalenko/nestjs-websocket`'s `AuthWebSocket`). */
export type WsHubSocket<User = HubUser> = HubSocket<User, WebSocket>;

type AnyServer = HttpServer | HttpsServer;
type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/** One `ws` WebSocket as a hub {@link Connection}, with the heartbeat's view of it. */
class WsConnection implements Connection {
  /** Answered the last ping. */
  alive = true;

  constructor(readonly ws: WebSocket) {}

  get readyState(): number {
    return this.ws.readyState;
  }
  backlog(): number {
    return undrainedBytes(this.ws);
  }
  buffered(): number {
    return this.ws.bufferedAmount;
  }
  write(message: PreparedMessage): void {
    writePrepared(this.ws, message);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
}

/**
 * The hub on `ws`. All rules live in {@link Hub}; this class is the `ws`
 * adapter: the HTTP upgrade (path, pending budget, origin check,
 * subprotocol), the heartbeat, and writing frames built once per message.
 *
 * ```ts
 * const hub = new WsHub({ authenticate: (req) => usersByToken(req) });
 * hub.attach(httpServer);
 * await hub.sendMessage('user-1', 'order-status', { id: 42, status: 'shipped' });
 * ```
 */
export class WsHub<User extends HubUser = HubUser> extends Hub<User, WebSocket> {
  private readonly wss: WebSocketServer;
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(options: HubOptions<User, WsHubSocket<User>>) {
    super(options);
    const { limits, closeTimeoutMs, heartbeatMs } = resolveOptions(options);
    const serverOptions: ServerOptions & { closeTimeout?: number } = {
      noServer: true,
      clientTracking: false,
      // ws accepts 100 MiB frames by default; the hub's limit is far lower.
      maxPayload: limits.maxPayload,
      // ws keeps up to 16,384 unfinished fragments per message by default (~1.6 MB of heap per socket).
      maxFragments: limits.maxFragments,
      // ws reads a socket it closed for 30 s by default, waiting for the peer's close frame
      // (the hub's own timer enforces this on any ws version).
      closeTimeout: closeTimeoutMs,
      perMessageDeflate: false,
      // ws would echo the first offered protocol, which may be a token; pick ours or none.
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    };
    this.wss = new WebSocketServer(serverOptions);
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /**
   * Serves the hub's path on an http(s) server. Upgrades for the path go to
   * the hub alone — even when other `'upgrade'` listeners exist that would
   * destroy sockets for paths they do not know (Nest's WsAdapter, `ws`
   * servers created with `{ server, path }`). Other paths are left to the
   * other listeners; with none, they are refused with 400. After `close()`
   * upgrades for the path are refused with 503.
   */
  attach(server: AnyServer): this {
    const onUpgrade: UpgradeListener = (request, socket, head) => {
      if (this.owns(request)) this.handleUpgrade(request, socket, head);
      else if (server.listenerCount('upgrade') === 1) abortHandshake(socket, 400);
    };
    const emit = server.emit;
    const hub = this;
    // Route our path before any listener sees it; see the doc comment above.
    const patched = function (this: AnyServer, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'upgrade' && hub.owns(args[0] as IncomingMessage)) {
        hub.handleUpgrade(args[0] as IncomingMessage, args[1] as Duplex, args[2] as Buffer);
        return true;
      }
      return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
    } as typeof emit;
    server.emit = patched;
    // Both stay after close(): upgrades for the path are then refused with 503, not left hanging.
    server.on('upgrade', onUpgrade);
    return this;
  }

  /** Whether an upgrade request is for this hub's path. */
  owns(request: IncomingMessage): boolean {
    const url = request.url ?? '';
    const end = url.indexOf('?');
    return (end === -1 ? url : url.slice(0, end)) === this.path;
  }

  /**
   * Completes an upgrade for callers that route upgrades themselves. Refuses
   * with 503 while the hub closes or when `limits.maxPendingSockets`
   * handshakes are pending, checks the origin (403), then accepts the
   * WebSocket and runs `authenticate`.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A reset during the handshake must not become an unhandled 'error'.
    socket.on('error', noop);
    if (!this.acceptsConnections) {
      abortHandshake(socket, 503);
      return;
    }
    if (!this.allowsOrigin(headerValue(request.headers.origin))) {
      abortHandshake(socket, 403);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('error', noop);
      this.connection(ws, request);
    });
  }

  private connection(ws: WebSocket, request: IncomingMessage): void {
    // ws emits 'error' (e.g. a frame over maxPayload) and then 'close'; the close does the bookkeeping.
    ws.on('error', noop);
    this.open({ socket: ws, connection: new WsConnection(ws), request, protocol: ws.protocol });
    // Listeners shared by every socket (no closures per socket): each finds its session on the socket.
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
  }

  /**
   * Pings every socket; one that did not answer the previous ping is
   * terminated. A socket the hub stopped reading (its queue is draining)
   * cannot have read the pong: it is skipped until it is read again.
   */
  private beat(): void {
    for (const session of this.openSessions()) {
      if (session.paused) continue;
      const connection = session.connection as WsConnection;
      if (!connection.alive) {
        connection.terminate();
        continue;
      }
      connection.alive = false;
      try {
        connection.ws.ping();
      } catch {
        connection.terminate();
      }
    }
  }

  /** Stops the heartbeat, then closes the hub (see {@link Hub.close}). */
  override close(options?: CloseOptions): Promise<void> {
    clearInterval(this.heartbeat);
    // noServer + no client tracking: this only marks the ws server closed.
    this.wss.close();
    return super.close(options);
  }
}

function noop(): void {}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  void sessionOf(this).receive(data, isBinary);
}

function onPong(this: WebSocket): void {
  (sessionOf(this).connection as WsConnection).alive = true;
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  sessionOf(this).closed(code, reason.toString());
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Answers an upgrade with a plain HTTP error and closes the connection. */
function abortHandshake(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_TEXT[status] ?? 'Error';
  const retry = status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${body}\r\nConnection: close\r\n${retry}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
