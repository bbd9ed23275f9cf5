/**
 * D. Push with callbacks: one `push` whose async `allow` awaits ~1 ms per
 * user, to every user; how long until the last user has the message.
 */
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'D',
  title: 'Push with an async allow callback',
  description:
    'one push to every user; `allow(user)` awaits a `delayMs` timer and returns true. Time = push call → last client received the message.',
  metrics: [{ key: 'time', label: 'completion time', unit: 'ms', better: 'lower' }],
  cases: (p) => [
    { id: `N=${p.users}`, label: `${p.users.toLocaleString('en-US')} users, ${p.delayMs} ms allow`, params: p },
  ],

  async run(session, { users, delayMs }, p) {
    const node = await session.startServer();
    await session.connect(node, { users });
    const r = await measureRound(session.load, {
        servers: [node.server],
      drive: () => node.server.call('pushAllow', { delayMs }, p.timeoutMs + 10_000),
      expected: () => users,
      count: users,
      timeoutMs: p.timeoutMs,
    });
    return { time: sample(r, r.elapsedUs / 1000) };
  },
};
