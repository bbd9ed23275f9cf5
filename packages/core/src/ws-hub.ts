import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import { HubError } from './errors.js';
import { type HubCoreSocket, undrainedBytes, writePrepared } from './frame-writer.js';
import { HubCore, type HubSocket, type PreparedMessage } from './hub-core.js';
import type { HubOptions, HubUser } from './options.js';
import { SUBPROTOCOL } from './protocol.js';

/** A hub socket over `ws`: the `ws` WebSocket with the hub's fields (the seed's `AuthWebSocket`). */
export type WsHubSocket<User = HubUser> = HubSocket<User, WebSocket>;

type AnyServer = HttpServer | HttpsServer;
type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/**
 * The WebSocket hub on `ws`. All rules live in {@link HubCore}; this class
 * does what only a real server does: the HTTP upgrade (path, origin check,
 * subprotocol), the heartbeat, and framing messages for the wire.
 *
 * ```ts
 * const hub = new WsHub({ authenticate: (req) => usersByToken(req) });
 * hub.attach(httpServer);
 * await hub.sendMessage('user-1', 'order-status', { id: 42, status: 'shipped' });
 * ```
 */
export class WsHub<User extends HubUser = HubUser> extends HubCore<User, WebSocket> {
  private readonly wss: WebSocketServer;
  private readonly allowOrigin: ((origin: string | undefined) => boolean) | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(options: HubOptions<User, WsHubSocket<User>>) {
    super(options);
    const serverOptions: ServerOptions & { closeTimeout?: number } = {
      noServer: true,
      clientTracking: false,
      // ws accepts 100 MiB frames by default; the hub's limit is far lower.
      maxPayload: this.config.limits.maxPayload,
      // ws keeps up to 16,384 unfinished fragments per message by default (~1.6 MB of heap per socket).
      maxFragments: this.config.limits.maxFragments,
      // ws reads a socket it closed for 30 s by default, waiting for the peer's close frame
      // (the hub's own timer in closeSocket enforces this on any ws version).
      closeTimeout: this.config.closeTimeoutMs,
      perMessageDeflate: false,
      // ws would echo the first offered protocol, which may be a token; pick ours or none.
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    };
    this.wss = new WebSocketServer(serverOptions);
    const origins = options.allowedOrigins;
    if (typeof origins === 'function') this.allowOrigin = origins;
    else if (origins) {
      const list = new Set(origins);
      // Exact match only: no prefix/suffix tricks. Non-browser clients send no Origin.
      this.allowOrigin = (origin) => origin === undefined || list.has(origin);
    }
    if (this.config.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), this.config.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /** The path this hub serves. */
  get path(): string {
    return this.config.path;
  }

  /**
   * Serves the hub's path on an http(s) server. Upgrades for the path go to
   * the hub alone — even when other `'upgrade'` listeners exist that would
   * destroy sockets for paths they do not know (Nest's WsAdapter, `ws`
   * servers created with `{ server, path }`). Other paths are left to the
   * other listeners; with none, they are refused with 400.
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
    return (end === -1 ? url : url.slice(0, end)) === this.config.path;
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
    if (this.isClosing || !this.acceptsPending) {
      abortHandshake(socket, 503);
      return;
    }
    if (this.allowOrigin) {
      let allowed = false;
      try {
        allowed = this.allowOrigin(headerValue(request.headers.origin)) === true;
      } catch (error) {
        this.report(HubError.from('allowedOrigins', error));
      }
      if (!allowed) {
        abortHandshake(socket, 403);
        return;
      }
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('error', noop);
      this.connection(ws, request);
    });
  }

  private connection(ws: WebSocket, request: IncomingMessage): void {
    // ws emits 'error' (e.g. a frame over maxPayload) and then 'close'; the close does the bookkeeping.
    ws.on('error', noop);
    const socket = this.accept(ws, request);
    ws.on('message', (data, isBinary) => {
      void this.receive(socket, data as Buffer, isBinary);
    });
    ws.on('pong', () => this.markAlive(socket, true));
    ws.on('close', (code, reason) => this.closed(socket, code, reason.toString()));
  }

  /**
   * Pings every socket; one that did not answer the previous ping is
   * terminated. A socket the hub stopped reading (its queue is draining)
   * cannot have read the pong: it is skipped until it is read again.
   */
  private beat(): void {
    for (const socket of this.sockets) {
      if (this.isPaused(socket)) continue;
      if (!this.markAlive(socket, false)) {
        socket.terminate();
        continue;
      }
      try {
        socket.ping();
      } catch {
        socket.terminate();
      }
    }
  }

  protected override backlog(socket: WsHubSocket<User>): number {
    return undrainedBytes(socket as HubCoreSocket);
  }

  protected override writeFrame(socket: WsHubSocket<User>, message: PreparedMessage): void {
    writePrepared(socket as HubCoreSocket, message);
  }

  protected override stopTransport(): void {
    clearInterval(this.heartbeat);
    // noServer + no client tracking: this only marks the ws server closed.
    this.wss.close();
  }
}

function noop(): void {}

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
