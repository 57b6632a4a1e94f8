/**
 * Typed errors with stable codes (undici style): callers branch on `err.code`, never on messages.
 * The CLI maps any NetsensorError to one line on stderr and its exitCode (2 for bad input/config).
 */
export type ErrorCode =
  | 'ERR_CAPTURE_NOT_FOUND'
  | 'ERR_CAPTURE_IS_DIRECTORY'
  | 'ERR_CAPTURE_FORMAT'
  | 'ERR_CAPTURE_TRUNCATED'
  | 'ERR_CORE_LOAD'
  | 'ERR_CORE_SCHEMA_MISMATCH'
  | 'ERR_CORE_ABI'
  | 'ERR_CONFIG'
  | 'ERR_USAGE'
  | 'ERR_MODEL_LOAD'
  | 'ERR_MODEL_INCOMPATIBLE'
  | 'ERR_EVENT_INVALID'
  | 'ERR_OTA_REJECTED'
  | 'ERR_KEY'
  | 'ERR_LIVE_CAPTURE'
  | 'ERR_OUTBOX'
  | 'ERR_OUTPUT'
  | 'ERR_ALERT_NOT_FOUND'
  | 'ERR_ALERT_HISTORY_INVALID'
  | 'ERR_NOT_LEADER';

export class NetsensorError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly detail?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: { exitCode?: number; cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NetsensorError';
    this.code = code;
    this.exitCode = opts.exitCode ?? 2;
    this.detail = opts.detail;
  }
}

export function isNetsensorError(e: unknown): e is NetsensorError {
  return e instanceof NetsensorError;
}
