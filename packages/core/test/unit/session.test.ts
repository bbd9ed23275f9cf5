import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS, type HubLimits } from '../../src/index.js';
import { CloseCode, QUEUE_LIMIT_REASON, QUEUE_TIMEOUT_REASON, RATE_LIMIT_REASON } from '../../src/protocol/protocol.js';
import { WatchRegistry } from '../../src/routing/watch-registry.js';
import { DeadlineQueue } from '../../src/util/deadline-queue.js';
import { type SessionHost, SocketSession } from '../../src/session/socket-session.js';
import { MemoryConnection } from '../support/memory.js';

interface TestUser {
  id: string;
  deviceFingerprint: string;
}

/** A session on a {@link MemoryConnection} whose host records what reaches it; `handle` answers each frame. */
function session(
  limits: Partial<HubLimits> = {},
  handle: (text: string) => Promise<void> | undefined = () => undefined,
  v2 = false,
  connection = new MemoryConnection(),
) {
  const handled: string[] = [];
  const ended: Array<{ code: number; reason: string }> = [];
  let pending = 1;
  const deadlines = new DeadlineQueue();
  const host: SessionHost<TestUser, object> = {
    limits: { ...DEFAULT_LIMITS, ...limits },
    closeTimeoutMs: 2000,
    pauseTimeoutMs: 60_000,
    deadlines,
    countIn: () => {},
    handleFrame: (_session, text) => {
      handled.push(text);
      return handle(text);
    },
    leftPending: () => {
      pending--;
    },
    ended: (_session, code, reason) => ended.push({ code, reason }),
  };
  const s = new SocketSession<TestUser, object>({ host, socket: {}, connection, v2 });
  connection.session = s;
  return { s, connection, handled, ended, deadlines, pending: () => pending };
}

const user = { id: 'u1', deviceFingerprint: 'd1' };

/** `admit` narrows the session it is called on, which needs a name declared with its type. */
function admit(s: SocketSession<TestUser, object>): void {
  s.admit(user);
}
const frame = (event: string) => JSON.stringify({ event });

afterEach(() => {
  vi.useRealTimers();
});

describe('SocketSession: before authorization', () => {
  it('keeps frames and hands them over in order once admitted and flushed', async () => {
    const { s, handled, pending } = session();
    void s.receive(frame('a'), false);
    void s.receive(frame('b'), false);
    expect(handled).toEqual([]);
    admit(s);
    expect(pending()).toBe(0);
    expect(s.userId).toBe('u1');
    expect(await s.isAuthorized).toBe(true);
    s.flushPending();
    expect(handled).toEqual([frame('a'), frame('b')]);
  });

  it('closes with 4429 past maxPendingMessages; watch frames have their own budget', () => {
    const { s, connection } = session({ maxPendingMessages: 2, maxWatchesPerSocket: 1 });
    const watch = JSON.stringify({ event: 'watch', data: { event: 'e' } });
    void s.receive(watch, false);
    void s.receive(watch, false);
    void s.receive(frame('a'), false);
    void s.receive(frame('b'), false);
    expect(connection.closedWith).toBeUndefined();
    void s.receive(frame('c'), false);
    expect(connection.closedWith?.code).toBe(CloseCode.TooManyRequests);
  });

  it('closes with 4429 past maxPendingBytes', () => {
    const { s, connection } = session({ maxPendingBytes: 100 });
    void s.receive(JSON.stringify({ event: 'x', data: 'y'.repeat(60) }), false);
    expect(connection.closedWith).toBeUndefined();
    void s.receive(JSON.stringify({ event: 'x', data: 'y'.repeat(60) }), false);
    expect(connection.closedWith?.code).toBe(CloseCode.TooManyRequests);
  });

  it('refuses a binary frame (1003) and one over maxPayload (1009)', () => {
    const a = session();
    void a.s.receive(Buffer.from(frame('a')), true);
    expect(a.connection.closedWith?.code).toBe(CloseCode.UnsupportedData);
    const b = session({ maxPayload: 10 });
    void b.s.receive(frame('longer-than-ten'), false);
    expect(b.connection.closedWith?.code).toBe(CloseCode.MessageTooBig);
  });

  it('resolves isAuthorized false when closed before admission, and reports the chosen code', async () => {
    const { s, ended } = session();
    s.close(CloseCode.AuthTimeout);
    expect(await s.isAuthorized).toBe(false);
    expect(s.phase).toBe('closed');
    expect(ended).toEqual([{ code: CloseCode.AuthTimeout, reason: expect.any(String) }]);
  });
});

