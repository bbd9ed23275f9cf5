import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// Internal modules, tested directly: they are not part of the package's exports.
import { type DeliveryFilter, matchesFilter, toDeliveryFilter } from '../src/routing/delivery-filter.js';
import { UserRegistry } from '../src/routing/user-registry.js';
import { WatchRegistry } from '../src/routing/watch-registry.js';

interface S {
  name: string;
  watches: Map<string, Set<string | null>> | undefined;
}
const socket = (name: string): S => ({ name, watches: undefined });

describe('WatchRegistry keeps socket.watches and the index in step', () => {
  it('adds, refuses duplicates, removes exactly, and deletes empty entries', () => {
    const r = new WatchRegistry<S>();
    const a = socket('a');
    expect(r.countOf(a)).toBe(0);
    r.removeSocket(a);
    expect(a.watches).toBeUndefined();
    expect(r.add(a, 'e', '1')).toBe(true);
    expect(r.add(a, 'e', '1')).toBe(false);
    expect(r.add(a, 'e', null)).toBe(true);
    expect(r.countOf(a)).toBe(2);
    expect(r.remove(a, 'e', '2')).toBe(false);
    expect(r.remove(a, 'e', '1')).toBe(true);
    expect([...a.watches!]).toEqual([['e', new Set([null])]]);
    r.removeSocket(a);
    expect(a.watches!.size).toBe(0);
    expect(r.eventCount).toBe(0);
  });

  it('match(true) and match(scope) return each socket once', () => {
    const r = new WatchRegistry<S>();
    const a = socket('a');
    const b = socket('b');
    r.add(a, 'e', '1');
    r.add(a, 'e', null);
    r.add(b, 'e', '2');
    expect([...r.match('e', true)].map((s) => s.name).sort()).toEqual(['a', 'b']);
    expect([...r.match('e', '1')].map((s) => s.name)).toEqual(['a']);
    expect([...r.match('e', '2')].map((s) => s.name).sort()).toEqual(['a', 'b']);
    expect([...r.match('other', true)]).toEqual([]);
  });
});

describe('UserRegistry', () => {
  it('reports the first socket in and the last socket out of a room', () => {
    const r = new UserRegistry<string>();
    expect(r.add('u', 's1')).toBe(true);
    expect(r.add('u', 's2')).toBe(false);
    expect(r.remove('u', 's1')).toBe(false);
    expect(r.remove('u', 'nope')).toBe(false);
    expect(r.remove('u', 's2')).toBe(true);
    expect(r.has('u')).toBe(false);
    expect(r.size).toBe(0);
  });
});

describe('toDeliveryFilter', () => {
  it.each([
    [undefined, null],
    [null, null],
    [false, null],
    [true, true],
    [42, '42'],
    [0, '0'],
    ['x', 'x'],
  ])('%j → %j', (input, output) => {
    expect(toDeliveryFilter(input as never)).toBe(output);
  });
  it.each([[{}], [Number.NaN], [[1]]])('%j is a TypeError', (input) => {
    expect(() => toDeliveryFilter(input as never)).toThrow(TypeError);
  });
});

/**
 * Property: after any sequence of watch/unwatch operations, the registry's
 * index and the per-socket filter agree with a reference model that is just
 * a set of (socket, event, payload) triples.
 */
describe('watch registry + delivery filter against a reference model', () => {
  const sockets = ['s0', 's1', 's2', 's3'];
  const events = ['e0', 'e1', '__proto__'];
  const payloads = [null, '1', '2', '42'];
  const op = fc.record({
    kind: fc.constantFrom('add', 'remove', 'drop'),
    socket: fc.constantFrom(...sockets),
    event: fc.constantFrom(...events),
    payload: fc.constantFrom(...payloads),
  });

  it('match() and matchesFilter() agree with the model for every event and filter', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const registry = new WatchRegistry<S>();
        const real = new Map(sockets.map((n) => [n, socket(n)]));
        const model = new Set<string>();
        const key = (s: string, e: string, p: string | null) => JSON.stringify([s, e, p]);
        for (const o of ops) {
          const s = real.get(o.socket)!;
          if (o.kind === 'add') {
            expect(registry.add(s, o.event, o.payload)).toBe(!model.has(key(o.socket, o.event, o.payload)));
            model.add(key(o.socket, o.event, o.payload));
          } else if (o.kind === 'remove') {
            expect(registry.remove(s, o.event, o.payload)).toBe(model.delete(key(o.socket, o.event, o.payload)));
          } else {
            registry.removeSocket(s);
            for (const k of [...model]) if (JSON.parse(k)[0] === o.socket) model.delete(k);
          }
        }
        const modelMatches = (s: string, e: string, f: DeliveryFilter) => {
          if (f === null) return true;
          const mine = [...model].map((k) => JSON.parse(k) as [string, string, string | null]).filter(([ms, me]) => ms === s && me === e);
          if (f === true) return mine.length > 0;
          return mine.some(([, , p]) => p === f || p === null);
        };
        for (const e of events) {
          for (const f of [null, true, '1', '2', '42', '7'] as DeliveryFilter[]) {
            const expected = sockets.filter((s) => modelMatches(s, e, f));
            expect(sockets.filter((s) => matchesFilter(real.get(s)!, e, f))).toEqual(expected);
            if (f !== null) expect([...registry.match(e, f)].map((s) => s.name).sort()).toEqual(expected);
          }
          for (const s of sockets) {
            expect(registry.countOf(real.get(s)!)).toBe([...model].filter((k) => JSON.parse(k)[0] === s).length);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
