/**
 * The recorded message's text: what the recording script stores and
 * publishes (`r<offset>:<epoch>:<header>\n<text>`) reads back as it was
 * written, with its offset, and anything malformed reads as nothing.
 */
import { describe, expect, it } from 'vitest';
import { decodeRecorded, encodeBody, toEntry } from '../src/history-codec.js';

const text = JSON.stringify({ event: 'order', data: { id: 42, note: 'a line\nbreak and a colon: here' } });

describe('history codec', () => {
  it('a publication reads back as the record, with its offset and epoch', () => {
    const body = encodeBody({ userId: 'u1', filter: null, event: 'order', text });
    expect(decodeRecorded(`r17:ab12:${body}`)).toEqual({
      offset: 17,
      epoch: 'ab12',
      recorded: { userId: 'u1', filter: null, event: 'order', text, offset: 17 },
    });
    // A broadcast (no user), a scope filter, and the sender's traceparent.
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const decoded = decodeRecorded(`r3:e:${encodeBody({ userId: undefined, filter: 'room-1', event: 'news', text, tp })}`);
    expect(decoded?.recorded).toEqual({ userId: undefined, filter: 'room-1', event: 'news', text, offset: 3, tp });
    expect(Object.keys(decodeRecorded(`r1:e:${body}`)!.recorded)).not.toContain('tp');
  });

  it('anything malformed reads as nothing', () => {
    const body = encodeBody({ userId: 'u1', filter: true, event: 'order', text });
    for (const bad of [
      `r0:e:${body}`,
      `r-1:e:${body}`,
      `rx:e:${body}`,
      `r1e${body}`,
      'r1:e:{"u":"u1","f":null,"e":"order"}',
      `r1:e:{"u":1,"f":null,"e":"order"}\n${text}`,
      `r1:e:{"u":"u1","f":5,"e":"order"}\n${text}`,
      `r1:e:{"u":"u1","f":null}\n${text}`,
      `r1:e:not json\n${text}`,
      `r1:e:null\n${text}`,
    ]) {
      expect([bad, decodeRecorded(bad)]).toEqual([bad, undefined]);
    }
    // A traceparent that is not a string is dropped, the message kept.
    expect(decodeRecorded(`r1:e:{"u":"u1","f":null,"e":"order","tp":5}\n${text}`)?.recorded).toEqual({ userId: 'u1', filter: null, event: 'order', text, offset: 1 });
  });

  it('a stream entry reads back for its user only, without the traceparent', () => {
    const body = encodeBody({ userId: 'u1', filter: null, event: 'order', text, tp: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(toEntry('9-0', ['b', body, 't', '1700000000000'], 'u1')).toEqual({ userId: 'u1', filter: null, event: 'order', text, offset: 9, at: 1700000000000 });
    expect(toEntry('9-0', ['b', body, 't', '1'], 'u2')).toBeUndefined();
    expect(toEntry('9-0', ['t', '1'], 'u1')).toBeUndefined();
  });
});