describe('SocketSession: after authorization', () => {
  it('runs frames strictly in order behind an async one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { s, handled } = session({}, (text) => (text === frame('slow') ? gate : undefined));
    admit(s);
    void s.receive(frame('slow'), false);
    const last = s.receive(frame('next'), false);
    await Promise.resolve();
    expect(handled).toEqual([frame('slow')]);
    release();
    await last;
    expect(handled).toEqual([frame('slow'), frame('next')]);
  });

  it('pauses reads past maxQueuedMessages and resumes at half; past four times it closes with 4429', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { s, connection } = session({ maxQueuedMessages: 2 }, (text) => (text === frame('slow') ? gate : undefined));
    admit(s);
    void s.receive(frame('slow'), false);
    for (let i = 0; i < 3; i++) void s.receive(frame('q'), false);
    expect(connection.paused).toBe(true);
    expect(s.paused).toBe(true);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.paused).toBe(false);

    const stuck = session({ maxQueuedMessages: 2 }, () => new Promise<void>(() => {}));
    admit(stuck.s);
    for (let i = 0; i < 10; i++) void stuck.s.receive(frame('q'), false);
    expect(stuck.connection.closedWith).toEqual({ code: CloseCode.TooManyRequests, reason: QUEUE_LIMIT_REASON });
  });

  it('closes with 4429 "message rate exceeded" once the burst is spent', () => {
    const { s, connection, handled } = session({ messageRate: 1, messageBurst: 3 });
    admit(s);
    for (let i = 0; i < 4; i++) void s.receive(frame('x'), false);
    expect(handled).toHaveLength(3);
    expect(connection.closedWith).toEqual({ code: CloseCode.TooManyRequests, reason: RATE_LIMIT_REASON });
  });

  it('owns its user: replaceUser changes what the socket shows, takeResume is once', () => {
    const { s } = session();
    admit(s);
    expect(s.socket.user).toBe(user);
    const next = { ...user, name: 'new' };
    s.replaceUser(next);
    expect(s.socket.user).toBe(next);
    expect(s.socket.roomId).toBe('u1');
    expect(s.resumed).toBe(false);
    s.takeResume();
    expect(s.resumed).toBe(true);
  });

  it('cutOff terminates without a close frame and reports 4008', () => {
    const { s, connection, ended } = session();
    admit(s);
    s.cutOff();
    expect(connection.terminated).toBe(true);
    expect(connection.closedWith).toBeUndefined();
    expect(s.closeInfo(1006, '')).toEqual({ code: CloseCode.SlowConsumer, reason: expect.any(String) });
    expect(ended).toHaveLength(1);
  });
});

