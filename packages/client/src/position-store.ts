import { parsePosition, type Position } from '@wshub/core/protocol';
import { show } from './show.js';

/**
 * Where the client keeps its recovery position between runs: `get` and
 * `set` of one string (either may return a promise). `'local'` is the
 * page's `localStorage`.
 */
export interface PositionStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

/** The default key of the stored position. */
export const DEFAULT_POSITION_KEY = 'wshub:position';

/** A store given as an option, checked: `'local'` or an object with `get` and `set`. */
export function resolveStore(store: unknown, fail: (message: string) => never): PositionStore {
  if (store === 'local') {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    if (!storage) fail('option "recover.store" is \'local\', and there is no localStorage here; pass an object with get and set');
    return {
      get: (key) => storage.getItem(key),
      set: (key, value) => storage.setItem(key, value),
    };
  }
  const s = store as Partial<PositionStore> | null;
  if (typeof s !== 'object' || s === null || typeof s.get !== 'function' || typeof s.set !== 'function') {
    fail(`option "recover.store" must be 'local' or an object with get(key) and set(key, value), got ${show(store)}`);
  }
  return s as PositionStore;
}

/**
 * Keeps the position in a store: read once before the first connection,
 * written when it changed. A store that throws or rejects is reported, and
 * the client goes on without it (it then resumes only within one run).
 */
export class StoredPosition {
  readonly #store: PositionStore;
  readonly #key: string;
  readonly #report: (error: Error) => void;
  #last: string | undefined;

  constructor(store: PositionStore, key: string, report: (error: Error) => void) {
    this.#store = store;
    this.#key = key;
    this.#report = report;
  }

  /** The stored position: at once, or a promise when the store answers later; `undefined` when none or unreadable. */
  load(): Position | undefined | Promise<Position | undefined> {
    let value: ReturnType<PositionStore['get']>;
    try {
      value = this.#store.get(this.#key);
    } catch (error) {
      this.#failed('read', error);
      return undefined;
    }
    if (value && typeof (value as Promise<unknown>).then === 'function') {
      return (value as Promise<string | null | undefined>).then(
        (text) => this.#parse(text),
        (error: unknown) => {
          this.#failed('read', error);
          return undefined;
        },
      );
    }
    return this.#parse(value as string | null | undefined);
  }

  /** Writes `position` when it differs from what was written last. */
  save(position: Position | undefined): void {
    if (!position) return;
    const text = JSON.stringify(position);
    if (text === this.#last) return;
    this.#last = text;
    try {
      const done = this.#store.set(this.#key, text);
      if (done && typeof done.then === 'function') done.then(undefined, (error: unknown) => this.#failed('write', error));
    } catch (error) {
      this.#failed('write', error);
    }
  }

  #parse(text: string | null | undefined): Position | undefined {
    if (typeof text !== 'string') return undefined;
    this.#last = text;
    try {
      return parsePosition(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  #failed(what: 'read' | 'write', error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#report(new Error(`wshub client: could not ${what} the recovery position in its store: ${message}`));
  }
}

/**
 * Gives `recovery` the stored position, at once or once the store answered
 * (a position it got meanwhile wins), then calls `start`. A store that does
 * not answer within `timeoutMs` (`connectTimeoutMs`; 0: no limit) is
 * reported, and the client starts without it: a store that never settles
 * must not keep the client from connecting.
 */
export function startFrom(
  stored: StoredPosition | undefined,
  recovery: { position: Position | undefined },
  start: () => void,
  timeoutMs = 0,
  report: (error: Error) => void = () => {},
): void {
  const loaded = stored?.load();
  if (!(loaded instanceof Promise)) {
    if (loaded) recovery.position = loaded;
    start();
    return;
  }
  let started = false;
  const go = (position: Position | undefined) => {
    if (started) return;
    started = true;
    clearTimeout(timer);
    if (position && !recovery.position) recovery.position = position;
    start();
  };
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          report(new Error(`wshub client: the recovery position's store did not answer within ${timeoutMs} ms (connectTimeoutMs); connecting without it`));
          go(undefined);
        }, timeoutMs)
      : undefined;
  void loaded.then(go);
}
