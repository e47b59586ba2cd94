/**
 * Where a Spark analysis's time goes, from two views (bench/engines/run.ts):
 * - Spark's: its event log (JSON lines, spark.eventLog.enabled): the Spark Connect operations (started ->
 *   finished: analysis, planning and the jobs; finished -> closed: the results streamed to the client), the
 *   SQL executions and the jobs, each as the union of their spans within a time window;
 * - gpumon's: the Spark engine's debug log (pino JSON lines on stderr): 'Spark call done' per call (its
 *   round trip in ms, Arrow bytes, decoding ms), 'Spark result written to Parquet', 'Spark result converted
 *   to rows'.
 */

export interface EventLogSplit {
  /** Connect operations: started -> finished, summed (they do not overlap: one call at a time). */
  executeMs: number;
  /** Connect operations: finished -> closed, summed. */
  streamMs: number;
  /** Connect operations: started -> closed, summed. */
  operationMs: number;
  operations: number;
  /** Union of the SQL executions' spans. */
  sqlMs: number;
  sqlExecutions: number;
  /** Union of the jobs' spans. */
  jobsMs: number;
  jobs: number;
}

type Span = [number, number];

/** Total length of the union of spans, each clipped to [from, to]. */
export function unionMs(spans: readonly Span[], from = -Infinity, to = Infinity): number {
  const clipped = spans
    .map(([a, b]): Span => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (a >= end) {
      total += b - a;
      end = b;
    } else if (b > end) {
      total += b - end;
      end = b;
    }
  }
  return total;
}

const CONNECT = 'org.apache.spark.sql.connect.service.SparkListenerConnectOperation';
const SQL = 'org.apache.spark.sql.execution.ui.SparkListenerSQLExecution';

/** The split of Spark's event log `text` for what started within [fromMs, toMs] (epoch ms). */
export function eventLogSplit(text: string, fromMs: number, toMs: number): EventLogSplit {
  const ops = new Map<string, { started?: number; finished?: number; closed?: number }>();
  const sql = new Map<number, { start?: number; end?: number }>();
  const jobs = new Map<number, { start?: number; end?: number }>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as Record<string, unknown> & { Event: string };
    if (e.Event.startsWith(CONNECT)) {
      const id = String(e.operationId);
      const op = ops.get(id) ?? {};
      const at = Number(e.eventTime);
      const kind = e.Event.slice(CONNECT.length);
      if (kind === 'Started') op.started = at;
      else if (kind === 'Finished' || kind === 'Failed' || kind === 'Canceled') op.finished = at;
      else if (kind === 'Closed') op.closed = at;
      ops.set(id, op);
    } else if (e.Event === `${SQL}Start`) {
      sql.set(Number(e.executionId), { ...sql.get(Number(e.executionId)), start: Number(e.time) });
    } else if (e.Event === `${SQL}End`) {
      sql.set(Number(e.executionId), { ...sql.get(Number(e.executionId)), end: Number(e.time) });
    } else if (e.Event === 'SparkListenerJobStart') {
      jobs.set(Number(e['Job ID']), { start: Number(e['Submission Time']) });
    } else if (e.Event === 'SparkListenerJobEnd') {
      const job = jobs.get(Number(e['Job ID']));
      if (job) job.end = Number(e['Completion Time']);
    }
  }
  const within = (start: number | undefined) => start !== undefined && start >= fromMs && start <= toMs;
  let executeMs = 0;
  let streamMs = 0;
  let operationMs = 0;
  let operations = 0;
  for (const op of ops.values()) {
    if (!within(op.started) || op.finished === undefined) continue;
    operations++;
    const closed = op.closed ?? op.finished;
    executeMs += op.finished - (op.started as number);
    streamMs += closed - op.finished;
    operationMs += closed - (op.started as number);
  }
  const spans = (m: Map<number, { start?: number; end?: number }>): Span[] =>
    [...m.values()]
      .filter((x) => within(x.start) && x.end !== undefined)
      .map((x) => [x.start as number, x.end as number]);
  const sqlSpans = spans(sql);
  const jobSpans = spans(jobs);
  return {
    executeMs,
    streamMs,
    operationMs,
    operations,
    sqlMs: unionMs(sqlSpans),
    sqlExecutions: sqlSpans.length,
    jobsMs: unionMs(jobSpans),
    jobs: jobSpans.length,
  };
}

export interface ClientSplit {
  calls: number;
  callsMs: number;
  decodeMs: number;
  arrowBytes: number;
  parquetMs: number;
  rowsMs: number;
  /** Per call kind (query, checkpoint_command, create_dataframe_view, sql_command): count and ms. */
  byCall: Record<string, { count: number; ms: number }>;
}

/** The split of the Spark engine's debug log (the stderr of `gpumon analyze`, pino JSON lines). */
export function clientSplit(stderr: string): ClientSplit {
  const out: ClientSplit = {
    calls: 0,
    callsMs: 0,
    decodeMs: 0,
    arrowBytes: 0,
    parquetMs: 0,
    rowsMs: 0,
    byCall: {},
  };
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as Record<string, unknown>;
    const ms = Number(e.ms ?? 0);
    if (e.msg === 'Spark call done') {
      out.calls++;
      out.callsMs += ms;
      out.decodeMs += Number(e.decodeMs ?? 0);
      out.arrowBytes += Number(e.arrowBytes ?? 0);
      const kind = String(e.call);
      const k = out.byCall[kind] ?? { count: 0, ms: 0 };
      k.count++;
      k.ms += ms;
      out.byCall[kind] = k;
    } else if (e.msg === 'Spark result written to Parquet') out.parquetMs += ms;
    else if (e.msg === 'Spark result converted to rows') out.rowsMs += ms;
  }
  return out;
}
