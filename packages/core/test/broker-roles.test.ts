import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerBus, BrokerNode, Envelope, PresenceChange } from '../src/index.js';
import { type Fixture, startHub } from './helpers.js';

/**
 * A third-party broker that is a bus and nothing else: envelopes between
 * hubs of one process, routed per user, each copied through JSON as a
 * network would. No presence, no history.
 */
class Wire {
  readonly nodes = new Set<BusOnly>();
}

class BusOnly implements BrokerBus {
  node: BrokerNode | undefined;
  readonly users = new Set<string>();
  readonly sent: Envelope[] = [];
  received = 0;

  constructor(private readonly wire: Wire) {
    wire.nodes.add(this);
  }
  attach(node: BrokerNode): void {
    this.node = node;
  }
  publishToUser(userId: string, envelope: Envelope): void {
    this.sent.push(envelope);
    for (const other of this.wire.nodes) if (other !== this && other.users.has(userId)) other.take(envelope);
  }
  publishToAll(envelope: Envelope): void {
    this.sent.push(envelope);
    for (const other of this.wire.nodes) if (other !== this) other.take(envelope);
  }
  subscribeUser(userId: string): void {
    this.users.add(userId);
  }
  unsubscribeUser(userId: string): void {
    this.users.delete(userId);
  }
  async close(): Promise<void> {
    this.wire.nodes.delete(this);
  }
  private take(envelope: Envelope): void {
    const copy = JSON.parse(JSON.stringify(envelope)) as Envelope;
    setImmediate(() => {
      this.received++;
      this.node?.deliver(copy);
    });
  }
}

let nodes: Fixture[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

async function twoHubs() {
  const wire = new Wire();
  const buses = [new BusOnly(wire), new BusOnly(wire)];
  const presence: PresenceChange[][] = [[], []];
  for (const [i, bus] of buses.entries()) {
    const node = await startHub({ broker: bus });
    node.hub.on('presence', (change) => presence[i]!.push(change));
    nodes.push(node);
  }
  return { a: nodes[0]!, b: nodes[1]!, buses, presence };
}

describe('broker roles: a broker that is only a bus', () => {
  it('carries sends, broadcasts and disconnects to the other hub, routed per user', async () => {
    const { a, b, buses } = await twoHubs();
    const phone = await a.ready('user=u1&device=phone');
    await b.ready('user=u2');
    await b.hub.sendMessage('u1', 'note', 1);
    expect(await phone.next()).toEqual({ event: 'note', data: 1 });
    // Routed: the hub that holds no socket of u1 got nothing for it.
    await a.hub.sendMessage('u1', 'local', 2);
    expect(await phone.next()).toEqual({ event: 'local', data: 2 });
    expect(buses[1]!.received).toBe(0);
    await b.hub.push('news', { v: 3 });
    expect(await phone.next()).toEqual({ event: 'news', data: { v: 3 } });
    await b.hub.disconnect('u1');
    expect((await phone.waitForClose()).code).toBe(4000);
  });

  it('presence is each hub\'s own: onlineUsers, isOnline and the presence events see this hub\'s users', async () => {
    const { a, b, presence } = await twoHubs();
    await a.ready('user=u1');
    await b.ready('user=u2');
    expect(await a.hub.onlineUsers()).toEqual(['u1']);
    expect(await b.hub.isOnline('u1')).toBe(false);
    expect(presence[0]).toEqual([{ userId: 'u1', online: true }]);
    expect(presence[1]).toEqual([{ userId: 'u2', online: true }]);
  });

  it('updateUser travels with the user as plain JSON', async () => {
    const { a, b, buses } = await twoHubs();
    await a.ready('user=u1');
    await b.hub.updateUser({ id: 'u1', deviceFingerprint: 'device-1', role: 'admin', since: new Date(0) } as never);
    const update = buses[1]!.sent.find((e) => e.kind === 'update');
    expect(update).toMatchObject({ kind: 'update', userId: 'u1', user: { role: 'admin', since: '1970-01-01T00:00:00.000Z' } });
    await expect.poll(() => a.hub.socketsOf('u1')[0]?.user.role).toBe('admin');
  });

  it('with recovery on, a bus that reaches other hubs and keeps no history is refused with a TypeError', async () => {
    await expect(startHub({ broker: new BusOnly(new Wire()), recovery: true })).rejects.toThrow(
      /option "recovery" needs a history every node shares, and this broker \(BusOnly\) keeps none/,
    );
  });
});
