/**
 * The message every contender delivers: about 200 bytes on the wire as
 * `{"event":"bench","data":{…}}`, shaped like an application notification.
 */

export const EVENT = 'bench';
export const SCOPED_EVENT = 'scoped';

/** A DTO class, so the class-transformer contender has an instance to convert. */
export class OrderUpdate {
  constructor(seq, t) {
    this.id = 'order-4711';
    this.status = 'shipped';
    this.seq = seq;
    this.t = t;
    this.total = 1234.5;
    this.items = [
      { sku: 'SKU-1', qty: 2 },
      { sku: 'SKU-2', qty: 1 },
    ];
    this.note = 'arrives tomorrow';
  }
}

/** The data of message `seq`, stamped with send time `t` (µs, see clock.mjs). */
export function makeData(seq, t = 0) {
  return new OrderUpdate(seq, t);
}

/** Wire size of one message in the hub's format, for the report. */
export function messageBytes() {
  return Buffer.byteLength(JSON.stringify({ event: EVENT, data: makeData(123456, 1e15) }));
}

/** Bench users: token `u<index>:d<device>` → `{ id, deviceFingerprint }`. */
export function tokenFor(user, device) {
  return `u${user}:d${device}`;
}

export function userFromToken(token) {
  if (typeof token !== 'string') throw new Error('no token');
  const colon = token.indexOf(':');
  if (colon <= 0) throw new Error('bad token');
  return { id: token.slice(0, colon), deviceFingerprint: token.slice(colon + 1) };
}

/** `?token=` from an upgrade request, as the seed's README suggests apps do it. */
export function userFromRequest(req) {
  const url = req.url ?? '';
  const at = url.indexOf('token=');
  if (at === -1) throw new Error('no token');
  const end = url.indexOf('&', at);
  return userFromToken(decodeURIComponent(url.slice(at + 6, end === -1 ? undefined : end)));
}

export function scopeOf(index, scopes) {
  return `s${index % scopes}`;
}
