import type { ResolvedOptions } from '../options.js';
import type { TabMessage, WorkerMessage } from './port-messages.js';
import { type PortLike, ShareHost } from './share-host.js';
import { SharedHubClient, type TabPort } from './shared-client.js';

/** What `navigator.locks` offers. */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
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
  /** The tab `id` leads; `to` when it answers one tab's question, else every tab. */
  | { kind: 'leader'; id: string; to?: string }
  | { kind: 'who-leads' }
  | { kind: 'to-leader'; from: string; message: TabMessage }
  | { kind: 'to-tab'; to: string; message: WorkerMessage };

/**
 * `share: 'leader'`: where there is no `SharedWorker`, the tabs of one URL
 * elect a leader with a Web Lock; the leader runs the same
 * {@link ShareHost} a shared worker runs, and the other tabs talk to it over
 * a `BroadcastChannel`. When the leader goes, its lock passes to the next
 * tab waiting for it, which starts a new host and tells the others, and
 * every tab attaches to it again with its watches and handlers.
 */
export function openLeader(
  options: ResolvedOptions,
  locks: LockManagerLike,
  BroadcastChannel: BroadcastChannelConstructor,
  MessageChannel: MessageChannelConstructor,
): SharedHubClient {
  const id = randomId();
  const channel = new BroadcastChannel(`wshub:share:${options.url.href}`);
  let leader: string | undefined;
  /** While this tab leads: its own client's port to its host. */
  let local: TabPort | undefined;
  /** While this tab leads: the ports its host serves other tabs on, by tab id. */
  const remote = new Map<string, PortLike>();
  let host: ShareHost | undefined;

  const link: TabPort = {
    onmessage: null,
    postMessage(message) {
      if (local) local.postMessage(message);
      else if (leader) channel.postMessage({ kind: 'to-leader', from: id, message });
      // No leader known yet: the attach goes again once one is (reattach).
    },
    close() {},
  };
  const client = new SharedHubClient(options, link, locks);

  const follow = (next: string) => {
    if (next === leader) return;
    leader = next;
    client.reattach();
  };

  channel.onmessage = ({ data }) => {
    if (data.kind === 'leader') {
      if (data.to === undefined || data.to === id) follow(data.id);
    } else if (data.kind === 'who-leads') {
      if (host) channel.postMessage({ kind: 'leader', id });
    } else if (data.kind === 'to-tab') {
      if (data.to === id && !local) link.onmessage?.({ data: data.message });
      // Every tab sees every message go by: whichever leads next resumes from the latest.
      else if (data.message.type === 'message' && data.message.position) client.notePosition(data.message.position);
    } else if (data.kind === 'to-leader' && host) {
      serveRemote(data.from, data.message);
    }
  };

  const serveRemote = (from: string, message: TabMessage) => {
    let port = remote.get(from);
    if (!port) {
      // A tab this host does not serve yet: only its attach starts it.
      if (message.type !== 'attach') return;
      const created: PortLike = {
        onmessage: null,
        postMessage: (reply) => channel.postMessage({ kind: 'to-tab', to: from, message: reply }),
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

  void locks.request(`wshub:leader:${options.url.href}`, () => {
    host = new ShareHost(locks);
    const pair = new MessageChannel();
    host.connect(pair.port2);
    pair.port2.start?.();
    local = pair.port1;
    local.onmessage = (event) => link.onmessage?.(event);
    pair.port1.start?.();
    leader = id;
    client.reattach();
    channel.postMessage({ kind: 'leader', id });
    // Led until this tab goes: then the next tab waiting takes the lock.
    return new Promise<void>(() => {});
  });
  channel.postMessage({ kind: 'who-leads' });
  return client;
}

function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
