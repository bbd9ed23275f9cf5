import { describe, expect, it } from 'vitest';
import { QueueFullErrors } from '../src/index.js';

describe('QueueFullErrors', () => {
  it('the first refusal of a run has a stack; those after it have none and share its message; a taken send starts a run again', () => {
    const errors = new QueueFullErrors('wshub: the queue is full');
    const appSendsHere = () => errors.next();
    const first = appSendsHere();
    const second = appSendsHere();
    expect(first).toBeInstanceOf(RangeError);
    expect(second).toBeInstanceOf(RangeError);
    expect(first.message).toBe('wshub: the queue is full');
    expect(second.message).toBe(first.message);
    expect(first.stack).toContain('appSendsHere');
    expect(second.stack).toBe('RangeError: wshub: the queue is full');
    errors.taken();
    expect(appSendsHere().stack).toContain('appSendsHere');
    // The process's own limit is left as it was.
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });
});
