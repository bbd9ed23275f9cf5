import { afterEach, describe, expect, it } from 'vitest';
import type { ForbiddenWatch } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { inState, nextEvent, nextState, synced } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

/** A hub whose canWatch refuses order 13 and records every decision. */
async function startHub(limits?: { maxWatchesPerSocket: number }) {
  const asked: (string | null)[] = [];
  const test = await TestHub.start({
    canWatch: ({ payload }) => {
      asked.push(payload);
      return payload !== '13';
    },
    ...(limits ? { limits } : {}),
  });
  hubs.push(test);
  return { test, asked };
}

describe('a refused watch', () => {
  it('marks the subscription forbidden, tells its handler and the client, and keeps the others', async () => {
    const { test } = await startHub();
    const client = clients.create(test.url);
    await inState(client, 'open');
    const refused = client.watch('order-status', 13);
    const allowed = client.watch('order-status', 14);
    const onSubscription: ForbiddenWatch[] = [];
    refused.onForbidden((f) => onSubscription.push(f));
    const forbidden = await nextEvent(client, 'forbidden');

    expect(forbidden).toEqual({ event: 'order-status', payload: '13' });
    expect(onSubscription).toEqual([forbidden]);
    expect([refused.status, allowed.status]).toEqual(['forbidden', 'active']);
    expect(client.state).toBe('open');
  });

  it('is not sent again after a reconnect, while the allowed ones are', async () => {
    const { test, asked } = await startHub();
    const client = clients.create(test.url);
    client.watch('order-status', 13);
    client.watch('order-status', 14);
    await nextEvent(client, 'forbidden');
    await synced(client, test.hub);
    expect(asked).toEqual(['13', '14']);

    const reopened = nextState(client, 'open');
    test.hub.socketsOf('bob')[0]?.terminate();
    await reopened;
    await synced(client, test.hub);
    expect(asked).toEqual(['13', '14', '14']);
  });

  it('is reported even when no subscription is left for it', async () => {
    const { test } = await startHub();
    const client = clients.create(test.url);
    await inState(client, 'open');
    const sub = client.watch('order-status', 13);
    sub.unwatch();
    expect(await nextEvent(client, 'forbidden')).toEqual({ event: 'order-status', payload: '13' });
    expect(sub.status).toBe('unwatched');
  });
});

describe('an exception reply', () => {
  it('is emitted as exception and leaves the connection open', async () => {
    const { test } = await startHub({ maxWatchesPerSocket: 1 });
    const client = clients.create(test.url);
    await inState(client, 'open');
    client.watch('order-status', 1);
    client.watch('order-status', 2);
    const reply = await nextEvent(client, 'exception');
    expect(reply.status).toBe('error');
    expect(reply.message).toEqual(expect.any(String));
    await synced(client, test.hub);
    expect(client.state).toBe('open');
  });
});
