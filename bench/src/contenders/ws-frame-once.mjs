/**
 * Hand-rolled `ws`, frame once: one stringify and one frame per message,
 * one socket write per recipient. The per-message limit: what any hub that
 * writes each message separately can at best reach.
 */
import { textFrame, writeFrame } from './ws-frame.mjs';
import { framedContender } from './ws-framed.mjs';

export const start = framedContender(textFrame, writeFrame);
