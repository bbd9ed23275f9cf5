import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../src/backoff.js';

const settings = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0 };

describe('reconnectDelay', () => {
  it.each([
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1000],
    [50, 1000],
    [5000, 1000],
  ])('without jitter, attempt %i waits the ceiling %i ms', (attempt, expected) => {
    expect(reconnectDelay(attempt, settings, 0.5)).toBe(expected);
  });

  it('with full jitter, spreads the delay over 0 to the ceiling', () => {
    const full = { ...settings, jitter: 1 };
    expect(reconnectDelay(2, full, 0)).toBe(400);
    expect(reconnectDelay(2, full, 0.25)).toBe(300);
    expect(reconnectDelay(2, full, 0.999_999)).toBe(0);
  });

  it('with partial jitter, keeps the fixed share of the ceiling', () => {
    const half = { ...settings, jitter: 0.5 };
    expect(reconnectDelay(3, half, 0.999_999)).toBe(400);
    expect(reconnectDelay(3, half, 0)).toBe(800);
  });

  it('with factor 1, keeps a constant ceiling', () => {
    expect(reconnectDelay(7, { ...settings, factor: 1 }, 0)).toBe(100);
  });
});
