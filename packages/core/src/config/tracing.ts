import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { Envelope } from '../brokers/broker.js';
import { optionError } from '../protocol/protocol.js';

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
  /**
   * True when this node's sockets are written before the call's first
   * await, so the writes counted then are the sockets it reached here.
   */
  countSockets: boolean;
}

const USER_IDS: readonly TraceUserIds[] = ['omit', 'hash', 'include'];
const TRACER_NAME = '@wshub/core';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

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

  constructor(
    private readonly api: Api,
    private readonly userIds: TraceUserIds,
    /** Messages written to sockets so far (the hub's `messagesOut`). */
    private readonly written: () => number,
  ) {
    // A ProxyTracer: it follows a provider registered later too.
    this.tracer = api.trace.getTracer(TRACER_NAME);
  }

  /**
   * Runs one hub call in a `wshub.send` span (PRODUCER), a child of the
   * caller's active span; its envelopes carry the span's context. An error
   * the call throws or rejects with is recorded on the span and rethrown.
   */
  send<T>(operation: SendOperation, facts: SendFacts, call: () => Promise<T>): Promise<T> {
    const { api } = this;
    const span = this.tracer.startSpan('wshub.send', { kind: api.SpanKind.PRODUCER });
    // Not recording (no provider, or not sampled): the caller's context, if any, is what travels.
    if (!span.isRecording()) return call();
    span.setAttributes({
      'messaging.system': 'wshub',
      'messaging.operation': 'publish',
      'messaging.operation.type': 'send',
      'wshub.operation': operation,
    });
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
    const { api } = this;
    const context = api.trace.getSpanContext(api.context.active());
    if (!context || !api.isSpanContextValid(context)) return undefined;
    const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
    return `00-${context.traceId}-${context.spanId}-${flags}`;
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
    const { api } = this;
    const parent = parseTraceparent(api, envelope.tp);
    const base = api.ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      'wshub.deliver',
      { kind: api.SpanKind.CONSUMER },
      parent ? api.trace.setSpanContext(base, parent) : base,
    );
    if (!span.isRecording()) {
      apply();
      return;
    }
    span.setAttributes({
      'messaging.system': 'wshub',
      'messaging.operation': 'process',
      'messaging.operation.type': 'process',
      'wshub.operation': OPERATION_OF[envelope.kind],
    });
    if (envelope.kind === 'send' || envelope.kind === 'push') span.setAttribute('messaging.destination.name', envelope.event);
    if (envelope.kind !== 'push') this.setUser(span, envelope.userId);
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
    const span = this.tracer.startSpan('wshub.canWatch', { kind: api.SpanKind.INTERNAL });
    if (!span.isRecording()) return undefined;
    span.setAttributes({ 'wshub.socket.id': socketId, 'wshub.watch.event': event });
    this.setUser(span, userId);
    const context = api.trace.setSpan(api.context.active(), span);
    return {
      run: (check) => api.context.with(context, check),
      end: (decision, error) => {
        span.setAttribute('wshub.watch.decision', decision);
        if (error !== undefined) this.markFailed(span, error instanceof Error ? error : new Error(String(error)));
        span.end();
      },
    };
  }

  private setUser(span: OtelApi.Span, userId: string): void {
    if (this.userIds === 'include') span.setAttribute('user.id', userId);
    else if (this.userIds === 'hash') span.setAttribute('user.hash', createHash('sha256').update(userId).digest('hex'));
  }

  private end(span: OtelApi.Span): void {
    this.live.delete(span);
    span.end();
  }

  private fail(span: OtelApi.Span, error: unknown): void {
    this.markFailed(span, error instanceof Error ? error : new Error(String(error)));
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
