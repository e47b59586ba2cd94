import { metricDef } from '../../metrics/catalog.ts';
import { type MetricValues, nullMetrics } from '../../metrics/sample.ts';
import { type GpuzColumn, resolveColumns } from './columns.ts';
import { decodeLog, type LogEncoding } from './decode.ts';
import { localTimeReader } from './local-time.ts';

/** One data line of a GPU-Z sensor log. */
export interface GpuzRecord {
  /** 1-based line number in the file. */
  line: number;
  /** The Date column as written: local time, no zone. */
  localTime: string;
  /** The Date column read in the parser's time zone, epoch ms: the original time of the reading. */
  time: number;
  /** Every catalog metric: filled from the mapped columns, null where the log has no column or `-`. */
  metrics: MetricValues;
  /** Columns the catalog does not know, by header text (`Hot Spot [°C]`), `-` as null; raw PerfCap Reason too. */
  extra: Record<string, number | null>;
}

/** A problem on one line: `reason` names the column and the value at fault. */
export interface GpuzLineIssue {
  line: number;
  reason: string;
}

export interface GpuzHeader {
  line: number;
  /** The columns, Date first; without the empty one after GPU-Z's trailing comma. */
  columns: GpuzColumn[];
  /** Every line of GPU-Z ends with `,`: then every data line under this header must, too. */
  trailingComma: boolean;
}

export interface GpuzParseResult {
  records: GpuzRecord[];
  /** The columns of the first header (an empty list when there is none). */
  columns: GpuzColumn[];
  /** Every header line: logging restarted into the same file writes the header again. */
  headers: GpuzHeader[];
  /** Header texts of the columns kept in `extra` (not in the catalog), in order of first appearance. */
  unknownColumns: string[];
  /** Malformed lines, skipped; at most MAX_ISSUES kept, `errorCount` counts all. */
  errors: GpuzLineIssue[];
  errorCount: number;
  /** Lines kept with a value set to null (out of the catalog's range) or NUL padding removed. */
  warnings: GpuzLineIssue[];
  warningCount: number;
  encoding: LogEncoding;
}

export interface GpuzParserOptions {
  /** IANA time zone the Date column is read in (GPU-Z writes local time without zone). Default `UTC`. */
  timeZone?: string;
}

export const MAX_ISSUES = 1000;

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)$/;

/**
 * Reads a GPU-Z sensor log line by line, keeping the current header: the whole-file parser and the follower of a
 * live log share it. Never throws on input: a line it cannot read is counted in `errors` with its number.
 *
 * A line is a header when its first cell is `Date`. Runs of NUL bytes (a file truncated while GPU-Z held it open)
 * split a line, each piece read on its own under the same line number. Blank lines are ignored.
 */
export class GpuzLineParser {
  header: GpuzHeader | null = null;
  readonly headers: GpuzHeader[] = [];
  readonly unknownColumns: string[] = [];
  readonly errors: GpuzLineIssue[] = [];
  readonly warnings: GpuzLineIssue[] = [];
  errorCount = 0;
  warningCount = 0;
  private readonly readTime: (text: string) => number | null;
  private readonly unknown = new Set<string>();

  constructor(options: GpuzParserOptions = {}) {
    this.readTime = localTimeReader(options.timeZone ?? 'UTC');
  }

  /** Reads one physical line (without its line break; a trailing CR is ignored); returns its records. */
  feed(text: string, line: number): GpuzRecord[] {
    const records: GpuzRecord[] = [];
    const pieces = text.split(/\0+/);
    if (pieces.length > 1) {
      const nuls = text.length - pieces.reduce((n, p) => n + p.length, 0);
      this.warn(
        line,
        `${nuls} NUL bytes (the log was truncated while GPU-Z wrote it): the text around them is kept`,
      );
    }
    for (const piece of pieces) {
      const record = this.piece(piece.replace(/\r$/, ''), line);
      if (record) records.push(record);
    }
    return records;
  }