describe('SocketSession: expiry', () => {
  it('calls the notice ahead and closes with 4401 at expiresAt; a new schedule replaces the old', () => {
    vi.useFakeTimers();
    const { s, connection } = session();
    admit(s);
    const notice = vi.fn();
    s.expireAt(Date.now() + 10_000, 3_000, notice);
    vi.advanceTimersByTime(7_000);
    expect(notice).toHaveBeenCalledTimes(1);
    s.expireAt(Date.now() + 10_000, 3_000, undefined);
    vi.advanceTimersByTime(9_999);
    expect(connection.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(connection.closedWith?.code).toBe(CloseCode.SessionExpired);
  });

  it('holds one entry of the host\'s deadline queue for the notice and the expiry; a close takes it out', () => {
    vi.useFakeTimers();
    const { s, connection, deadlines } = session();
    admit(s);
    const notice = vi.fn();
    s.expireAt(Date.now() + 10_000, 3_000, notice);
    s.expireAt(Date.now() + 20_000, 3_000, notice);
    expect(deadlines.size).toBe(1);
    vi.advanceTimersByTime(17_000);
    expect(notice).toHaveBeenCalledTimes(1);
    expect(deadlines.size).toBe(1);
    s.close(CloseCode.DisconnectedByServer);
    expect(deadlines.size).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(connection.closedWith?.code).toBe(CloseCode.DisconnectedByServer);
  });

  it('a notice due with the expiry is not sent: the close comes first', () => {
    vi.useFakeTimers();
    const { s, connection } = session();
    admit(s);
    const notice = vi.fn();
    s.expireAt(Date.now() + 1_000, 0, notice);
    vi.advanceTimersByTime(1_000);
    expect(connection.closedWith?.code).toBe(CloseCode.SessionExpired);
    expect(notice).not.toHaveBeenCalled();
  });

  it('closes at once when expiresAt has passed; undefined clears the schedule', () => {
    vi.useFakeTimers();
    const a = session();
    admit(a.s);
    a.s.expireAt(Date.now() - 1, 1000, undefined);
    expect(a.connection.closedWith?.code).toBe(CloseCode.SessionExpired);
    const b = session();
    admit(b.s);
    b.s.expireAt(Date.now() + 1000, 100, undefined);
    b.s.expireAt(undefined, 100, undefined);
    vi.advanceTimersByTime(5000);
    expect(b.connection.closedWith).toBeUndefined();
  });
});

/** A transport whose peer never answers a close frame: the close is not reported until the connection is terminated. */
class UnansweredConnection extends MemoryConnection {
  override close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }
}

