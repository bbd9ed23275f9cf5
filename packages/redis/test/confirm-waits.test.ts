import { describe, expect, it } from 'vitest';
import { ConfirmWaits } from '../src/confirm-waits.js';

/** The waits of resumes for their channels, against a set of confirmed channels as the subscriber keeps it. */
describe('ConfirmWaits', () => {
  it('goes on when the last of its channels is confirmed, not before, and holds no timer after', async () => {
    const confirmed = new Set<string>(['all']);
    const waits = new ConfirmWaits((c) => confirmed.has(c));
    let done: boolean | undefined;
    const waiting = waits.until(['user:a', 'all'], 10_000).then((ok) => (done = ok));
    confirmed.add('user:b');
    waits.confirmed(['user:b']);
    await Promise.resolve();
    expect(done).toBeUndefined();
    confirmed.add('user:a');
    waits.confirmed(['user:a']);
    expect(await waiting).toBe(true);
    expect((waits as any).byChannel.size).toBe(0);
  });

  it('answers at once when every channel is confirmed already', async () => {
    const waits = new ConfirmWaits(() => true);
    expect(await waits.until(['user:a', 'all'], 10)).toBe(true);
  });

  it('answers false after the timeout, and true if the channels were confirmed meanwhile without an event', async () => {
    const confirmed = new Set<string>();
    const waits = new ConfirmWaits((c) => confirmed.has(c));
    expect(await waits.until(['user:a'], 20)).toBe(false);
    const second = waits.until(['user:a'], 20);
    confirmed.add('user:a');
    expect(await second).toBe(true);
    expect((waits as any).byChannel.size).toBe(0);
  });

  it('a thousand waits on one channel go on with one confirmation; close ends the rest unconfirmed', async () => {
    const confirmed = new Set<string>();
    const waits = new ConfirmWaits((c) => confirmed.has(c));
    const many = Array.from({ length: 1000 }, (_, i) => waits.until([`user:${i}`, 'all'], 10_000));
    for (let i = 0; i < 500; i++) confirmed.add(`user:${i}`);
    confirmed.add('all');
    waits.confirmed(['all']);
    waits.close();
    const answers = await Promise.all(many);
    expect(answers.filter(Boolean)).toHaveLength(500);
    expect(answers.slice(0, 500).every(Boolean)).toBe(true);
    expect((waits as any).byChannel.size).toBe(0);
  });
});
