import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { Envelope } from '../brokers/broker.js';
import type { RecordedMessage } from '../brokers/history.js';
import { optionError } from '../protocol/protocol.js';
import { TRACEPARENT } from '../protocol/traceparent.js';

/** How a span names the user a call was for: user ids may be personal data. */
export type TraceUserIds = 'omit' | 'hash' | 'include';

/** The hub's `tracing` option. */
export interface TracingOptions {
  /**
   * `'omit'`: no user attribute; `'hash'`: `user.hash`, the SHA-256 of the
   * id in hex (a pseudonym: guessable ids can be found by hashing guesses);
   * `'include'`: `user.id`, the id as it is.
   * @default 'omit'
   */
  userIds?: TraceUserIds;
}

/** Which hub call a `wshub.send` span is for. */
export type SendOperation = 'sendMessage' | 'push' | 'disconnect' | 'updateUser';

/** What a `wshub.send` span says about its call. */
export interface SendFacts {
  event?: string;
  userId?: string;
  messageId?: string;
  /** A W3C `traceparent` (checked by the caller) the span links to: the outbox row's transaction. */
  link?: string;
  /**
   * True when this node's sockets are written before the call's first
   * await, so the writes counted then are the sockets it reached here.
   */
  countSockets: boolean;
}

const USER_IDS: readonly TraceUserIds[] = ['omit', 'hash', 'include'];
/** How many users' hashes a hub keeps (`tracing.userIds: 'hash'`). */
const HASHES_KEPT = 1024;
const OPERATIONS: readonly SendOperation[] = ['sendMessage', 'push', 'disconnect', 'updateUser'];

/** The attributes every `wshub.send` / `wshub.deliver` of an operation starts with, made once (not per call). */
function spanAttributes(operation: string, type: string): Readonly<Record<SendOperation, OtelApi.Attributes>> {
  const byOperation = {} as Record<SendOperation, OtelApi.Attributes>;
  for (const op of OPERATIONS) {
    byOperation[op] = Object.freeze({ 'messaging.system': 'wshub', 'messaging.operation': operation, 'messaging.operation.type': type, 'wshub.operation': op });
  }
  return byOperation;
}
const SEND_ATTRIBUTES = spanAttributes('publish', 'send');
const DELIVER_ATTRIBUTES = spanAttributes('process', 'process');
const TRACER_NAME = '@wshub/core';

type Api = typeof OtelApi;

/**
 * `@opentelemetry/api` when the app has it, else `undefined`: it is an
 * optional peer, so core loads it with a plain `require` that may fail
 * (`createRequire` works the same from the ESM and the CJS build). One
 * copy of the API per process is what the app registered its provider
 * with; any 1.x copy reads the same global registry.
 */
function loadApi(): Api | undefined {
  try {
    // The CJS build has no import.meta; tsup's shim gives it one from __filename.
    return createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    return undefined;
  }
}

let api: Api | null | undefined;

/**
 * The W3C `traceparent` of the span active in the caller's context, or
 * `undefined` (no `@opentelemetry/api`, no active span, or one that is not
 * valid). For what stores a message to send later (the outbox row): the
 * `wshub.send` that sends it links to this span.
 */
export function activeTraceparent(): string | undefined {
  if (api === undefined) api = loadApi() ?? null;
  return api ? traceparentOf(api, api.context.active()) : undefined;
}


/** Checks the `tracing` option; `undefined` (no spans at all) when the API is not installed. */
export function createTracing(options: TracingOptions | undefined, written: () => number): Tracing | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw optionError('', 'tracing', 'an object', options);
  }
  const userIds = options?.userIds ?? 'omit';
  if (!USER_IDS.includes(userIds)) {
    throw optionError('', 'tracing.userIds', `one of ${USER_IDS.map((u) => `'${u}'`).join(', ')}`, userIds);
  }
  if (api === undefined) api = loadApi() ?? null;
  return api ? new Tracing(api, userIds, written) : undefined;
}

/**
 * The hub's spans, on the OpenTelemetry API (see docs/OBSERVABILITY.md).
 * With no tracer provider registered the API's tracer is a no-op: a span
 * that does not record costs one small object, and nothing else is done.
 */
export class Tracing {
  private readonly tracer: OtelApi.Tracer;
  /** This hub's spans not yet ended: only those take errors from {@link recordError}. */
  private readonly live = new WeakSet<OtelApi.Span>();
  /** The API's no-op provider: the global provider's delegate while none is registered. */
  private readonly noop: OtelApi.TracerProvider;
  /** The options of every `wshub.send` without a link, and of every `wshub.deliver`: made once. */
  private readonly sendOptions: OtelApi.SpanOptions;
  private readonly deliverOptions: OtelApi.SpanOptions;
  /** `tracing.userIds: 'hash'`: the hashes of recent users, oldest first. */
  private readonly hashes = new Map<string, string>();

