/** A W3C `traceparent`, version 00: `00-<trace id>-<span id>-<flags>`. */
export const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Whether `value` is a W3C `traceparent` the hub can link to (version 00, ids not all zero). */
export function isTraceparent(value: unknown): value is string {
  const [, traceId, spanId] = (typeof value === 'string' && TRACEPARENT.exec(value)) || [];
  return traceId !== undefined && !/^0+$/.test(traceId) && !/^0+$/.test(spanId!);
}
