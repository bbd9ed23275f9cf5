/**
 * Hand-rolled `ws`, frame once and coalesce: like frame-once, but each
 * socket is corked for the rest of the tick, so a burst leaves as one
 * `writev` per socket. The burst limit.
 */
import { textFrame, writeFrameCoalesced } from './ws-frame.mjs';
import { framedContender } from './ws-framed.mjs';

export const start = framedContender(textFrame, writeFrameCoalesced);
