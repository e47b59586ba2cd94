/**
 * The one error class of gpumon. Every failure that reaches a user carries a `code` from `ERROR_CODES`, a
 * message that names the input at fault, and the underlying `cause` when there is one.
 * The codes are listed with their meaning in docs/errors.md.
 */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'CONFIG_FILE_UNREADABLE',
  'SAMPLE_INVALID',
  'SOURCE_UNAVAILABLE',
  'SOURCE_READ_FAILED',
  'ARCHIVE_WRITE_FAILED',
  'ARCHIVE_READ_FAILED',
  'ARCHIVE_FILE_CORRUPT',
  'ANALYTICS_NO_DATA',
  'ANALYTICS_QUERY_FAILED',
  'ANALYTICS_DEADLINE_EXCEEDED',
  'SCHEDULE_INVALID',
  'SINK_WRITE_FAILED',
  'TRANSPORT_CLOSED',
  'USAGE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class GpumonError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GpumonError';
    this.code = code;
  }
}

export function isGpumonError(err: unknown, code?: ErrorCode): err is GpumonError {
  return err instanceof GpumonError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, with the chain of causes. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof GpumonError) parts.push(`[${current.code}] ${current.message}`);
    else if (current instanceof Error) parts.push(current.message);
    else parts.push(String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
