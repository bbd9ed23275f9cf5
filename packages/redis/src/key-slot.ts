/** Number of hash slots in Redis Cluster. */
export const SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The Redis Cluster hash slot of a key or sharded channel: CRC16 (XMODEM) of
 * its bytes modulo 16384, or of its hash tag — the part between the first
 * `{` and the next `}`, when that part is not empty.
 */
export function keySlot(key: string): number {
  const start = key.indexOf('{');
  if (start !== -1) {
    const end = key.indexOf('}', start + 1);
    if (end > start + 1) key = key.slice(start + 1, end);
  }
  // ASCII (every channel and key the hub names, unless a user id is not): its chars are its UTF-8 bytes, no Buffer needed.
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return crc16(Buffer.from(key, 'utf8')) % SLOTS;
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ c) & 0xff]!;
  }
  return crc % SLOTS;
}
