import { describeError, GpumonError } from '../errors.ts';
import type { InputFile } from './engine.ts';

/** The error of work stopped by `signal`: its reason when that is a GpumonError, else ANALYTICS_DEADLINE_EXCEEDED. */
export function abortError(signal: AbortSignal): GpumonError {
  if (signal.reason instanceof GpumonError) return signal.reason;
  return new GpumonError(
    'ANALYTICS_DEADLINE_EXCEEDED',
    `stopped by its signal: ${describeError(signal.reason)}`,
    {
      cause: signal.reason,
    },
  );
}

/** ARCHIVE_FILE_CORRUPT of one input file, which it carries: the daily job can set that file aside. */
export class CorruptFileError extends GpumonError {
  constructor(
    readonly file: InputFile,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ARCHIVE_FILE_CORRUPT', message, options);
  }
}

/**
 * ARCHIVE_FILE_CORRUPT for an input file an engine could not read: the first line of the engine's message,
 * with the file's location (`spelled`, by default `file.location`) replaced by its name.
 */
export function corruptFileError(
  file: InputFile,
  message: string,
  cause: unknown,
  spelled: string | RegExp = file.location,
): CorruptFileError {
  const text =
    typeof spelled === 'string'
      ? firstLine(message).replaceAll(spelled, file.name)
      : firstLine(message).replace(spelled, file.name);
  return new CorruptFileError(file, `archive file ${file.name} cannot be read as Parquet: ${text}`, {
    cause,
  });
}

/** The first line of an engine's message (the rest is its stack or plan). */
export function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
