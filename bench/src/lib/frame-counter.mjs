/**
 * Counts the WebSocket messages in a server → client byte stream without
 * decoding them: the load generator's receive path. ws's Receiver costs
 * about a microsecond per message (parse, buffer, emit); at a million
 * deliveries per second that alone would make the load process the
 * bottleneck. This reads only frame headers, and in latency mode the
 * first bytes of each payload (where the send stamp is).
 *
 * Frames from a server are never masked (RFC 6455 §5.1).
 */

const HEAD_BYTES = 160;
const EMPTY = Buffer.alloc(0);

export class FrameCounter {
  /**
   * @param {(opcode: number, head: Buffer) => void} onFrame called per
   *   message and per control frame; `head` holds the first
   *   `captureHead()` bytes of the payload (control frames: all of it).
   * @param {() => number} captureHead how many payload bytes to keep (0: none)
   */
  constructor(onFrame, captureHead) {
    this.onFrame = onFrame;
    this.captureHead = captureHead;
    this.header = Buffer.alloc(14);
    this.headerHave = 0;
    this.headerNeed = 2;
    this.remaining = -1; // payload bytes left in the current frame; -1 = reading a header
    this.opcode = 0; // of the current frame, continuation resolved to its message's
    this.messageOpcode = 0;
    this.fin = false;
    this.head = null;
    this.headHave = 0;
  }

  push(chunk) {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.remaining < 0) {
        // Header: 2 bytes, then 0/2/8 bytes of extended length.
        while (this.headerHave < this.headerNeed && i < n) this.header[this.headerHave++] = chunk[i++];
        if (this.headerHave < this.headerNeed) return;
        if (this.headerNeed === 2) {
          const len = this.header[1] & 0x7f;
          if (len === 126) this.headerNeed = 4;
          else if (len === 127) this.headerNeed = 10;
          if (this.headerNeed > 2) continue;
        }
        this.startPayload();
        if (this.remaining === 0) this.endFrame();
        continue;
      }
      const take = Math.min(this.remaining, n - i);
      if (this.head && this.headHave < this.head.length) {
        const copy = Math.min(take, this.head.length - this.headHave);
        chunk.copy(this.head, this.headHave, i, i + copy);
        this.headHave += copy;
      }
      i += take;
      this.remaining -= take;
      if (this.remaining === 0) this.endFrame();
    }
  }

  startPayload() {
    const b0 = this.header[0];
    const len7 = this.header[1] & 0x7f;
    let length = len7;
    if (len7 === 126) length = this.header.readUInt16BE(2);
    else if (len7 === 127) length = this.header.readUIntBE(4, 6);
    this.fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode > 0 && opcode < 8) this.messageOpcode = opcode;
    this.opcode = opcode === 0 ? this.messageOpcode : opcode;
    this.remaining = length;
    const keep = opcode >= 8 ? length : Math.min(length, this.captureHead(), HEAD_BYTES);
    this.head = keep > 0 ? Buffer.allocUnsafe(keep) : null;
    this.headHave = 0;
  }

  endFrame() {
    const head = this.head ? this.head.subarray(0, this.headHave) : null;
    const opcode = this.opcode;
    this.remaining = -1;
    this.headerHave = 0;
    this.headerNeed = 2;
    this.head = null;
    if (this.fin || opcode >= 8) this.onFrame(opcode, head ?? EMPTY);
  }
}
