/**
 * The one error class of gpumon. Every failure that reaches a user carries a `code` from `ERROR_CODES`, a
 * message that names the input at fault, and the underlying `cause` when there is one.
 * The codes and their meanings are listed in docs/errors.md, generated from ERROR_MEANINGS.
 */
export const ERROR_MEANINGS = {
  CONFIG_INVALID:
    'A configuration key or value is wrong; the message names the key, its origin and what is allowed.',
  CONFIG_FILE_UNREADABLE: 'The configuration file named by --config or GPUMON_CONFIG cannot be read.',
  SAMPLE_INVALID: 'A sample does not match the metric catalog (missing metric, wrong type, out of range).',
  SOURCE_UNAVAILABLE: 'The GPU source asked for cannot be used on this machine.',
  SOURCE_READ_FAILED: 'Reading the GPU source failed as a whole (single metrics that fail are null instead).',
  ARCHIVE_WRITE_FAILED: 'A Parquet file could not be written or moved into the archive.',
  ARCHIVE_READ_FAILED: 'The archive could not be listed or read.',
  ARCHIVE_NOT_WRITABLE:
    'The archive (or its spool) cannot be written, checked at start: the path is a file, read-only, on a full ' +
    'disk, or HDFS refuses the write; the message names the path.',
  ARCHIVE_FILE_CORRUPT: 'A Parquet file of the archive is unreadable; the message names it.',
  TEMP_FILE_FAILED:
    'A private temporary directory or file (under TMPDIR) cannot be made, or a directory there is not private ' +
    'to this user; the message names the path (the archive is not at fault).',
  ANALYTICS_NO_DATA: 'The archive holds no samples for the date asked for.',
  ANALYTICS_QUERY_FAILED: 'An analysis query failed; the message names the analysis and the date.',
  ANALYTICS_DEADLINE_EXCEEDED: 'An analytics run went past its deadline and was stopped.',
  ANALYTICS_ENGINE_UNAVAILABLE:
    'The analytics engine (a Spark Connect server) cannot be reached; the message names its address.',
  ANALYTICS_INFLUXDB_WRITE_FAILED:
    'The daily results could not be written to InfluxDB (analytics.writeInfluxdb): unreachable, a refused ' +
    'delete or point; the message names the URL and database. The Parquet results of the date are published; ' +
    'the run fails, and running the date again retries.',
  LIVE_READ_FAILED:
    'gpumon serve could not read the live fleet from InfluxDB (unreachable, refused, or an answer that is not ' +
    'a query result); the message names the URL and database. It keeps polling: /api/health says degraded.',
  POD_RESOURCES_FAILED:
    "The kubelet's pod-resources API (kubernetes.podResourcesSocket) could not be asked which pods hold the " +
    'GPUs: no socket, nothing answering, too slow, or an error; the message names the socket. Sampling goes on, ' +
    'the samples carry no pod until it answers again.',
  SCHEDULE_INVALID: 'The schedule (cron expression, time zone) or its run history is invalid.',
  SINK_WRITE_FAILED: 'A sink refused a batch; the pipeline retries it.',
  SINK_ABANDONED:
    'A stop reached shutdown.timeoutMs before a sink had written every sample: gpumon up keeps them in its ' +
    'archive spool for the next start, gpumon consume leaves their offsets uncommitted (Kafka delivers them again).',
  SPOOL_IN_USE:
    'The spool directory is held by another running gpumon process (its lock file names the pid).',
  TRANSPORT_CLOSED: 'Samples were published after the transport was closed.',
  USAGE: 'A command-line argument is wrong; the message names the flag.',
} as const;

export type ErrorCode = keyof typeof ERROR_MEANINGS;

export const ERROR_CODES = Object.keys(ERROR_MEANINGS) as ErrorCode[];

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
