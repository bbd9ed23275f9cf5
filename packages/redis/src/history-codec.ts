import type { DeliveryFilter, HistoryEntry, HistoryRecord, RecordedMessage } from '@wshub/core';

/*
 * How a recorded message is written: in a stream entry, the body
 * `<header>\n<text>` (header: `{"u":userId|null,"f":filter,"e":event,"tp"?:traceparent}`) and
 * the time; on a channel, `r<offset>:<epoch>:<body>`. Everything read back is
 * checked: a malformed entry or publication is refused, never delivered.
 */

/** The body of a record, as the recording script stores and publishes it. */
export function encodeBody(record: HistoryRecord): string {
  // `tp`: the sender's traceparent, for each node's wshub.deliver (older nodes ignore it).
  const header = JSON.stringify({ u: record.userId ?? null, f: record.filter, e: record.event, tp: record.tp });
  return `${header}\n${record.text}`;
}

const isFilter = (f: unknown): f is DeliveryFilter => f === null || f === true || typeof f === 'string';

/** Parses `r<offset>:<epoch>:<header>\n<text>`; `undefined` for anything malformed. */
export function decodeRecorded(text: string): { offset: number; epoch: string; recorded: RecordedMessage } | undefined {
  const a = text.indexOf(':');
  const b = text.indexOf(':', a + 1);
  if (a < 2 || b < 0) return undefined;
  const offset = Number(text.slice(1, a));
  if (!Number.isSafeInteger(offset) || offset <= 0) return undefined;
  // The body is read in place, and the message made once (no copies by spreading: this runs per message received).
  const recorded = parseBody(text, b + 1, offset);
  if (!recorded) return undefined;
  return { offset, epoch: text.slice(a + 1, b), recorded };
}

/** A body read back: a recorded message (`offset`: the one given), with the sender's traceparent when it has one. */
type ParsedBody = { -readonly [K in keyof RecordedMessage]: RecordedMessage[K] } & { tp?: string };

/** Parses the body that starts at `from` in `text`; `undefined` when malformed. */
function parseBody(text: string, from: number, offset: number | undefined): ParsedBody | undefined {
  const nl = text.indexOf('\n', from);
  if (nl < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(text.slice(from, nl));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const { u, f, e, tp } = header as { u?: unknown; f?: unknown; e?: unknown; tp?: unknown };
  if ((u !== null && typeof u !== 'string') || !isFilter(f) || typeof e !== 'string') return undefined;
  const parsed: ParsedBody = { userId: u ?? undefined, filter: f, event: e, text: text.slice(nl + 1), offset };
  // Read leniently, as an envelope's: one that is not a string is dropped, a malformed string ignored by the tracer.
  if (typeof tp === 'string') parsed.tp = tp;
  return parsed;
}

/** A stream entry (`<offset>-0`, fields `b` body and `t` time) of `userId`'s stream (`undefined`: the broadcasts'); `undefined` when malformed or another user's. */
export function toEntry(id: string, fields: string[], userId: string | undefined): HistoryEntry | undefined {
  let body: string | undefined;
  let at = 0;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'b') body = fields[i + 1];
    else if (fields[i] === 't') at = Number(fields[i + 1]);
  }
  const parsed = body === undefined ? undefined : parseBody(body, 0, undefined);
  if (!parsed || parsed.userId !== userId) return undefined;
  // A replay is not traced: the entry does not keep the traceparent.
  return { userId: parsed.userId, filter: parsed.filter, event: parsed.event, text: parsed.text, offset: Number(id.slice(0, id.indexOf('-'))), at };
}
