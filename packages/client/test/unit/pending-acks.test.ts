import { describe, expect, it } from 'vitest';
import { MAX_PENDING_ACKS, PendingAcks } from '../../src/share/pending-acks.js';

/** A message as the shared connection's client hands it out, recording its confirmation. */
const message = (id: string, confirmed: string[]) => ({ id, ack: () => confirmed.push(id) });

describe('PendingAcks (share, ack: manual)', () => {
  it('the first ack confirms; later, unknown and malformed ones do nothing', () => {
    const confirmed: string[] = [];
    const acks = new PendingAcks();
    acks.hold(message('a.1', confirmed));
    acks.ack('a.1');
    acks.ack('a.1');
    acks.ack('forged');
    acks.ack({ id: 'a.1' });
    expect(confirmed).toEqual(['a.1']);
  });

  it(`keeps at most ${MAX_PENDING_ACKS}: the oldest is forgotten; a closed socket forgets all`, () => {
    const confirmed: string[] = [];
    const acks = new PendingAcks();
    for (let n = 0; n <= MAX_PENDING_ACKS; n++) acks.hold(message(`a.${n}`, confirmed));
    acks.ack('a.0');
    acks.ack('a.1');
    acks.ack(`a.${MAX_PENDING_ACKS}`);
    expect(confirmed).toEqual(['a.1', `a.${MAX_PENDING_ACKS}`]);
    acks.clear();
    acks.ack('a.2');
    expect(confirmed).toHaveLength(2);
  });
});
