/**
 * An error the hub reports through `'error'`: a user callback that threw or
 * rejected, a failed write, or a broker failure. `source` names where it came
 * from (`'authenticate'`, `'canWatch'`, `'serialize'`, `'push allow'`,
 * `'push data'`, `'broker'`, …); `cause` is the original error.
 */
export class HubError extends Error {
  override readonly name = 'HubError';

  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static from(source: string, cause: unknown, context?: string): HubError {
    const text = cause instanceof Error ? cause.message : String(cause);
    return new HubError(source, `wshub: ${source} failed${context ? ` (${context})` : ''}: ${text}`, { cause });
  }
}