  private piece(text: string, line: number): GpuzRecord | null {
    if (text.trim() === '') return null;
    const cells = text.split(',');
    if ((cells[0] ?? '').replace(/^\uFEFF/, '').trim() === 'Date') {
      this.readHeader(cells, line);
      return null;
    }
    const header = this.header;
    if (!header) return this.fail(line, 'data line before any header line');
    const lastBlank = cells.length > 1 && (cells.at(-1) as string).trim() === '';
    const values = cells.length - (lastBlank ? 1 : 0);
    if (values !== header.columns.length) {
      return this.fail(
        line,
        `${values} fields where the header (line ${header.line}) has ${header.columns.length}`,
      );
    }
    if (header.trailingComma && !lastBlank)
      return this.fail(line, 'no trailing comma: the line was cut short');
    const localTime = (cells[0] as string).trim();
    const time = this.readTime(localTime);
    if (time === null) return this.fail(line, `Date '${clip(localTime)}' is not a time YYYY-MM-DD HH:MM:SS`);
    const metrics = nullMetrics();
    const extra: Record<string, number | null> = {};
    for (const column of header.columns) {
      if (column.index === 0) continue;
      const cell = (cells[column.index] as string).trim();
      let value: number | null = null;
      if (cell !== '-' && cell !== '') {
        if (!NUMBER.test(cell)) return this.fail(line, `${column.key}: '${clip(cell)}' is not a number or -`);
        value = Number(cell);
      }
      if (!column.metric || !column.convert) {
        extra[column.key] = value;
        continue;
      }
      if (column.keepRaw) extra[column.key] = value;
      if (value === null) continue;
      metrics[column.metric] = this.checked(column, value, line);
    }
    return { line, localTime, time, metrics, extra };
  }

  private readHeader(cells: string[], line: number): void {
    const trailingComma = cells.length > 1 && (cells.at(-1) as string).trim() === '';
    const columns = resolveColumns(trailingComma ? cells.slice(0, -1) : cells);
    const header = { line, columns, trailingComma };
    this.header = header;
    this.headers.push(header);
    for (const c of columns) {
      if (c.index === 0 || c.metric || this.unknown.has(c.key)) continue;
      this.unknown.add(c.key);
      this.unknownColumns.push(c.key);
    }
  }

  /** The converted value, or null (with a warning) where it falls outside the catalog's range. */
  private checked(column: GpuzColumn, raw: number, line: number): number | null {
    const def = metricDef(column.metric as NonNullable<GpuzColumn['metric']>);
    let value = (column.convert as (v: number) => number)(raw);
    if (def.type === 'int64') value = Math.round(value);
    if (Number.isFinite(value) && value >= def.min && value <= def.max) return value;
    this.warn(
      line,
      `${column.key}: ${raw} is outside ${def.name}'s range ${def.min}..${def.max}: set to null`,
    );
    return null;
  }

  private fail(line: number, reason: string): null {
    this.errorCount++;
    if (this.errors.length < MAX_ISSUES) this.errors.push({ line, reason });
    return null;
  }

  private warn(line: number, reason: string): void {
    this.warningCount++;
    if (this.warnings.length < MAX_ISSUES) this.warnings.push({ line, reason });
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Feeds a whole decoded log to a parser, line by line (LF or CRLF; a last line without a break counts). */
export function feedText(parser: GpuzLineParser, text: string): GpuzRecord[] {
  const records: GpuzRecord[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    for (const r of parser.feed(line, i + 1)) records.push(r);
  });
  return records;
}

/** Parses a whole GPU-Z sensor log: bytes (encoding detected) or text already decoded. */
export function parseGpuzLog(input: Uint8Array | string, options: GpuzParserOptions = {}): GpuzParseResult {
  const { text, encoding } =
    typeof input === 'string' ? { text: input, encoding: 'utf-8' as const } : decodeLog(input);
  const parser = new GpuzLineParser(options);
  const records = feedText(parser, text);
  return {
    records,
    columns: parser.headers[0]?.columns ?? [],
    headers: parser.headers,
    unknownColumns: parser.unknownColumns,
    errors: parser.errors,
    errorCount: parser.errorCount,
    warnings: parser.warnings,
    warningCount: parser.warningCount,
    encoding,
  };
}
