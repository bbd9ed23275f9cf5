import 'reflect-metadata';
import { Exclude, Expose, instanceToPlain } from 'class-transformer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toPlain } from '../src/to-plain.js';

/** What the client would receive: the JSON text, or the error's name. */
function wire(convert: (data: unknown) => unknown, data: unknown): string {
  try {
    return JSON.stringify({ data: convert(data) }) ?? 'undefined';
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

class Order {
  id = 'o-1';
  @Exclude() secret = 'internal';
  @Expose() get label(): string {
    return `order ${this.id}`;
  }
}

describe('toPlain: instanceToPlain without its cost for plain data', () => {
  it('returns plain data as it is (no copy, no class-transformer walk)', () => {
    const data = { status: 'shipped', items: [{ sku: 'A', qty: 2 }], note: null, n: 1.5, ok: true };
    expect(toPlain(data)).toBe(data);
    const bare = Object.assign(Object.create(null), { a: [1, 'x'] });
    expect(toPlain(bare)).toBe(bare);
    expect(toPlain('text')).toBe('text');
  });

  it('still applies class decorators to an instance nested anywhere inside plain data', () => {
    const data = { page: 1, rows: [{ order: new Order() }] };
    const out = toPlain(data);
    expect(out).not.toBe(data);
    expect(out).toEqual({ page: 1, rows: [{ order: { id: 'o-1', label: 'order o-1' } }] });
  });

  it('hands Dates, Maps, Sets, functions and bigints to class-transformer', () => {
    for (const odd of [new Date(0), new Map([['a', 1]]), new Set([1]), () => 1, 1n]) {
      expect(wire(toPlain, { odd })).toBe(wire(instanceToPlain, { odd }));
    }
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 40; i++) at = at.next = {} as Record<string, unknown>;
    expect(toPlain(deep)).not.toBe(deep);
    expect(wire(toPlain, deep)).toBe(wire(instanceToPlain, deep));
  });

  it('keeps "__proto__" and "constructor" keys of plain data, which class-transformer loses or throws on', () => {
    const data = JSON.parse('{"__proto__":{"a":1},"constructor":{"b":2},"c":3}');
    expect(JSON.stringify(toPlain(data))).toBe('{"__proto__":{"a":1},"constructor":{"b":2},"c":3}');
    expect(() => instanceToPlain(data)).toThrow();
  });

  it('gives the same wire text as instanceToPlain for any value', () => {
    const value = fc.oneof(
      fc.anything({
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withNullPrototype: true,
        withObjectString: true,
        withBoxedValues: true,
        withSparseArray: true,
      }),
      fc.record({ order: fc.constant(new Order()), tags: fc.array(fc.string()) }),
    );
    fc.assert(
      fc.property(value, (data) => {
        expect(wire(toPlain, data)).toBe(wire(instanceToPlain, data));
      }),
      { numRuns: 500 },
    );
  });
});
