import type { HubClient } from '@wshub/client';

/*
 * The checker of the chaos tests: what each client logged against what was
 * sent to it — every message once and in order, or a `recovered: false`
 * that covers the gap.
 */

export interface Sent {
  n: number;
  kind: 'direct' | 'price' | 'news';
  to: string;
  /**
   * When it was handed to the hub (ms since the epoch). A `'recovered'`
   * answered before it was recorded and delivered (within
   * {@link RECORDED_WITHIN_MS}, unless `recordedAt` says when) speaks for
   * older messages only.
   */
  at?: number;
  /**
   * When its history recorded it (the Redis time of the recording script,
   * read back from the history after the run), where the history still
   * holds it. A `'recovered'` answered before then speaks for older
   * messages only: what is recorded after a resume's reads comes live, or
   * (its socket gone first, or it came out of order) the next answer covers it.
   */
  recordedAt?: number;
}
/** How long after `sendMessage`/`push` returned a message is surely recorded (batched, then a script on a loaded machine). */
export const RECORDED_WITHIN_MS = 1000;
/** A message's number, a `'recovered'` event, or a connection's end (the client's `'close'`, logged where a test listens for it). */
export type LogEntry = number | Answer | { closed: true };
type Answer = { recovered: boolean; missed: number };

/** True for a `'recovered'` event. */
export const isAnswer = (entry: LogEntry): entry is Answer => typeof entry !== 'number' && 'recovered' in entry;

/**
 * True when the connection of the answer at `index` closed before the client
 * handled any message after it: its position stayed where the answer put
 * it, so the next resume starts from there and its answer speaks for the
 * same messages. (A message recorded after the answer's reads comes live;
 * one whose connection drops first is covered by that next answer.)
 */
function closedBeforeAnyMessage(log: LogEntry[], index: number): boolean {
  const after = log[index + 1];
  return after !== undefined && typeof after !== 'number' && !isAnswer(after);
}

export interface Watched {
  client: HubClient;
  user: string;
  symbol: string;
  log: LogEntry[];
  /** When each entry of `log` came (ms since the epoch). */
  at: number[];
  push(entry: LogEntry): void;
}

export interface Outcome {
  expected: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  /**
   * Messages missed that no `recovered: false` reported: the client's first
   * `'recovered'` after the last message it got before them said true, or
   * none came.
   */
  silent: number;
  /** Messages missed that the client's next `'recovered'` reported (`recovered: false`). */
  covered: number;
  recovered: number;
  failed: number;
  /** Clients with at least one silent gap. */
  clientsWithSilentGaps: number;
  /** Each silent gap: the client, the messages it missed, and its log around them. */
  silentGaps: string[];
}

/**
 * Checks one client's log against what was sent to it. `orderOf` names the
 * order a message belongs to (default: one order for all, the order they
 * were sent in); each message must come after every earlier one of its order.
 */
export function judge(w: Watched, sent: Sent[], o: Outcome, startedAt: number, orderOf: (m: Sent) => string = () => ''): void {
  const mine = sent.filter(
    (m) => m.kind === 'news' || (m.kind === 'direct' && m.to === w.user) || (m.kind === 'price' && m.to === w.symbol),
  );
  const byN = new Map(mine.map((m) => [m.n, orderOf(m)]));
  const lastOf = new Map<string, number>();
  const at = new Map<number, number>(); // n → index in log
  w.log.forEach((entry, i) => {
    if (typeof entry !== 'number') {
      if (!isAnswer(entry)) return;
      if (entry.recovered) o.recovered++;
      else o.failed++;
      return;
    }
    if (at.has(entry)) o.duplicates++;
    else at.set(entry, i);
    const order = byN.get(entry) ?? '';
    const last = lastOf.get(order) ?? 0;
    if (entry <= last) o.outOfOrder++;
    lastOf.set(order, Math.max(last, entry));
  });
  o.expected += mine.length;
  let silentHere = 0;
  // Per order: where the client's last message of it before this one is in its log.
  const prevOf = new Map<string, number>();
  for (let k = 0; k < mine.length; k++) {
    const order = byN.get(mine[k]!.n) ?? '';
    const index = at.get(mine[k]!.n);
    if (index !== undefined) {
      o.delivered++;
      prevOf.set(order, index);
      continue;
    }
    const prevIndex = prevOf.get(order) ?? -1;
    // Reported when the client's next 'recovered' after the last message (of its order) it got before this one says false:
    // the gap lies before that event, and a state the app refetches then covers it.
    // A 'recovered' answered before the message was sent speaks for older ones only; a `true` one, also
    // one answered before the message was surely recorded (it may be on its way), and one whose connection
    // closed before the client handled anything after it (the position it left is where the next resume
    // starts): the next one decides.
    const sentAt = mine[k]!.at ?? 0;
    const next = w.log.slice(prevIndex + 1).find((e, j): e is Answer => {
      if (!isAnswer(e)) return false;
      const answeredAt = w.at[prevIndex + 1 + j]!;
      if (!e.recovered) return answeredAt >= sentAt;
      const { at: sentTime, recordedAt } = mine[k]!;
      const recorded = recordedAt ?? (sentTime === undefined ? 0 : sentTime + RECORDED_WITHIN_MS);
      return answeredAt >= Math.max(sentAt, recorded) && !closedBeforeAnyMessage(w.log, prevIndex + 1 + j);
    });
    if (next !== undefined && !next.recovered) {
      o.covered++;
      continue;
    }
    silentHere++;
    const from = Math.max(0, prevIndex - 2);
    const around = w.log
      .slice(from, prevIndex + 16)
      .map((e, i) => `${typeof e === 'number' ? e : isAnswer(e) ? `recovered:${e.recovered}` : 'closed'}@${w.at[from + i]! - startedAt}ms`);
    const { at: sentTime, recordedAt } = mine[k]!;
    const times = `sent@${sentTime === undefined ? '?' : sentTime - startedAt}ms recorded@${recordedAt === undefined ? '?' : recordedAt - startedAt}ms`;
    o.silentGaps.push(`${w.user}/${w.symbol} missed ${mine[k]!.kind} ${mine[k]!.n} (${times}); got ${around.join(' ')}`);
  }
  o.silent += silentHere;
  if (silentHere > 0) o.clientsWithSilentGaps++;
}

/** The run's numbers, in the test output. */
export const report = (line: string) => process.stdout.write(`${line}\n`);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An empty outcome to fill with {@link judge}. */
export function newOutcome(): Outcome {
  return { expected: 0, delivered: 0, duplicates: 0, outOfOrder: 0, silent: 0, covered: 0, recovered: 0, failed: 0, clientsWithSilentGaps: 0, silentGaps: [] };
}

/** The last message sent that was meant for `w` (0: none). */
export function lastFor(w: Watched, sent: Sent[]): number {
  for (let i = sent.length - 1; i >= 0; i--) {
    const m = sent[i]!;
    if (m.kind === 'news' || (m.kind === 'direct' && m.to === w.user) || (m.kind === 'price' && m.to === w.symbol)) return m.n;
  }
  return 0;
}
