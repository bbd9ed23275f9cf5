import { describe, expect, it } from 'vitest';
import { OutageBuffer } from '../src/outage-buffer.js';

const limits = { maxMessages: 3, maxBytes: 10, maxAgeMs: 100 };

describe('the outage buffer keeps the newest publishes within count, bytes and age', () => {
  it('keeps order and drops the oldest beyond maxMessages', () => {
    const buffer = new OutageBuffer(limits);
    expect([1, 2, 3, 4, 5].map((n) => buffer.push('c', String(n), 0))).toEqual([0, 0, 0, 1, 1]);
    expect(buffer.drain().map((h) => h.data)).toEqual(['3', '4', '5']);
    expect(buffer.length).toBe(0);
    expect(buffer.bytes).toBe(0);
  });

  it('drops the oldest beyond maxBytes, and a publish larger than maxBytes at once', () => {
    const buffer = new OutageBuffer(limits);
    buffer.push('c', 'aaaa', 0);
    buffer.push('c', 'bbbb', 0);
    expect(buffer.push('c', 'cccc', 0)).toBe(1);
    expect(buffer.bytes).toBe(8);
    expect(buffer.push('c', 'x'.repeat(11), 0)).toBe(1);
    expect(buffer.drain().map((h) => h.data)).toEqual(['bbbb', 'cccc']);
  });

  it('counts UTF-8 bytes', () => {
    const buffer = new OutageBuffer(limits);
    expect(buffer.push('c', 'ééééé', 0)).toBe(0);
    expect(buffer.bytes).toBe(10);
    expect(buffer.push('c', 'é', 0)).toBe(1);
  });

  it('expires publishes older than maxAgeMs, oldest first', () => {
    const buffer = new OutageBuffer(limits);
    buffer.push('c', '1', 0);
    buffer.push('c', '2', 50);
    buffer.push('c', '3', 120);
    expect(buffer.expire(100)).toBe(0);
    expect(buffer.expire(151)).toBe(2);
    expect(buffer.drain().map((h) => h.data)).toEqual(['3']);
  });

  it('holds nothing with maxMessages 0', () => {
    const buffer = new OutageBuffer({ ...limits, maxMessages: 0 });
    expect(buffer.push('c', '1', 0)).toBe(1);
    expect(buffer.length).toBe(0);
  });

  it('takes the publishes of open lanes, oldest first, and keeps the others in order with their counts', () => {
    const buffer = new OutageBuffer({ maxMessages: 4, maxBytes: 100, maxAgeMs: 100 });
    for (const [data, lane] of [['a1', 1], ['b1', 2], ['a2', 1], ['b2', 2]] as const) buffer.push('c', data, 0, lane);
    const asked: number[] = [];
    const open = (lane: number) => {
      asked.push(lane);
      return lane === 2;
    };
    expect(buffer.take(open).map((h) => h.data)).toEqual(['b1', 'b2']);
    expect(asked).toEqual([1, 2]); // once per lane
    expect([buffer.heldIn(1), buffer.heldIn(2), buffer.length, buffer.bytes]).toEqual([2, 0, 2, 4]);
    // Dropping the oldest beyond the bound updates its lane's count.
    for (const data of ['x1', 'x2', 'x3']) buffer.push('c', data, 0, 3);
    expect([buffer.heldIn(1), buffer.heldIn(3)]).toEqual([1, 3]); // a1 went
    expect(buffer.take(() => true).map((h) => h.data)).toEqual(['a2', 'x1', 'x2', 'x3']);
    expect(buffer.heldIn(3)).toBe(0);
  });

  it('keeps its memory in line with what it holds after long churn', () => {
    const buffer = new OutageBuffer({ maxMessages: 10, maxBytes: 1000, maxAgeMs: 100 });
    for (let i = 0; i < 100_000; i++) buffer.push('c', 'x', i);
    expect(buffer.length).toBe(10);
    expect((buffer as unknown as { items: unknown[] }).items.length).toBeLessThan(2100);
  });
});
