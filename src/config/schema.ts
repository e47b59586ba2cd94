import { z } from 'zod';

/**
 * The one configuration schema: every key with its type, allowed range, default and help. Validation, the
 * `Config` type, `GPUMON_*` environment variables and docs/configuration.md all derive from this table.
 *
 * Keys are dotted paths; the environment variable is GPUMON_ + the path in upper snake case
 * (`server.port` -> `GPUMON_SERVER_PORT`). `aliases` are other environment names accepted for a key (the
 * original dashboard's ConfigMap names).
 */
export interface ConfigField {
  readonly schema: z.ZodType;
  readonly default: unknown;
  /** The allowed values, in words, for error messages and docs. */
  readonly allowed: string;
  readonly help: string;
  readonly aliases?: readonly string[];
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const bool = () =>
  z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

export const SOURCE_TYPES = ['auto', 'nvml', 'nvidia-smi', 'rocm-smi', 'dcgm', 'gpuz', 'sim'] as const;
export const ANALYTICS_ENGINES = ['duckdb', 'spark'] as const;
export const INFLUXDB_COMPRESSIONS = ['auto', 'gzip', 'none'] as const;
export const SERVER_AUTH_MODES = ['token', 'none'] as const;
export const SERVE_LIVE_MODES = ['auto', 'influxdb', 'none'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const PROMETHEUS_NAMES = ['both', 'gpumon', 'dcgm'] as const;

export const CONFIG_FIELDS = {
  'source.type': {
    schema: z.enum(SOURCE_TYPES),
    default: 'auto',
    allowed: SOURCE_TYPES.join(' | '),
    help: 'Where samples come from. auto: NVML, else nvidia-smi, else rocm-smi, else the simulator (with a notice).',
  },
  'source.intervalMs': {
    schema: int(100, 3_600_000),
    default: 1000,
    allowed: 'integer 100..3600000',
    help: 'Sampling interval in milliseconds.',
  },
  'source.host': {
    schema: z.string(),
    default: '',
    allowed: "a host name, or empty for this machine's",
    help: "The host name samples carry (default: the machine's host name).",
  },
  'source.hostRoot': {
    schema: z.string().min(1),
    default: '/',
    allowed: 'a directory path',
    help:
      "Where the host's proc and sys are read for the host metrics (CPU temperature, CPU utilization, memory): " +
      "/ on the machine itself; in a container with the node's /proc and /sys mounted at /host/proc and /host/sys: /host.",
  },
  'source.nvml.library': {
    schema: z.string().min(1),
    default: 'libnvidia-ml.so.1',
    allowed: 'a library name or path',
    help: 'NVML: the library to load (the driver installs libnvidia-ml.so.1).',
  },
  'source.nvidiaSmi.path': {
    schema: z.string().min(1),
    default: 'nvidia-smi',
    allowed: 'a command name or path',
    help: 'nvidia-smi: the command to run (looked up on PATH).',
  },
  'source.rocmSmi.path': {
    schema: z.string().min(1),
    default: 'rocm-smi',
    allowed: 'a command name or path',
    help: 'rocm-smi: the command to run (looked up on PATH).',
  },
  'source.dcgm.url': {
    schema: z.string().regex(/^https?:\/\/\S+$/),
    default: 'http://127.0.0.1:9400/metrics',
    allowed: 'an http(s) URL',
    help: 'dcgm: the metrics endpoint of a dcgm-exporter to scrape.',
  },
  'source.gpuz.file': {
    schema: z.string(),
    default: '',
    allowed: 'a path to a GPU-Z "Sensor Log.txt"',
    help: 'GPU-Z: the sensor log to replay or follow (required with source.type gpuz).',
  },
  'source.gpuz.speed': {
    schema: num(0.01, 100_000),
    default: 1,
    allowed: 'number 0.01..100000',
    help: 'GPU-Z: replay speed, a multiple of the time recorded in the log.',
  },
  'source.gpuz.loop': {
    schema: bool(),
    default: false,
    allowed: 'true | false',
    help: 'GPU-Z: start the log again from its first line when the replay reaches its end.',
  },
  'source.gpuz.follow': {
    schema: bool(),
    default: false,
    allowed: 'true | false',
    help: 'GPU-Z: follow the log as GPU-Z appends to it (live), instead of replaying it.',
  },
  'source.gpuz.timeZone': {
    schema: z.string().min(1),
    default: 'UTC',
    allowed: 'an IANA time zone name',
    help: "GPU-Z: the time zone of the log's Date column (GPU-Z writes local time without a zone).",
  },
  'source.sim.hosts': {
    schema: int(1, 100_000),
    default: 2,
    allowed: 'integer 1..100000',
    help: 'Simulator: number of hosts.',
  },
  'source.sim.gpusPerHost': {
    schema: int(1, 64),
    default: 4,
    allowed: 'integer 1..64',
    help: 'Simulator: GPUs per host.',
  },
  'source.sim.seed': {
    schema: int(0, 2 ** 31 - 1),
    default: 42,
    allowed: 'integer 0..2147483647',
    help: 'Simulator: seed; the same seed gives the same fleet and the same samples.',
  },
  'alerts.highTempCelsius': {
    schema: num(0, 150),
    default: 80,
    allowed: 'number 0..150',
    help: 'A sample at or above this GPU temperature (°C) raises a high-temperature alert.',
    aliases: ['HIGH_TEMP_THRESHOLD'],
  },
  'alerts.highCpuTempCelsius': {
    schema: num(0, 150),
    default: 80,
    allowed: 'number 0..150',
    help:
      'A host sample at or above this CPU temperature (°C) counts as a high-CPU-temperature alert in the daily ' +
      'analytics (host_daily_stats).',
  },
  'alerts.highLoadPercent': {
    schema: num(0, 100),
    default: 90,
    allowed: 'number 0..100',
    help: 'A sample at or above this GPU utilization (%) raises a high-load alert.',
    aliases: ['HIGH_LOAD_THRESHOLD'],
  },
  'alerts.tempSpikeCelsius': {
    schema: num(0.1, 100),
    default: 5,
    allowed: 'number 0.1..100',
    help: 'A rise of more than this many °C between consecutive samples of one GPU is a temperature spike.',
    aliases: ['TEMP_SPIKE_THRESHOLD'],
  },
  'alerts.highPowerPercent': {
    schema: num(1, 200),
    default: 95,
    allowed: 'number 1..200',
    help: 'A sample drawing at or above this percent of its enforced power limit raises a high-power alert.',
    aliases: ['HIGH_POWER_THRESHOLD'],
  },
  'alerts.repeatSeconds': {
    schema: int(0, 86_400),
    default: 300,
    allowed: 'integer 0..86400',
    help:
      '`gpumon consume` writes an alert to gpu_alerts when a rule starts to fire on a GPU, then again every ' +
      'this many seconds while it keeps firing; 0 writes every sample that fires. (The live page of ' +
      '`gpumon up` flags GPUs from every sample either way.)',
  },
  'kafka.brokers': {
    schema: z.string().regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/),
    default: '127.0.0.1:9092',
    allowed: 'host:port[,host:port...]',
    help: 'Kafka bootstrap brokers (agent and consume).',
  },
  'kafka.topic': {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
    default: 'gpu-metrics',
    allowed: 'a Kafka topic name',
    help: 'Topic the agents write samples to and the consumers read.',
  },
  'kafka.dlqTopic': {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
    default: 'gpu-metrics-dlq',
    allowed: 'a Kafka topic name',
    help: 'Dead-letter topic: malformed messages go there, with the reason in a header.',
  },
  'kafka.partitions': {
    schema: int(1, 10_000),
    default: 12,
    allowed: 'integer 1..10000',
    help: "Partitions of the topics when gpumon creates them (records are keyed by the node's host name).",
  },
  'kafka.compression': {
    schema: z.enum(['lz4', 'snappy', 'gzip', 'none']),
    default: 'lz4',
    allowed: 'lz4 | snappy | gzip | none',
    help: 'Compression of produced batches.',
  },
  'kafka.clientId': {
    schema: z.string().min(1),
    default: 'gpumon',
    allowed: 'a client id',
    help: 'Kafka client id (a prefix: each client adds its role).',
  },
  'kafka.groupPrefix': {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/),
    default: 'gpumon',
    allowed: 'letters, digits, . _ -',
    help:
      'Consumer groups of `gpumon consume` are <prefix>-influxdb and <prefix>-archive. Give each deployment ' +
      'that shares a Kafka cluster its own prefix.',
  },
  'agent.spoolPath': {
    schema: z.string().min(1),
    default: './spool',
    allowed: 'a directory path',
    help: 'Where the agent keeps samples while Kafka is unreachable (survives restarts).',
  },
  'agent.spoolMaxBytes': {
    schema: int(1024 * 1024, Number.MAX_SAFE_INTEGER),
    default: 256 * 1024 * 1024,
    allowed: 'integer >= 1048576',
    help: 'Bound of the spool; beyond it the oldest samples are dropped and counted.',
  },
  'influxdb.url': {
    schema: z.string().regex(/^https?:\/\/\S+$/),
    default: 'http://127.0.0.1:8086',
    allowed: 'an http(s) URL',
    help: 'InfluxDB base URL (1.x API: /write and /query; 2.x/3.x through their v1-compatible endpoints).',
  },
  'influxdb.database': {
    schema: z.string().min(1),
    default: 'gpumon',
    allowed: 'a database (bucket) name',
    help: 'Database to write to (on 2.x/3.x: the bucket mapped to it).',
  },
  'influxdb.retentionPolicy': {
    schema: z.string(),
    default: '',
    allowed: 'a retention policy name, or empty for the default',
    help: 'Retention policy of the writes.',
  },
  'influxdb.username': {
    schema: z.string(),
    default: '',
    allowed: 'a user name, or empty',
    help: 'InfluxDB 1.x user (basic auth).',
  },
  'influxdb.password': {
    schema: z.string(),
    default: '',
    allowed: 'a password, or empty',
    help: 'InfluxDB 1.x password.',
  },
  'influxdb.token': {
    schema: z.string(),
    default: '',
    allowed: 'an API token, or empty',
    help: 'InfluxDB 2.x/3.x token, sent as `Authorization: Token ...` to the v1-compatible endpoints.',
  },
  'influxdb.batchLines': {
    schema: int(1, 100_000),
    default: 5000,
    allowed: 'integer 1..100000',
    help: 'Lines of line protocol per write request.',
  },
  'influxdb.flushMs': {
    schema: int(1, 60_000),
    default: 100,
    allowed: 'integer 1..60000',
    help:
      'gpumon consume writes a batch to InfluxDB once it holds 2 x batchLines samples or its first sample has ' +
      'waited this long: the most a sample waits before its write starts (freshness), at a write per flushMs ' +
      'when the fleet is slower than that (a consumer catching up fills batches first and is not slowed).',
  },
  'influxdb.writesInFlight': {
    schema: int(1, 8),
    default: 2,
    allowed: 'integer 1..8',
    help:
      'Batches gpumon consume writes to InfluxDB at a time: with 2, the next batch is written while the one ' +
      'before is still in flight, so a slow write does not hold up the samples behind it. Offsets are ' +
      'still committed in order, each once every batch before it is written.',
  },
  'influxdb.timeoutMs': {
    schema: int(100, 600_000),
    default: 10_000,
    allowed: 'integer 100..600000',
    help: 'Timeout of one write request; a timed-out write is retried.',
  },
  'influxdb.compression': {
    schema: z.enum(INFLUXDB_COMPRESSIONS),
    default: 'auto',
    allowed: INFLUXDB_COMPRESSIONS.join(' | '),
    help:
      'Compression of write requests. auto: gzip, except to an InfluxDB on this machine (a loopback URL), ' +
      'where compressing only costs CPU; gzip or none: always.',
  },
  'stream.windowSeconds': {
    schema: int(1, 3600),
    default: 30,
    allowed: 'integer 1..3600',
    help: 'Window of the per-GPU aggregates the consumer writes to InfluxDB (gpu_metrics_30s).',
  },
  'archive.path': {
    schema: z.string().min(1),
    default: './data',
    allowed: 'a directory path',
    help: 'Root of the archive: samples under gpu-metrics/, results under gpu-analytics/. A local directory, or HDFS as webhdfs://namenode:httpport/path or hdfs://namenode:rpcport/path (/ for the root of the file system: /gpu-metrics, /gpu-analytics).',
  },
  'archive.hdfsUser': {
    schema: z.string().min(1),
    default: 'gpumon',
    allowed: 'a user name',
    help: 'HDFS archive: the user of WebHDFS simple authentication (Kerberos is not supported yet).',
  },
  'archive.webhdfsPort': {
    schema: int(1, 65535),
    default: 9870,
    allowed: 'integer 1..65535',
    help: 'HDFS archive given as hdfs://namenode:rpcport/path: the NameNode HTTP port that serves WebHDFS.',
  },
  'archive.statePath': {
    schema: z.string(),
    default: '',
    allowed: 'a local directory path, or empty',
    help: 'Where local state (the analytics run history) lives; empty: <archive.path>/state for a local archive, ./state for HDFS.',
  },
  'archive.rowGroupSize': {
    schema: int(1024, 10_000_000),
    default: 122_880,
    allowed: 'integer 1024..10000000',
    help: 'Rows per Parquet row group.',
  },
  'archive.flushIntervalMs': {
    schema: int(100, 3_600_000),
    default: 60_000,
    allowed: 'integer 100..3600000',
    help: 'Longest time a sample waits in memory before it is written to the archive.',
  },
  'archive.flushMaxRows': {
    schema: int(1, 10_000_000),
    default: 200_000,
    allowed: 'integer 1..10000000',
    help: 'A batch of this many samples is written at once, without waiting for the interval.',
  },
  'archive.spoolPath': {
    schema: z.string(),
    default: '',
    allowed: 'a local directory path, or empty',
    help:
      'gpumon up: the write-ahead log of the samples not yet in the archive. Each sample is appended and ' +
      'fdatasync-ed here as it is taken, deleted once its batch is in the archive, and written to the archive ' +
      'at the next start after a crash or a stop that ran out of time. Empty: <archive.statePath or its ' +
      'default>/archive-spool.',
  },
  'archive.spoolMaxBytes': {
    schema: int(1024 * 1024, Number.MAX_SAFE_INTEGER),
    default: 1024 * 1024 * 1024,
    allowed: 'integer >= 1048576',
    help:
      'gpumon up: bound of the archive spool; while the archive is away longer than it holds, its oldest ' +
      'segments are dropped (they stay in memory until archived, but a crash then loses them).',
  },
  'analytics.maxGapSeconds': {
    schema: num(0.001, 86_400),
    default: 60,
    allowed: 'number 0.001..86400',
    help:
      'Two consecutive samples of a GPU further apart than this are a gap: no spike is paired across it, and ' +
      'no energy, idle or wasted time is counted over it.',
  },
  'analytics.idleLoadPercent': {
    schema: num(0, 100),
    default: 5,
    allowed: 'number 0..100',
    help: 'A GPU below this utilization (%) is idle.',
  },
  'analytics.idleMemoryBytes': {
    schema: int(0, Number.MAX_SAFE_INTEGER),
    default: 1024 ** 3,
    allowed: 'integer >= 0',
    help: 'An idle GPU with more than this much memory in use is idle while holding memory: wasted GPU time.',
  },
  'analytics.memoryLimit': {
    schema: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i),
    default: '2GB',
    allowed: 'a size such as 2GB or 512MiB',
    help: "Memory limit of the DuckDB engine; beyond it, DuckDB spills to disk. Exact percentiles (each GPU's power) are held outside it, bounded by analytics.percentilePartSamples.",
  },
  'analytics.percentilePartSamples': {
    schema: int(1000, Number.MAX_SAFE_INTEGER),
    default: 50_000_000,
    allowed: 'integer >= 1000',
    help: "Each GPU's exact power percentiles hold every reading until computed, outside analytics.memoryLimit (about 14 bytes a sample): a day with more samples is computed over parts of the GPUs of about this many samples each (at most one part a GPU), one more read of two columns per part. Lower it to bound the job's memory further.",
  },
  'analytics.threads': {
    schema: int(0, 1024),
    default: 0,
    allowed: 'integer 0..1024 (0: one per core)',
    help: 'Threads of the DuckDB engine.',
  },
  'analytics.engine': {
    schema: z.enum(ANALYTICS_ENGINES),
    default: 'duckdb',
    allowed: ANALYTICS_ENGINES.join(' | '),
    help: 'The SQL engine of the daily analytics: duckdb (in-process) or spark (a Spark Connect server, analytics.sparkRemote). Both give the same results (docs/analytics.md).',
  },
  'analytics.sparkRemote': {
    schema: z.string().regex(/^sc:\/\/[^\s/:;]+(:\d{1,5})?(\/(;[a-z_]+=[^;\s]*)*)?$/),
    default: 'sc://127.0.0.1:15002',
    allowed: 'sc://host[:port][/;use_ssl=true;token=...;user_id=...]',
    help: 'The Spark Connect server of the spark engine (Apache Spark 4); the port defaults to 15002.',
  },
  'analytics.skipCorrupt': {
    schema: bool(),
    default: false,
    allowed: 'true | false',
    help:
      'A Parquet file of the day that cannot be read is moved to <archive>/quarantine/date=D/ and the day is ' +
      'analysed without it, marked partial (summary.json, the run record, the log). false: the day fails with ' +
      'ARCHIVE_FILE_CORRUPT naming the file (`gpumon analyze --skip-corrupt` sets it for one run).',
  },
  'analytics.writeInfluxdb': {
    schema: bool(),
    default: false,
    allowed: 'true | false',
    help:
      'Also write the results of each day to InfluxDB (influxdb.*), as the measurements gpu_daily_stats, ' +
      'gpu_hourly_patterns, gpu_temperature_spikes, gpu_correlations, gpu_idle_time, gpu_pod_usage and gpu_daily_summary ' +
      '(docs/influxdb.md); a rerun of a day replaces its points. If InfluxDB cannot be reached the run fails ' +
      '(ANALYTICS_INFLUXDB_WRITE_FAILED) and the Parquet results stay. Off by default (influxdb.url has a ' +
      'default, so "when configured" cannot be told apart); `gpumon analyze --write-influxdb` sets it for one run.',
  },
  'schedule.enabled': {
    schema: bool(),
    default: true,
    allowed: 'true | false',
    help: '`gpumon up` runs the daily analytics on the schedule below.',
  },
  'schedule.cron': {
    schema: z.string().min(1),
    default: '0 2 * * *',
    allowed: 'a 5-field cron expression',
    help: 'When the daily analytics job runs (it analyses the previous day).',
  },
  'schedule.timezone': {
    schema: z.string().min(1),
    default: 'UTC',
    allowed: 'an IANA time zone name',
    help: 'Time zone of the cron expression.',
  },
  'schedule.hourly': {
    schema: bool(),
    default: true,
    allowed: 'true | false',
    help:
      '`gpumon up` keeps the hourly partials of the daily analytics (the window pass of each closed hour, ' +
      'under gpu-analytics/partials/), so the night reads them instead of computing those hours again.',
  },
  'schedule.hourlyCron': {
    schema: z.string().min(1),
    default: '5 * * * *',
    allowed: 'a 5-field cron expression (UTC)',
    help:
      'When the hourly partial runs (each computes the last closed UTC hour): a few minutes past the hour, so ' +
      'its samples (archive.flushIntervalMs, analytics.maxGapSeconds) are in the archive.',
  },
  'schedule.retries': {
    schema: int(0, 10),
    default: 2,
    allowed: 'integer 0..10',
    help: 'Retries of a failed run (Kubernetes Job backoffLimit).',
  },
  'schedule.backoffSeconds': {
    schema: num(0, 3600),
    default: 10,
    allowed: 'number 0..3600',
    help: 'Wait before the first retry; doubled for each further retry.',
  },
  'schedule.deadlineSeconds': {
    schema: num(1, 86_400),
    default: 7200,
    allowed: 'number 1..86400',
    help: 'A run still going after this long is stopped and failed (activeDeadlineSeconds).',
  },
  'schedule.successfulHistory': {
    schema: int(0, 100),
    default: 3,
    allowed: 'integer 0..100',
    help: 'Successful runs kept in the history (successfulJobsHistoryLimit).',
  },
  'schedule.failedHistory': {
    schema: int(0, 100),
    default: 3,
    allowed: 'integer 0..100',
    help: 'Failed runs kept in the history (failedJobsHistoryLimit).',
  },
  'server.host': {
    schema: z.string().min(1),
    default: '127.0.0.1',
    allowed: 'a host name or address',
    help: 'Address the HTTP server listens on (0.0.0.0 for every interface).',
  },
  'server.port': {
    schema: int(0, 65535),
    default: 8080,
    allowed: 'integer 0..65535 (0: any free port)',
    help: 'Port of the HTTP server (dashboard and API).',
  },
  'server.auth': {
    schema: z.enum(SERVER_AUTH_MODES),
    default: 'token',
    allowed: SERVER_AUTH_MODES.join(' | '),
    help:
      'token: with server.tokenFile, every request to the API, the live stream and /metrics needs that token; ' +
      'without one, the server listens on loopback only and refuses to start on any other address. none: no ' +
      'token, on any address (a warning at start): only behind a proxy that authenticates. See docs/security.md.',
  },
  'server.tokenFile': {
    schema: z.string(),
    default: '',
    allowed: 'a file path, or empty',
    help:
      'A file holding the bearer token of the HTTP server (at least 16 characters; surrounding whitespace is ' +
      'ignored), e.g. a Kubernetes Secret mounted as a file. Read once at start.',
  },
  'server.allowedHosts': {
    schema: z.string().regex(/^\s*([^\s,]+\s*(,\s*[^\s,]+\s*)*)?$/),
    default: '',
    allowed: 'comma-separated host names; .example.com for a domain and its subdomains; * for any',
    help:
      'Host headers the server answers besides localhost, IP addresses and server.host (against DNS ' +
      'rebinding); any other gets 403 HOST_NOT_ALLOWED.',
  },
  'server.corsOrigins': {
    schema: z.string().regex(/^\s*(https?:\/\/[^\s,/]+\s*(,\s*https?:\/\/[^\s,/]+\s*)*)?$/),
    default: '',
    allowed: 'comma-separated origins such as https://grafana.example.com, or empty',
    help: 'Origins that other pages may call the API from (CORS, with the token). Empty: none (CORS off).',
  },
  'server.tlsCertFile': {
    schema: z.string(),
    default: '',
    allowed: 'a PEM file path, or empty',
    help: 'Serve HTTPS with this certificate chain (with server.tlsKeyFile). Empty: plain HTTP.',
  },
  'server.tlsKeyFile': {
    schema: z.string(),
    default: '',
    allowed: 'a PEM file path, or empty',
    help: 'The private key of server.tlsCertFile.',
  },
  'server.maxConcurrentReads': {
    schema: int(1, 64),
    default: 4,
    allowed: 'integer 1..64',
    help: 'Analytics result reads (GET /api/analytics/<date>/<analysis>) run at a time, on one shared DuckDB instance with this many connections; more wait in a queue.',
  },
  'server.maxQueuedReads': {
    schema: int(0, 10_000),
    default: 64,
    allowed: 'integer 0..10000',
    help: 'Result reads that may wait for a turn; beyond, the server answers 503 SERVER_BUSY with Retry-After.',
  },
  'server.maxResultRows': {
    schema: int(1, 1_000_000),
    default: 10_000,
    allowed: 'integer 1..1000000',
    help: 'Rows of one analytics result response at most; a longer result says `truncated: true` (ask again with `?offset=`).',
  },
  'server.maxStreams': {
    schema: int(1, 100_000),
    default: 100,
    allowed: 'integer 1..100000',
    help: 'Live streams (GET /api/stream) open at a time; beyond, the server answers 503 SERVER_BUSY with Retry-After.',
  },
  'server.streamMaxBufferedBytes': {
    schema: int(4096, 1_073_741_824),
    default: 1_048_576,
    allowed: 'integer 4096..1073741824',
    help: 'A live stream client that leaves more than this many bytes unsent (it reads too slowly) is disconnected.',
  },
  'serve.live': {
    schema: z.enum(SERVE_LIVE_MODES),
    default: 'auto',
    allowed: SERVE_LIVE_MODES.join(' | '),
    help:
      'gpumon serve: where the live fleet comes from. influxdb: polled from InfluxDB (influxdb.*), the samples ' +
      '`gpumon consume` writes; it keeps polling while InfluxDB is away. auto: influxdb if InfluxDB answers a ' +
      'query at start, else none. none: no live data (the analytics results only).',
  },
  'serve.pollMs': {
    schema: int(500, 600_000),
    default: 2000,
    allowed: 'integer 500..600000',
    help: 'gpumon serve with serve.live influxdb: how often the new samples are read from InfluxDB.',
  },
  'serve.querySeries': {
    schema: int(1, 10_000),
    default: 100,
    allowed: 'integer 1..10000',
    help: 'gpumon serve with serve.live influxdb: GPUs per InfluxDB query (SLIMIT); more GPUs take more queries.',
  },
  'serve.queryPoints': {
    schema: int(100, 1_000_000),
    default: 20_000,
    allowed: 'integer 100..1000000',
    help:
      'gpumon serve with serve.live influxdb: samples one InfluxDB query returns at most; the start, which ' +
      'reads the whole live window, splits it into spans of (queryPoints / querySeries) sampling intervals.',
  },
  'health.host': {
    schema: z.string().min(1),
    default: '127.0.0.1',
    allowed: 'a host name or address',
    help: 'gpumon agent and consume: address of the health server (on Kubernetes: the pod IP).',
  },
  'health.port': {
    schema: int(0, 65535),
    default: 0,
    allowed: 'integer 0..65535 (0: no health server)',
    help: 'gpumon agent and consume: port of the health server (/healthz, /readyz, /metrics); 0 turns it off.',
  },
  'kubernetes.podResourcesSocket': {
    schema: z
      .union([z.enum(['', 'off']), z.string().regex(/^\/\S*$/)])
      .transform((v) => (v === 'off' ? '' : v)),
    default: '/var/lib/kubelet/pod-resources/kubelet.sock',
    allowed: 'an absolute path, or off (or empty)',
    help:
      "gpumon agent and up: the kubelet's pod-resources socket, asked which pod holds each GPU, so samples carry " +
      'namespace, pod and container (null when no pod holds the GPU or the socket is absent). off turns it off.',
  },
  'kubernetes.refreshMs': {
    schema: int(1000, 600_000),
    default: 10_000,
    allowed: 'integer 1000..600000',
    help: 'How often the kubelet is asked which pods hold the GPUs (off the sampling loop), in milliseconds.',
  },
  'kubernetes.timeoutMs': {
    schema: int(100, 60_000),
    default: 2000,
    allowed: 'integer 100..60000',
    help: "The longest one question to the kubelet's pod-resources API may take, in milliseconds.",
  },
  'prometheus.names': {
    schema: z.enum(PROMETHEUS_NAMES),
    default: 'both',
    allowed: PROMETHEUS_NAMES.join(' | '),
    help:
      'The GPU metrics on /metrics (gpumon agent, up, serve): gpumon names (gpu_temperature_celsius{host,gpu,uuid,model}), ' +
      "dcgm-exporter's names, labels and units (DCGM_FI_DEV_GPU_TEMP{gpu,UUID,device,modelName,Hostname,...}: " +
      'its dashboards and alert rules work unchanged), or both (docs/prometheus.md).',
  },
  'shutdown.timeoutMs': {
    schema: int(1000, 3_600_000),
    default: 20_000,
    allowed: 'integer 1000..3600000',
    help:
      'gpumon up and consume: the longest a stop (SIGTERM, Ctrl-C) takes. Writes to the archive and InfluxDB ' +
      'are retried until a few seconds before it; what they did not take stays in the archive spool (up) or ' +
      'uncommitted in Kafka (consume), and the exit status is 75. Keep it below the Kubernetes grace period ' +
      '(terminationGracePeriodSeconds, 30 s by default).',
  },
  'live.windowSeconds': {
    schema: int(10, 86_400),
    default: 900,
    allowed: 'integer 10..86400',
    help: 'How much recent history per GPU the live view keeps in memory.',
  },
  'log.level': {
    schema: z.enum(LOG_LEVELS),
    default: 'info',
    allowed: LOG_LEVELS.join(' | '),
    help: 'Log level (logs go to stderr as JSON lines).',
  },
} as const satisfies Record<string, ConfigField>;