describe('SocketSession: the close and pause clocks, in the host\'s deadline queue', () => {
  it('a peer that never answers the close frame is terminated closeTimeoutMs later; a close reported in time takes the entry out', () => {
    vi.useFakeTimers();
    const a = session({}, undefined, false, new UnansweredConnection());
    admit(a.s);
    a.s.close(CloseCode.DisconnectedByServer);
    a.s.close(CloseCode.DisconnectedByServer);
    expect(a.deadlines.size).toBe(1);
    vi.advanceTimersByTime(1999);
    expect(a.connection.terminated).toBe(false);
    vi.advanceTimersByTime(1);
    expect(a.connection.terminated).toBe(true);
    expect(a.ended).toEqual([{ code: 1006, reason: '' }]);
    expect(a.s.closeInfo(1006, '').code).toBe(CloseCode.DisconnectedByServer);
    expect(a.deadlines.size).toBe(0);

    const b = session({}, undefined, false, new UnansweredConnection());
    admit(b.s);
    b.s.close(CloseCode.DisconnectedByServer);
    vi.advanceTimersByTime(1000);
    // The peer answered: the transport reports the close.
    b.s.closed(CloseCode.DisconnectedByServer, '');
    expect(b.deadlines.size).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(b.connection.terminated).toBe(false);
  });

  it('reads paused for pauseTimeoutMs close with 4429 "queued messages not handled in time"; a resume in time takes the entry out', async () => {
    vi.useFakeTimers();
    const stuck = session({ maxQueuedMessages: 2 }, () => new Promise<void>(() => {}));
    admit(stuck.s);
    for (let i = 0; i < 4; i++) void stuck.s.receive(frame('q'), false);
    expect(stuck.connection.paused).toBe(true);
    expect(stuck.deadlines.size).toBe(1);
    vi.advanceTimersByTime(59_999);
    expect(stuck.connection.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(stuck.connection.closedWith).toEqual({ code: CloseCode.TooManyRequests, reason: QUEUE_TIMEOUT_REASON });
    expect(stuck.deadlines.size).toBe(0);

    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = session({ maxQueuedMessages: 2 }, (text) => (text === frame('slow') ? gate : undefined));
    admit(slow.s);
    void slow.s.receive(frame('slow'), false);
    for (let i = 0; i < 3; i++) void slow.s.receive(frame('q'), false);
    expect(slow.deadlines.size).toBe(1);
    vi.advanceTimersByTime(30_000);
    release();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(slow.connection.paused).toBe(false);
    expect(slow.deadlines.size).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(slow.connection.closedWith).toBeUndefined();
  });
});

describe('SocketSession: what an idle session holds', () => {
  /** The session's lazily made parts, read as the hub's own code would not: to see that an idle one has none. */
  const parts = (s: SocketSession<TestUser, object>) =>
    s as unknown as { pending?: object; input?: object; authorized?: object; watches?: Map<string, unknown> };

  it('makes no frame buffer, rate bucket, input queue, watch map or isAuthorized promise until first needed', async () => {
    const { s } = session();
    admit(s);
    s.flushPending();
    expect(parts(s).pending).toBeUndefined();
    expect(parts(s).input).toBeUndefined();
    expect(parts(s).watches).toBeUndefined();
    expect(parts(s).authorized).toBeUndefined();
    expect(s.watching.size).toBe(0);
    expect(s.paused).toBe(false);
    // Asked once admitted, isAuthorized is a shared settled promise: nothing is kept for it.
    expect(await s.isAuthorized).toBe(true);
    expect(await (s.socket as { isAuthorized: Promise<boolean> }).isAuthorized).toBe(true);
    expect(parts(s).authorized).toBeUndefined();

    void s.receive(frame('a'), false);
    expect(parts(s).input).toBeDefined();
    new WatchRegistry<SocketSession<TestUser, object>>().add(s, 'e', null);
    expect(parts(s).watches).toBeInstanceOf(Map);
    expect([...s.watching]).toEqual([['e', new Set([null])]]);
  });

  it('makes the frame buffer on the first frame before authorization, and the promise when asked then', async () => {
    const { s } = session();
    expect(parts(s).pending).toBeUndefined();
    const authorized = s.isAuthorized;
    expect(parts(s).authorized).toBe(authorized);
    void s.receive(frame('a'), false);
    expect(parts(s).pending).toBeDefined();
    admit(s);
    expect(await authorized).toBe(true);
    s.flushPending();
    expect(parts(s).pending).toBeUndefined();
    expect(parts(s).input).toBeDefined();
  });

  it('counts the rate limit from admission, not from the first frame', () => {
    vi.useFakeTimers();
    const { s, connection, handled } = session({ messageRate: 1, messageBurst: 1 });
    admit(s);
    vi.advanceTimersByTime(5000);
    // The burst is spent by the first frame; the 5 s since admission refill it for the second.
    void s.receive(frame('a'), false);
    void s.receive(frame('b'), false);
    expect(handled).toEqual([frame('a'), frame('b')]);
    void s.receive(frame('c'), false);
    expect(connection.closedWith).toEqual({ code: CloseCode.TooManyRequests, reason: RATE_LIMIT_REASON });
  });
});

describe('SocketSession: a close that waits (closeWhen)', () => {
  it('takes no input and stays open until the promise settles, then closes with its code', async () => {
    const { s, connection, handled } = session({}, () => undefined, true);
    admit(s);
    s.flushPending();
    let settle!: () => void;
    s.closeWhen(CloseCode.ServiceRestart, new Promise<void>((resolve) => (settle = resolve)));
    expect(s.held).toBe(true);
    expect(s.open).toBe(false);
    void s.receive(frame('a'), false);
    await Promise.resolve();
    expect(handled).toEqual([]);
    expect(connection.closedWith).toBeUndefined();
    settle();
    await vi.waitFor(() => expect(connection.closedWith?.code).toBe(CloseCode.ServiceRestart));
  });

  it('closes as well when the promise rejects', async () => {
    const { s, connection } = session({}, () => undefined, true);
    admit(s);
    s.closeWhen(CloseCode.ServiceRestart, Promise.reject(new Error('gone')));
    await vi.waitFor(() => expect(connection.closedWith?.code).toBe(CloseCode.ServiceRestart));
  });
});
