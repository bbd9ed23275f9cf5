import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadline, DeadlineQueue } from '../../src/util/deadline-queue.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A deadline that records its name in `fired` when it fires. */
const recorder = (fired: string[]) => (name: string) => Deadline.of(() => fired.push(name));

describe('DeadlineQueue: when deadlines fire', () => {
  it('fires each at its own millisecond, earliest first, and ties in the order they were set', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const make = recorder(fired);
    const now = Date.now();
    queue.set(make('c'), now + 300);
    queue.set(make('a'), now + 100);
    queue.set(make('b1'), now + 200);
    queue.set(make('b2'), now + 200);
    vi.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['a', 'b1', 'b2']);
    vi.advanceTimersByTime(99);
    expect(fired).toEqual(['a', 'b1', 'b2']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a', 'b1', 'b2', 'c']);
    expect(queue.size).toBe(0);
  });

  it('moves a queued deadline later or earlier, and a deleted one never fires', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const make = recorder(fired);
    const now = Date.now();
    const later = make('later');
    const earlier = make('earlier');
    const gone = make('gone');
    queue.set(later, now + 100);
    queue.set(earlier, now + 500);
    queue.set(gone, now + 50);
    queue.set(later, now + 1000);
    queue.set(earlier, now + 20);
    queue.delete(gone);
    queue.delete(gone);
    expect(gone.queued).toBe(false);
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['earlier']);
    vi.advanceTimersByTime(979);
    expect(fired).toEqual(['earlier']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['earlier', 'later']);
  });

  it('fires a deadline further ahead than setTimeout can wait (2^31-1 ms) at its time', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const far = 2 ** 31 + 5_000;
    queue.set(recorder(fired)('far'), Date.now() + far);
    vi.advanceTimersByTime(far - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['far']);
  });

  it('a deadline set by a firing one fires at its own time; one already due fires in the same run', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const make = recorder(fired);
    const now = Date.now();
    const next = make('next');
    const due = make('due');
    queue.set(
      Deadline.of(() => {
        fired.push('first');
        queue.set(next, now + 200);
        queue.set(due, now);
      }),
      now + 100,
    );
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['first', 'due']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['first', 'due', 'next']);
  });

  it('a fire that throws goes to onError, and the deadlines after it still fire', () => {
    const errors: unknown[] = [];
    const queue = new DeadlineQueue((error) => errors.push(error));
    const fired: string[] = [];
    const now = Date.now();
    queue.set(
      Deadline.of(() => {
        throw new Error('boom');
      }),
      now + 10,
    );
    queue.set(recorder(fired)('same time'), now + 10);
    queue.set(recorder(fired)('later'), now + 20);
    vi.advanceTimersByTime(20);
    expect(errors).toEqual([new Error('boom')]);
    expect(fired).toEqual(['same time', 'later']);
  });
});

describe('DeadlineQueue: what it holds', () => {
  it('10,000 deadlines hold one Node timer; the timer is cleared once the last is deleted', () => {
    const queue = new DeadlineQueue();
    const now = Date.now();
    const deadlines = Array.from({ length: 10_000 }, (_, i) => {
      const deadline = Deadline.of(() => {});
      queue.set(deadline, now + 1_000 + (i % 97) * 10);
      return deadline;
    });
    expect(vi.getTimerCount()).toBe(1);
    expect(queue.size).toBe(10_000);
    // Moving them all (a refresh of every session) arms no further timer.
    for (const deadline of deadlines) queue.set(deadline, deadline.at + 60_000);
    expect(vi.getTimerCount()).toBe(1);
    for (const deadline of deadlines) queue.delete(deadline);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clear() takes every deadline out without firing it', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const deadline = recorder(fired)('a');
    queue.set(deadline, Date.now() + 10);
    queue.clear();
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([]);
    expect(deadline.queued).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires exactly what one timer per deadline would, in the same order, for any sets, moves and deletes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), which: fc.nat(7), at: fc.nat(500) }),
      fc.record({ kind: fc.constant('delete' as const), which: fc.nat(7) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(200) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        vi.useRealTimers();
        vi.useFakeTimers();
        const queue = new DeadlineQueue();
        const viaQueue: number[] = [];
        const viaTimers: number[] = [];
        const deadlines = Array.from({ length: 8 }, (_, i) => Deadline.of(() => viaQueue.push(i)));
        const timers = new Map<number, ReturnType<typeof setTimeout>>();
        for (const o of ops) {
          if (o.kind === 'set') {
            queue.set(deadlines[o.which]!, Date.now() + o.at);
            clearTimeout(timers.get(o.which));
            timers.set(o.which, setTimeout(() => { timers.delete(o.which); viaTimers.push(o.which); }, o.at));
          } else if (o.kind === 'delete') {
            queue.delete(deadlines[o.which]!);
            clearTimeout(timers.get(o.which));
            timers.delete(o.which);
          } else {
            vi.advanceTimersByTime(o.ms);
            expect(viaQueue).toEqual(viaTimers);
          }
        }
        vi.advanceTimersByTime(1_000);
        expect(viaQueue).toEqual(viaTimers);
        expect(queue.size).toBe(0);
        expect(vi.getTimerCount()).toBe(0);
      }),
    );
  });
});
