import { type Ack, parsePosition, type Position, RESUME } from '@wshub/core/protocol';
import { type IncomingFrame, isObject } from './incoming.js';

/** Hands one message (or a `'recovered'`) to the app; `id` is the message's, with receipts on. */
export type Emit = (event: string, data: unknown, id?: string) => void;

/**
 * Message recovery for one client: where it stands in the server's history
 * (the epoch and the last offset handled), the resume a new connection
 * sends, and the messages held while that resume is answered. Messages
 * reach the app through `emit`, each once, in the order the protocol gives.
 */
export class Recovery {
  readonly #enabled: boolean;
  readonly #emit: Emit;
  readonly #report: (error: Error) => void;
  /** Where this client stands in the server's history (the last offset handled). */
  #position: Position | undefined;
  /**
   * A server with recovery gave this client no usable position (empty or
   * invalid) or refused its resume: what it misses before the next welcome
   * cannot be replayed, so that welcome says `recovered: false`.
   */
  #positionLost = false;
  /** While a resume is answered: its id, and what arrived meanwhile (handed out when the answer comes). */
  #resuming: { id: number; held: IncomingFrame[] } | undefined;
  /** While a message's handlers run: the scope it was sent for (a shared connection routes by it). */
  #scope: string | true | undefined;

  constructor(enabled: boolean, emit: Emit, report: (error: Error) => void) {
    this.#enabled = enabled;
    this.#emit = emit;
    this.#report = report;
  }

  /** The scope of the message whose handlers are running, `undefined` for one to the whole user or outside them. */
  get scope(): string | true | undefined {
    return this.#scope;
  }

  get position(): Position | undefined {
    return this.#position && { ...this.#position };
  }

  set position(position: Position | undefined) {
    this.#position = position && { ...position };
  }

  /** The server's welcome (protocol v2): with recovery, the position to start from, unless a resume is under way. */
  onWelcome(data: unknown): void {
    if (this.#resuming) return;
    if (!this.#enabled) {
      this.#position = undefined;
      return;
    }
    const offered = isObject(data) && data.recovery !== undefined;
    const position = offered ? parsePosition(data.recovery) : undefined;
    const lost = this.#positionLost && offered;
    this.#position = position;
    // An empty epoch (a server that does not know its history's yet) is no position: never sent back in a resume.
    this.#positionLost = offered && !position;
    if (lost) this.#emit('recovered', { recovered: false, missed: 0 });
  }

  /** A new connection, its watches sent: the resume frame to send with request `id`, if there is a position. */
  resume(id: number): string | undefined {
    if (!this.#enabled || !this.#position) return undefined;
    this.#resuming = { id, held: [] };
    return JSON.stringify({ event: RESUME, id, data: this.#position });
  }

  /** An app message: handed out now, or held while a resume is answered. */
  receive(message: IncomingFrame): void {
    if (this.#resuming) this.#resuming.held.push(message);
    else this.#deliver(message);
  }

  /** The server's answer to a resume; one that answers no resume under way is ignored. */
  onAck(ack: Ack): void {
    if (this.#resuming?.id === ack.id) this.#onResumed(ack);
  }

  /** The connection closed: held messages were not handled and the position did not move, so the next resume brings them again. */
  connectionLost(): void {
    this.#resuming = undefined;
  }

  /** Hands a message to its handlers once: an offset already handled (seen again in a replay) is dropped. */
  #deliver(message: IncomingFrame): void {
    const { offset } = message;
    if (offset !== undefined && this.#position) {
      if (offset <= this.#position.offset) return;
      this.#position.offset = offset;
    }
    this.#hand(message);
  }

  /** Hands a message to its handlers (with its id, to confirm), its scope readable meanwhile. */
  #hand(message: IncomingFrame): void {
    this.#scope = message.scope;
    try {
      this.#emit(message.event, message.data, message.id);
    } finally {
      this.#scope = undefined;
    }
  }

  /**
   * The answer to a resume. Everything that arrived while it was pending
   * goes out now in offset order: the replay (up to the answer's offset),
   * then `'recovered'`, then newer messages. A `failed` answer replayed
   * nothing: what arrived meanwhile goes out in the order it came, then
   * `'recovered'`, so every gap before the answer lies before the event —
   * the point from which a refetched state is newer than any message.
   */
  #onResumed(ack: Ack): void {
    const held = this.#resuming?.held ?? [];
    this.#resuming = undefined;
    const numbered = held.filter((m) => m.offset !== undefined).sort((a, b) => a.offset! - b.offset!);
    const other = held.filter((m) => m.offset === undefined);
    if (ack.status !== 'recovered' && ack.status !== 'failed') {
      // No recovery on this server (or a refused position): nothing to resume from, and what was missed is gone.
      this.#position = undefined;
      this.#positionLost = false;
      if (ack.status === 'invalid') this.#report(new Error(`wshub client: the server refused the resume: ${ack.message ?? 'invalid'}`));
      // As after a failed resume: what came before the answer first, then the report.
      for (const m of held) this.#hand(m);
      this.#emit('recovered', { recovered: false, missed: 0 });
      return;
    }
    if (ack.status === 'failed') {
      // Live messages that came before the answer (some without offsets, some
      // the server filtered out before this socket's watches were in place)
      // are part of what the failure reports. Their offsets belong to the
      // answer's epoch, not the old position's: handed out as they came.
      let last = typeof ack.offset === 'number' ? ack.offset : 0;
      for (const m of held) {
        if (m.offset !== undefined) last = Math.max(last, m.offset);
        this.#hand(m);
      }
      // An empty or invalid position is none: kept, it would make the next resume fail as "invalid".
      const next = parsePosition({ epoch: ack.epoch, offset: ack.offset });
      this.#position = next && { epoch: next.epoch, offset: Math.max(next.offset, last) };
      this.#positionLost = next === undefined;
      this.#emit('recovered', { recovered: false, missed: ack.missed ?? 0 });
      return;
    }
    const upTo = typeof ack.offset === 'number' ? ack.offset : Number.POSITIVE_INFINITY;
    for (const m of numbered) if (m.offset! <= upTo) this.#deliver(m);
    const next = parsePosition({ epoch: ack.epoch, offset: ack.offset });
    this.#position = next && { epoch: next.epoch, offset: Math.max(next.offset, this.#position?.offset ?? 0) };
    this.#positionLost = next === undefined;
    this.#emit('recovered', { recovered: true, missed: ack.missed ?? 0 });
    for (const m of numbered) if (m.offset! > upTo) this.#deliver(m);
    for (const m of other) this.#hand(m);
  }
}
