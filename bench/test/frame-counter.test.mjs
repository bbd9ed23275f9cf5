/** The load generator's frame reader agrees with ws's framing, however the stream is split. */
import fc from 'fast-check';
import { Sender } from 'ws';
import { describe, expect, it } from 'vitest';
import { FrameCounter } from '../src/lib/frame-counter.mjs';

const frame = (payload, opcode = 1) =>
  Buffer.concat(Sender.frame(Buffer.from(payload), { fin: true, opcode, mask: false, readOnly: false, rsv1: false }));

describe('FrameCounter', () => {
  it('counts every message and keeps the first bytes, across any split of the stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(200, 70_000).map((n) => 'x'.repeat(n))), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => frame(m)));
          const seen = [];
          const counter = new FrameCounter((opcode, head) => seen.push([opcode, head.toString()]), () => 8);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const at of [...points, stream.length]) {
            counter.push(stream.subarray(from, at));
            from = at;
          }
          expect(seen).toEqual(messages.map((m) => [1, m.slice(0, 8)]));
        },
      ),
    );
  });

  it('hands control frames over whole', () => {
    const seen = [];
    const counter = new FrameCounter((opcode, head) => seen.push([opcode, head.toString()]), () => 0);
    counter.push(Buffer.concat([frame('ping!', 0x9), frame('data'), frame('', 0x8)]));
    expect(seen).toEqual([
      [9, 'ping!'],
      [1, ''],
      [8, ''],
    ]);
  });
});
