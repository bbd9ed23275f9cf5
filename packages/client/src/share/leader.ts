import type { ResolvedOptions } from '../options.js';
import type { TabMessage, WorkerMessage } from './port-messages.js';
import { type PortLike, ShareHost } from './share-host.js';
import { SharedHubClient, type TabPort } from './shared-client.js';

/** How often the leader tab says it is alive. */
const BEAT_MS = 250;
/** Silence from a visible leader after which another tab takes over. */
export const LEADER_TIMEOUT_MS = 1_000;
/**
 * Silence from a hidden leader after which another tab takes over: browsers
 * run a hidden tab's timers once a second, and after five minutes (Chrome's
 * intensive throttling) once a minute, so its beats come that far apart.
 */
export const HIDDEN_LEADER_TIMEOUT_MS = 65_000;

/** What `navigator.locks` offers. */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
  request(
    name: string,
    options: { steal?: boolean; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<unknown>;
}

interface ChannelLike {
  postMessage(message: ChannelMessage): void;
  onmessage: ((event: { data: ChannelMessage }) => void) | null;
}
export type BroadcastChannelConstructor = new (name: string) => ChannelLike;

interface MessageChannelLike {
  port1: TabPort & { start?(): void };
  port2: PortLike & { start?(): void };
}
type MessageChannelConstructor = new () => MessageChannelLike;

/** What the tabs of one URL say on their `BroadcastChannel`. */
type ChannelMessage =
  /**
   * The tab `id` leads, in leadership `term` (each takeover counts one up):
   * sent every {@link BEAT_MS}, and `to` one tab that asked. `hidden`: the
   * leader's page is hidden, so its beats may come late.
   */
  | { kind: 'leader'; id: string; term: number; hidden: boolean; to?: string }
  | { kind: 'who-leads' }
  | { kind: 'to-leader'; from: string; to: string; message: TabMessage }
  | { kind: 'to-tab'; from: string; to: string; message: WorkerMessage };

/**
 * `share: 'leader'`: where there is no `SharedWorker`, the tabs of one URL
 * elect a leader with a Web Lock; the leader runs the same
 * {@link ShareHost} a shared worker runs, and the other tabs talk to it over
 * a `BroadcastChannel`. When the leader goes, its lock passes to the next
 * tab waiting for it, which starts a new host and tells the others, and
 * every tab attaches to it again with its watches and handlers.
 *
 * A leader that stops running (a hung page) keeps its lock. It beats on the
 * channel; a tab that hears nothing for {@link LEADER_TIMEOUT_MS} steals the
 * lock and leads in the next term. The old leader learns it when it runs
 * again (its lock request fails, or it hears a later term): it closes its
 * socket and attaches to the new leader like any other tab.
 */
export function openLeader(
  options: ResolvedOptions,
  locks: LockManagerLike,
  BroadcastChannel: BroadcastChannelConstructor,
  MessageChannel: MessageChannelConstructor,
): SharedHubClient {
  const id = randomId();
  const lockName = `wshub:leader:${options.url.href}`;
  const channel = new BroadcastChannel(`wshub:share:${options.url.href}`);
  let leader: string | undefined;
  /** The latest leadership term this tab knows of. */
  let term = 0;
  /** When the leader last beat, and whether its page was hidden then. */
  let lastBeat = Date.now();
  let leaderHidden = false;
  /** While this tab leads: its own client's port to its host. */
  let local: (TabPort & { start?(): void }) | undefined;
  /** While this tab leads: the ports its host serves other tabs on, by tab id. */
  const remote = new Map<string, PortLike>();
  let host: ShareHost | undefined;
  let beating: ReturnType<typeof setInterval> | undefined;
  /** A plain (not stealing) request for the leader lock is queued. */
  let queued = false;
  let candidate = false;

  const link: TabPort = {
    onmessage: null,
    postMessage(message) {
      if (local) local.postMessage(message);
      else if (leader) channel.postMessage({ kind: 'to-leader', from: id, to: leader, message });
      // No leader known yet: the attach goes again once one is (reattach).
    },
    close() {},
  };
  const client = new SharedHubClient(options, link, locks);

  const page = (globalThis as { document?: { hidden?: boolean; addEventListener?(type: string, listener: () => void): void } })
    .document;
  const beat = (to?: string) => {
    const message: ChannelMessage = { kind: 'leader', id, term, hidden: page?.hidden === true };
    channel.postMessage(to === undefined ? message : { ...message, to });
  };
  // Hidden, the beats slow down: the others are told at once, so they wait longer.
  page?.addEventListener?.('visibilitychange', () => {
    if (host) beat();
  });

  const follow = (next: string) => {
    if (next === leader) return;
    leader = next;
    client.reattach();
  };

  channel.onmessage = ({ data }) => {
    if (data.kind === 'leader') {
      // A beat of an earlier term is a leader that ran again after it was replaced.
      if (data.term < term || (data.to !== undefined && data.to !== id)) return;
      if (data.term > term && host) stepDown();
      term = data.term;
      lastBeat = Date.now();
      leaderHidden = data.hidden;
      if (!host) follow(data.id);
    } else if (data.kind === 'who-leads') {
      if (host) beat();
    } else if (data.kind === 'to-tab') {
      // Only the leader's: a replaced leader that runs again may still be routing.
      if (data.to === id && !local && data.from === leader) link.onmessage?.({ data: data.message });
      // Every tab sees every message go by: whichever leads next resumes from the latest.
      else if (data.message.type === 'message' && data.message.position) client.notePosition(data.message.position);
    } else if (data.kind === 'to-leader' && host && data.to === id) {
      serveRemote(data.from, data.message);
    }
  };

  const serveRemote = (from: string, message: TabMessage) => {
    let port = remote.get(from);
    if (!port) {
      // A tab this host does not serve yet: only its attach starts it.
      if (message.type !== 'attach') return;
      const served = host;
      const created: PortLike = {
        onmessage: null,
        postMessage: (reply) => {
          if (host === served) channel.postMessage({ kind: 'to-tab', from: id, to: from, message: reply });
        },
        close: () => {
          if (remote.get(from) === created) remote.delete(from);
        },
      };
      port = created;
      remote.set(from, port);
      host!.connect(port);
    }
    port.onmessage?.({ data: message });
  };

  /** The lock is this tab's: it starts a host, attaches to it and tells the others. */
  const lead = (): Promise<void> => {
    if (!host) {
      term += 1;
      host = new ShareHost(locks);
      const pair = new MessageChannel();
      host.connect(pair.port2);
      pair.port2.start?.();
      local = pair.port1;
      local.onmessage = (event) => link.onmessage?.(event);
      pair.port1.start?.();
      leader = id;
      client.reattach();
      beat();
      beating = setInterval(beat, BEAT_MS);
    }
    // Led until this tab goes (or another takes the lock from it).
    return new Promise<void>(() => {});
  };

  /** Another tab took the lead: this one's socket closes, and it attaches to the new leader. */
  const stepDown = () => {
    if (!host) return;
    const old = host;
    host = undefined;
    clearInterval(beating);
    remote.clear();
    if (local) {
      local.onmessage = null;
      local.close();
      local = undefined;
    }
    old.close();
    leader = undefined;
    lastBeat = Date.now();
    // What came for this tab while it did not run may be gone.
    client.missedWhileAway();
  };

  const queue = () => {
    if (queued) return;
    queued = true;
    // Rejected when another tab steals the lock from this one.
    locks.request(lockName, lead).catch(() => {
      queued = false;
      stepDown();
      queue();
    });
  };

  /** The leader went silent: one tab (the one that gets the candidacy lock) steals its lock. */
  const takeOver = () => {
    candidate = true;
    const candidacy = locks.request(`wshub:candidate:${options.url.href}`, { ifAvailable: true }, async (lock) => {
      if (lock === null || host || !silent()) return;
      await new Promise<void>((granted) => {
        locks
          .request(lockName, { steal: true }, () => {
            granted();
            return lead();
          })
          .catch(stepDown);
      });
      // Held a while longer, so the other tabs hear this one lead before they could try.
      await new Promise((resolve) => setTimeout(resolve, LEADER_TIMEOUT_MS));
    });
    void candidacy.finally(() => {
      candidate = false;
    });
  };

  const silent = () => Date.now() - lastBeat >= (leaderHidden ? HIDDEN_LEADER_TIMEOUT_MS : LEADER_TIMEOUT_MS);
  const watchdog = setInterval(() => {
    // A closed client watches nothing: the tabs still open take over.
    if (client.state === 'closed' && !host) clearInterval(watchdog);
    else if (!host && !candidate && silent()) takeOver();
  }, BEAT_MS);

  queue();
  channel.postMessage({ kind: 'who-leads' });
  return client;
}

function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