  constructor(
    private readonly api: Api,
    private readonly userIds: TraceUserIds,
    /** Messages written to sockets so far (the hub's `messagesOut`). */
    private readonly written: () => number,
  ) {
    // A ProxyTracer: it follows a provider registered later too.
    this.tracer = api.trace.getTracer(TRACER_NAME);
    this.noop = new api.ProxyTracerProvider().getDelegate();
    this.sendOptions = Object.freeze({ kind: api.SpanKind.PRODUCER });
    this.deliverOptions = Object.freeze({ kind: api.SpanKind.CONSUMER });
  }

  /**
   * False while no tracer provider is registered: then no span object is
   * made at all (the API's no-op tracer would make one that records
   * nothing). The caller's own context still travels in envelopes.
   */
  private get enabled(): boolean {
    const provider = this.api.trace.getTracerProvider() as Partial<OtelApi.ProxyTracerProvider>;
    return provider.getDelegate?.() !== this.noop;
  }

  /**
   * Runs one hub call in a `wshub.send` span (PRODUCER), a child of the
   * caller's active span; its envelopes carry the span's context. An error
   * the call throws or rejects with is recorded on the span and rethrown.
   */
  send<T>(operation: SendOperation, facts: SendFacts, call: () => Promise<T>): Promise<T> {
    const { api } = this;
    if (!this.enabled) return call();
    const link = facts.link === undefined ? undefined : parseTraceparent(api, facts.link);
    const span = this.tracer.startSpan('wshub.send', link ? { kind: api.SpanKind.PRODUCER, links: [{ context: link }] } : this.sendOptions);
    // Not recording (no provider, or not sampled): nothing more is built; the caller's context, if any, is what travels.
    if (!span.isRecording()) return call();
    span.setAttributes(SEND_ATTRIBUTES[operation]);
    if (facts.event !== undefined) span.setAttribute('messaging.destination.name', facts.event);
    if (facts.messageId !== undefined) span.setAttribute('messaging.message.id', facts.messageId);
    if (facts.userId !== undefined) this.setUser(span, facts.userId);
    this.live.add(span);
    const before = this.written();
    let result: Promise<T>;
    try {
      result = api.context.with(api.trace.setSpan(api.context.active(), span), call);
    } catch (error) {
      this.fail(span, error);
      throw error;
    }
    if (facts.countSockets) span.setAttribute('wshub.sockets', this.written() - before);
    return result.then(
      (value) => {
        this.end(span);
        return value;
      },
      (error: unknown) => {
        this.fail(span, error);
        throw error;
      },
    );
  }

  /** The W3C `traceparent` of the active span, for an envelope; `undefined` without a valid one. */
  traceparent(): string | undefined {
    return traceparentOf(this.api, this.api.context.active());
  }

  /**
   * Applies an envelope from another node in a `wshub.deliver` span
   * (CONSUMER), a child of the sender's span when the envelope carries its
   * `traceparent`; `apply` returns whether it wrote messages to sockets.
   */
  deliver(envelope: Envelope, apply: () => boolean): void {
    // Receipts' confirmations are the hub's own traffic, not a call of the app's.
    if (envelope.kind === 'receipt') {
      apply();
      return;
    }
    const event = envelope.kind === 'send' || envelope.kind === 'push' ? envelope.event : undefined;
    const userId = envelope.kind === 'push' ? undefined : envelope.userId;
    this.process(OPERATION_OF[envelope.kind], event, userId, envelope.tp, undefined, apply);
  }

  /**
   * Delivers a message the history recorded (with `recovery` on, on every
   * node, the sender's too) in a `wshub.deliver` span, a child of the
   * sender's span when the record carries its `traceparent`.
   */
  deliverRecorded(recorded: RecordedMessage, apply: () => void): void {
    const operation = recorded.userId === undefined ? 'push' : 'sendMessage';
    this.process(operation, recorded.event, recorded.userId, recorded.tp, recorded.offset, () => {
      apply();
      return true;
    });
  }

  private process(
    operation: SendOperation,
    event: string | undefined,
    userId: string | undefined,
    tp: unknown,
    offset: number | undefined,
    apply: () => boolean,
  ): void {
    const { api } = this;
    if (!this.enabled) {
      apply();
      return;
    }
    const parent = parseTraceparent(api, tp);
    const base = api.ROOT_CONTEXT;
    const span = this.tracer.startSpan('wshub.deliver', this.deliverOptions, parent ? api.trace.setSpanContext(base, parent) : base);
    if (!span.isRecording()) {
      apply();
      return;
    }
    span.setAttributes(DELIVER_ATTRIBUTES[operation]);
    if (event !== undefined) span.setAttribute('messaging.destination.name', event);
    if (offset !== undefined) span.setAttribute('wshub.recovery.offset', offset);
    if (userId !== undefined) this.setUser(span, userId);
    this.live.add(span);
    const before = this.written();
    try {
      if (api.context.with(api.trace.setSpan(base, span), apply)) {
        span.setAttribute('wshub.sockets', this.written() - before);
      }
    } catch (error) {
      this.fail(span, error);
      throw error;
    }
    this.end(span);
  }

  /**
   * An error the hub reports through `'error'` (a `serialize` that throws,
   * a broker that fails to publish, a push callback that rejects): recorded
   * on the hub's span it happened in, if any. The call goes on, as it did.
   */
  recordError(error: Error): void {
    const span = this.api.trace.getSpan(this.api.context.active());
    if (span && this.live.has(span)) this.markFailed(span, error);
  }