export type ConfigKey = keyof typeof CONFIG_FIELDS;

/** The validated configuration, nested by the dotted keys above. */
export interface Config {
  source: {
    type: (typeof SOURCE_TYPES)[number];
    intervalMs: number;
    host: string;
    hostRoot: string;
    nvml: { library: string };
    nvidiaSmi: { path: string };
    rocmSmi: { path: string };
    dcgm: { url: string };
    gpuz: { file: string; speed: number; loop: boolean; follow: boolean; timeZone: string };
    sim: { hosts: number; gpusPerHost: number; seed: number };
  };
  alerts: {
    highTempCelsius: number;
    highCpuTempCelsius: number;
    highLoadPercent: number;
    tempSpikeCelsius: number;
    highPowerPercent: number;
    repeatSeconds: number;
  };
  kafka: {
    brokers: string;
    topic: string;
    dlqTopic: string;
    partitions: number;
    compression: 'lz4' | 'snappy' | 'gzip' | 'none';
    clientId: string;
    groupPrefix: string;
  };
  agent: { spoolPath: string; spoolMaxBytes: number };
  influxdb: {
    url: string;
    database: string;
    retentionPolicy: string;
    username: string;
    password: string;
    token: string;
    batchLines: number;
    flushMs: number;
    writesInFlight: number;
    timeoutMs: number;
    compression: (typeof INFLUXDB_COMPRESSIONS)[number];
  };
  stream: { windowSeconds: number };
  archive: {
    path: string;
    hdfsUser: string;
    webhdfsPort: number;
    statePath: string;
    rowGroupSize: number;
    flushIntervalMs: number;
    flushMaxRows: number;
    spoolPath: string;
    spoolMaxBytes: number;
  };
  analytics: {
    maxGapSeconds: number;
    idleLoadPercent: number;
    idleMemoryBytes: number;
    memoryLimit: string;
    percentilePartSamples: number;
    threads: number;
    engine: (typeof ANALYTICS_ENGINES)[number];
    sparkRemote: string;
    skipCorrupt: boolean;
    writeInfluxdb: boolean;
  };
  schedule: {
    enabled: boolean;
    cron: string;
    hourly: boolean;
    hourlyCron: string;
    timezone: string;
    retries: number;
    backoffSeconds: number;
    deadlineSeconds: number;
    successfulHistory: number;
    failedHistory: number;
  };
  server: {
    host: string;
    port: number;
    auth: (typeof SERVER_AUTH_MODES)[number];
    tokenFile: string;
    allowedHosts: string;
    corsOrigins: string;
    tlsCertFile: string;
    tlsKeyFile: string;
    maxConcurrentReads: number;
    maxQueuedReads: number;
    maxResultRows: number;
    maxStreams: number;
    streamMaxBufferedBytes: number;
  };
  serve: {
    live: (typeof SERVE_LIVE_MODES)[number];
    pollMs: number;
    querySeries: number;
    queryPoints: number;
  };
  health: { host: string; port: number };
  kubernetes: { podResourcesSocket: string; refreshMs: number; timeoutMs: number };
  prometheus: { names: (typeof PROMETHEUS_NAMES)[number] };
  shutdown: { timeoutMs: number };
  live: { windowSeconds: number };
  log: { level: (typeof LOG_LEVELS)[number] };
}

export function envName(key: string): string {
  return `GPUMON_${key
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}
