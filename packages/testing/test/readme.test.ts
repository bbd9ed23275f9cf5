// The README's first example, as written there (keep the two in step).
import { FakeHub } from '../src/index.js';
import { expect, test } from 'vitest';

interface User { id: string; deviceFingerprint: string; role: 'admin' | 'user' }

test('bob sees his order ship on the phone that watches it', async () => {
  const hub = new FakeHub<User>({
    authenticate(req) {
      const token = new URL(req.url!, 'http://localhost').searchParams.get('token');
      if (token !== 'bob-token') throw new Error('unknown token');
      return { id: 'bob', deviceFingerprint: 'phone', role: 'user' };
    },
    canWatch: ({ user, payload }) => user.role === 'admin' || payload === '42',
  });

  const phone = await hub.connect({ query: { token: 'bob-token' } });
  expect(await phone.watch('order-status', 42)).toBe('allowed');
  expect(await phone.watch('order-status', 7)).toBe('forbidden');

  await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, 42);
  expect(hub.deliveries).toEqual([
    { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, event: 'order-status', data: { status: 'shipped' } },
  ]);
  await expect(hub.connect({ query: { token: 'stolen' } })).rejects.toMatchObject({ code: 4403 });
  await hub.close();
});

// The README's `finally` form, for plain JavaScript on Node.js 20 and 22 (which reject `await using`), run by Node itself.
test('the finally form runs as plain JavaScript on this Node.js', async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```js\n(const hub = new FakeHub[\s\S]*?)```/.exec(readme)?.[1] ?? '';
  expect(block).toContain('finally');
  // Next to this package, so `@wshub/testing` resolves to its build.
  const dir = mkdtempSync(new URL('./readme-js-', import.meta.url).pathname);
  try {
    const file = `${dir}/finally.mjs`;
    writeFileSync(
      file,
      `import { FakeHub } from '@wshub/testing';\nconst bob = { id: 'bob', deviceFingerprint: 'phone' };\n` +
        `${block.replace('// …', "console.log('connected', phone.user.id);")}console.log('open', hub.stats().connections);\n`,
    );
    expect(execFileSync(process.execPath, [file], { encoding: 'utf8' }).trim()).toBe('connected bob\nopen 0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