  /**
   * A `wshub.canWatch` span (INTERNAL) around the app's `canWatch`;
   * `undefined` when it would not record. `run` calls the check inside it,
   * so the app's own spans are its children; `end` gives the decision.
   */
  watchCheck(socketId: string, userId: string, event: string): WatchSpan | undefined {
    const { api } = this;
    if (!this.enabled) return undefined;
    const span = this.tracer.startSpan('wshub.canWatch', { kind: api.SpanKind.INTERNAL });
    if (!span.isRecording()) return undefined;
    span.setAttributes({ 'wshub.socket.id': socketId, 'wshub.watch.event': event });
    this.setUser(span, userId);
    const context = api.trace.setSpan(api.context.active(), span);
    return {
      run: (check) => api.context.with(context, check),
      end: (decision, error) => {
        span.setAttribute('wshub.watch.decision', decision);
        if (error !== undefined) this.markFailed(span, toError(error));
        span.end();
      },
    };
  }

  /**
   * A span (INTERNAL) for one step of a socket's life: `wshub.authenticate`,
   * `wshub.resume`, `wshub.refresh`, with the socket's id (and its user,
   * as `tracing.userIds` says, when known); `undefined` when it would not
   * record. A child of the context active now.
   */
  socketSpan(name: string, socketId: string, userId: string | undefined): SocketSpan | undefined {
    const { api } = this;
    if (!this.enabled) return undefined;
    const span = this.tracer.startSpan(name, { kind: api.SpanKind.INTERNAL, attributes: { 'wshub.socket.id': socketId } });
    if (!span.isRecording()) return undefined;
    if (userId) this.setUser(span, userId);
    const context = api.trace.setSpan(api.context.active(), span);
    let ended = false;
    return {
      run: (step) => api.context.with(context, step),
      user: (id) => this.setUser(span, id),
      exception: (error) => span.recordException(toError(error)),
      fail: (error) => this.markFailed(span, toError(error)),
      end: (attributes) => {
        if (ended) return;
        ended = true;
        span.setAttributes(attributes);
        span.end();
      },
    };
  }

  private setUser(span: OtelApi.Span, userId: string): void {
    if (this.userIds === 'include') span.setAttribute('user.id', userId);
    else if (this.userIds === 'hash') span.setAttribute('user.hash', this.hashOf(userId));
  }

  /** SHA-256 of a user id, hex; the last {@link HASHES_KEPT} users' are kept, so a user's every span does not hash again. */
  private hashOf(userId: string): string {
    let hash = this.hashes.get(userId);
    if (hash === undefined) {
      hash = createHash('sha256').update(userId).digest('hex');
      if (this.hashes.size >= HASHES_KEPT) this.hashes.delete(this.hashes.keys().next().value as string);
      this.hashes.set(userId, hash);
    }
    return hash;
  }

  private end(span: OtelApi.Span): void {
    this.live.delete(span);
    span.end();
  }

  private fail(span: OtelApi.Span, error: unknown): void {
    this.markFailed(span, toError(error));
    this.end(span);
  }

  private markFailed(span: OtelApi.Span, error: Error): void {
    span.recordException(error);
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.message });
  }
}

/** One `wshub.canWatch` span. */
export interface WatchSpan {
  run<T>(check: () => T): T;
  /** `error`: what the check threw or rejected with, or the timeout. */
  end(decision: 'allowed' | 'forbidden' | 'timeout' | 'error', error?: unknown): void;
}

/** One span of a socket's life (see {@link Tracing.socketSpan}); ended once, later calls to `end` do nothing. */
export interface SocketSpan {
  /** Runs `step` (the app's hook) with the span active: the app's spans inside are its children. */
  run<T>(step: () => T): T;
  /** Names the user once known (as `tracing.userIds` says). */
  user(userId: string): void;
  /** Records an error as an `exception` event, leaving the status alone (a refusal the app chose). */
  exception(error: unknown): void;
  /** Records an error and sets the status to `ERROR` (the hub or the app failed). */
  fail(error: unknown): void;
  end(attributes: OtelApi.Attributes): void;
}

const toError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** `00-<trace id>-<span id>-<flags>` of the span in `context`; `undefined` without a valid one. */
function traceparentOf(api: Api, context: OtelApi.Context): string | undefined {
  const span = api.trace.getSpanContext(context);
  if (!span || !api.isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

const OPERATION_OF: Record<Exclude<Envelope['kind'], 'receipt'>, SendOperation> = {
  send: 'sendMessage',
  push: 'push',
  disconnect: 'disconnect',
  update: 'updateUser',
};

/** A remote span context from a W3C `traceparent`; `undefined` for anything else (never thrown: it came off the wire). */
function parseTraceparent(api: Api, value: unknown): OtelApi.SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const [, traceId, spanId, flags] = TRACEPARENT.exec(value) ?? [];
  if (!traceId || !spanId || !flags) return undefined;
  const context = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  return api.isSpanContextValid(context) ? context : undefined;
}
