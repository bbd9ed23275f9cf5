import { describe, expect, it } from 'vitest';
import { ClaimWaits } from '../../src/brokers/worker-claims.js';

/** The relay's claims of users, with the answers they got, as `<claimer>#<id> <user>`. */
function claims() {
  const answered: string[] = [];
  const waits = new ClaimWaits<string>((link, id, userId) => answered.push(`${link}#${id} ${userId}`));
  return { waits, answered };
}

describe('ClaimWaits: a claim waits until every holder told it is no longer alone has said so', () => {
  it('with nobody to wait for, a claim is answered at once', () => {
    const { waits, answered } = claims();
    waits.claim('u', 'B', 1);
    expect(answered).toEqual(['B#1 u']);
  });

  it("a claim waits for the lone holder's acknowledgement; later claims wait with it and are answered together", () => {
    const { waits, answered } = claims();
    waits.told('u', 'A');
    waits.claim('u', 'B', 1);
    waits.claim('u', 'C', 2);
    waits.claim('v', 'C', 3); // another user: nothing to wait for
    expect(answered).toEqual(['C#3 v']);
    waits.settled('u', 'B'); // not awaited: changes nothing
    expect(answered).toEqual(['C#3 v']);
    waits.settled('u', 'A');
    expect(answered).toEqual(['C#3 v', 'B#1 u', 'C#2 u']);
    // Settled once: a late acknowledgement is ignored, and the next claim goes at once.
    waits.settled('u', 'A');
    waits.claim('u', 'D', 4);
    expect(answered).toEqual(['C#3 v', 'B#1 u', 'C#2 u', 'D#4 u']);
  });

  it("a holder that left or died is not waited for: settling it answers, as its acknowledgement would", () => {
    const { waits, answered } = claims();
    waits.told('u', 'A');
    waits.told('u', 'B');
    waits.claim('u', 'C', 1);
    waits.settled('u', 'A'); // A acknowledged
    expect(answered).toEqual([]);
    waits.settled('u', 'B'); // B died before it could
    expect(answered).toEqual(['C#1 u']);
  });
});
