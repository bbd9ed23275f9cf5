/**
 * keySlot is Redis Cluster's slot function (CRC16 XMODEM of the key's UTF-8
 * bytes, or of its hash tag, mod 16384). redis-cluster.test.ts checks it
 * against a live cluster's CLUSTER KEYSLOT; this checks the ASCII path
 * (no Buffer) against the byte-wise definition, also around non-ASCII keys.
 */
import { describe, expect, it } from 'vitest';
import { keySlot, SLOTS } from '../src/key-slot.js';

/** The definition, byte by byte over the UTF-8 encoding, as Redis computes it. */
function reference(key: string): number {
  const start = key.indexOf('{');
  if (start !== -1) {
    const end = key.indexOf('}', start + 1);
    if (end > start + 1) key = key.slice(start + 1, end);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

describe('keySlot', () => {
  it("gives Redis's documented slots", () => {
    // CLUSTER KEYSLOT examples of the Redis documentation.
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('')).toBe(0);
  });

  it('agrees with the byte-wise definition on ASCII, non-ASCII and hash-tagged keys', () => {
    const keys = [
      'wshub:user:alice',
      'wshub:all',
      'wshub:presence:{abc}',
      'a{}b',
      '{}',
      'x{y',
      'wshub:user:josé',
      'wshub:user:用户',
      'wshub:user:😀',
      '{é}tail',
      'é{ascii}',
      '\u007f\u0080',
    ];
    // Random strings over ASCII and a few multi-byte characters.
    const alphabet = 'abcXYZ019:{}-_ éü€用😀';
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let i = 0; i < 2000; i++) {
      const chars = [...alphabet];
      let key = '';
      const length = Math.floor(random() * 24);
      for (let j = 0; j < length; j++) key += chars[Math.floor(random() * chars.length)];
      keys.push(key);
    }
    for (const key of keys) expect([key, keySlot(key)]).toEqual([key, reference(key)]);
  });
});
