/** The outbox table when none is named. */
export const DEFAULT_TABLE = 'wshub_outbox';

/** A table name, `name` or `schema.name`, each part quoted for SQL. */
export interface TableName {
  /** As given: also the NOTIFY channel, and part of each message id. */
  readonly name: string;
  /** `"schema"."name"` or `"name"`. */
  readonly sql: string;
  /** The last part, for the index name. */
  readonly base: string;
}

const PART = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Parses `name` or `schema.name` of plain identifiers (nothing that needs escaping), or returns undefined. */
export function parseTableName(name: unknown): TableName | undefined {
  if (typeof name !== 'string') return undefined;
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => PART.test(p))) return undefined;
  return { name, sql: parts.map((p) => `"${p}"`).join('.'), base: parts[parts.length - 1]! };
}

/**
 * The DDL of the outbox, for `install()` and for migration tools; every
 * statement is idempotent.
 *
 * - `id` is the delivery order (see the lock rules in `outbox.ts` for why it
 *   equals commit order per user).
 * - `message_id` goes with the message to the hub, which drops a repeat:
 *   unique across tables and databases (ids alone would collide when two
 *   databases relay into one hub).
 * - `data` and `filter` are `json`, not `jsonb`: `json` keeps the text as the
 *   app wrote it (jsonb would reorder an object's keys).
 * - A row that could not be delivered keeps `dead_at` and `error`; the
 *   partial index keeps the relay's scan to the rows still to deliver.
 * - `traceparent`: the W3C traceparent of the span active when the row was
 *   written (the app's request), for the relay's `wshub.send` to link to;
 *   NULL without tracing. Added by `ALTER … IF NOT EXISTS` too, so
 *   `install()` upgrades a table made by an earlier version.
 */
export function outboxSql(table: string = DEFAULT_TABLE): string {
  const t = parseTableName(table);
  if (!t) throw new TypeError(tableRule(table));
  return `CREATE TABLE IF NOT EXISTS ${t.sql} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id uuid NOT NULL DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('message', 'push', 'disconnect')),
  user_id text,
  event text,
  data json,
  filter json,
  created_at timestamptz NOT NULL DEFAULT now(),
  dead_at timestamptz,
  error text,
  traceparent text
);
ALTER TABLE ${t.sql} ADD COLUMN IF NOT EXISTS traceparent text;
CREATE INDEX IF NOT EXISTS "${t.base}_pending" ON ${t.sql} (id) WHERE dead_at IS NULL;
`;
}

export function tableRule(value: unknown): string {
  const got = typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
  return `wshub outbox: option "table" must be "name" or "schema.name" of letters, digits and underscores, got ${got}`;
}

/** FNV-1a: a stable 32-bit number for a table name, the base of its advisory lock keys. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The advisory lock keys of one outbox table. */
export interface LockKeys {
  /** Class of the per-user transaction locks (`pg_advisory_xact_lock(int, int)`). */
  readonly userClass: number;
  /** The broadcast lock (bigint): shared by user rows, exclusive for a push. */
  readonly broadcast: string;
  /** The relay's leader lock (bigint), held for the relay's session. */
  readonly leader: string;
}

export function lockKeys(table: string): LockKeys {
  const h = hash32(table);
  // The two-int and one-bigint advisory locks are separate key spaces, so the
  // user locks cannot collide with the two bigint keys.
  return { userClass: h | 0, broadcast: String(h * 2), leader: String(h * 2 + 1) };
}
