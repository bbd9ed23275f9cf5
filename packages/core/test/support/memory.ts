import type { IncomingMessage } from 'node:http';
import { type Connection, Hub, type HubOptions, type HubSocket, type PreparedMessage, type Session } from '../../src/index.js';
import { SUBPROTOCOL } from '../../src/protocol/protocol.js';
import type { User } from '../helpers.js';

const OPEN = 1;
const CLOSED = 3;
/** What a transport reports when a connection drops without a close frame. */
const ABNORMAL = 1006;

/** A frame the hub wrote, parsed. */
export interface Written {
  event: string;
  data?: unknown;
  offset?: number;
}

/**
 * A {@link Connection} in memory, for unit tests of core's parts: it keeps
 * what the hub writes, and reports a close to the session at once, as an
 * in-memory transport may. No socket, no port, no timer of its own.
 */
export class MemoryConnection implements Connection {
  readyState = OPEN;
  /** What `backlog()` answers: set it to make the hub see a slow reader. */
  queued = 0;
  readonly written: Written[] = [];
  /** The close the hub asked for, if any. */
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  paused = false;
  session: Session | undefined;

  backlog(): number {
    return this.queued;
  }

  write(message: PreparedMessage): void {
    this.written.push(JSON.parse(message.text) as Written);
  }

  close(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.closedWith = { code, reason };
    this.readyState = CLOSED;
    this.session?.closed(code, reason);
  }

  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.terminated = true;
    this.readyState = CLOSED;
    this.session?.closed(ABNORMAL, '');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** The events written so far, in order. */
  events(): string[] {
    return this.written.map((frame) => frame.event);
  }
}

/** One client of a {@link MemoryHub}: the app's socket, the session the transport talks to, and the connection. */
export interface MemoryClient {
  socket: HubSocket<User, object>;
  session: Session;
  connection: MemoryConnection;
  /** Sends a frame as the client would: an object is JSON-encoded, a string goes as it is. */
  send(frame: unknown): Promise<void>;
}

/** Users from `?user=<id>&device=<fp>&expires=<ms>`; no user, or `user=bad`, is refused. */
function userOf(request: IncomingMessage): User & { expiresAt?: number } {
  const query = new URL(request.url ?? '/', 'http://memory').searchParams;
  const id = query.get('user');
  if (!id || id === 'bad') throw new Error('refused');
  const expires = query.get('expires');
  return {
    id,
    deviceFingerprint: query.get('device') ?? 'device-1',
    ...(expires ? { expiresAt: Number(expires) } : {}),
  };
}

/** A core `Hub` behind {@link MemoryConnection}s: `connect(query)` opens a session without a network. */
export class MemoryHub extends Hub<User, object> {
  constructor(options: Partial<HubOptions<User, HubSocket<User, object>>> = {}) {
    super({ authenticate: userOf, ...options });
  }

  /** Opens a session as a transport would; `v2` offers the `wshub` subprotocol. */
  start(query: string, v2 = false): MemoryClient {
    const connection = new MemoryConnection();
    const socket = {};
    const request = { url: `/ws?${query}`, headers: {} } as IncomingMessage;
    const session = this.open({ socket, connection, request, protocol: v2 ? SUBPROTOCOL : '' });
    connection.session = session;
    return {
      socket: socket as HubSocket<User, object>,
      session,
      connection,
      send: (frame) => session.receive(typeof frame === 'string' ? frame : JSON.stringify(frame), false),
    };
  }

  /** Opens a session and waits until it is admitted (`'ready'`). */
  async connect(query: string, v2 = false): Promise<MemoryClient> {
    const client = this.start(query, v2);
    if (!(await client.socket.isAuthorized)) throw new Error(`not admitted: ${query}`);
    return client;
  }
}
