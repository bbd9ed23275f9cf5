import { describe, expect, it } from 'vitest';
import { ThrottledReporter } from '../src/throttled-reporter.js';

function reporter(intervalMs = 1000) {
  let now = 0;
  const out: string[] = [];
  const r = new ThrottledReporter((error) => out.push(error.message), intervalMs, () => now);
  const advance = (ms: number) => {
    now += ms;
  };
  return { r, out, advance };
}

describe('ThrottledReporter: at most one report per kind and interval', () => {
  it('reports the first at once, holds back the rest of the interval, then reports again', () => {
    const { r, out, advance } = reporter();
    expect(r.report('publish', new Error('a'))).toBe(true);
    expect(r.report('publish', new Error('b'))).toBe(false);
    expect(r.report('subscribe', 'c')).toBe(true); // kinds are independent; non-errors become errors
    advance(1000);
    expect(r.report('publish', new Error('d'))).toBe(true);
    expect(out).toEqual(['a', 'c', 'd']);
  });

  it('tells a message factory how many reports it held back', () => {
    const { r, out, advance } = reporter();
    const make = (skipped: number) => new Error(`ignored ${skipped + 1}`);
    r.report('ignored', make);
    r.report('ignored', make);
    r.report('ignored', make);
    advance(1500);
    r.report('ignored', make);
    expect(out).toEqual(['ignored 1', 'ignored 3']);
  });

  it('once() reports until reset(), whatever the time', () => {
    const { r, out, advance } = reporter();
    expect(r.once('connection', new Error('down'))).toBe(true);
    advance(60_000);
    expect(r.once('connection', new Error('still down'))).toBe(false);
    r.reset('connection');
    expect(r.once('connection', new Error('down again'))).toBe(true);
    expect(out).toEqual(['down', 'down again']);
  });

  it('refuses an interval that is not a number of at least 0', () => {
    expect(() => new ThrottledReporter(() => {}, -1)).toThrow('"intervalMs" must be a number of at least 0, got -1');
  });
});
