import type { MetricName } from '../../metrics/catalog.ts';
import { type GpuSample, nullIdentity, nullMetrics } from '../../metrics/sample.ts';
import type { GpuProcess } from '../source.ts';
import { canonicalField, FALLBACK_FIELDS, KNOWN_QUERY_FIELDS, SMI_METRICS } from './fields.ts';
import { checkMetric, EVENT_REASON_BITS, leadingVersion, maskFromFlags, readNumber, text } from './values.ts';

/** A record that was rejected (`errors`) or a value that was read as null for a reason (`warnings`). */
export interface ParseProblem {
  /** 1-based line of the input. */
  line?: number;
  reason: string;
}

/** A CSV table found in a text: its header (canonical field names) and its data lines. */
export interface CsvTable {
  kind: 'query-gpu' | 'compute-apps' | 'other';
  /** 1-based line of the header; 0 where the fields were given (no header). */
  headerLine: number;
  fields: string[];
  rows: { line: number; cells: string[] }[];
}

const HEADER_CELL = /^[A-Za-z_][\w.]*(?: \[[^\]]*\])?$/;

/** Splits one nvidia-smi CSV line: cells are separated by `,` and padded with one space; there is no quoting. */
export function splitCsvLine(line: string): string[] {
  return line.split(',').map((cell) => cell.trim());
}

function headerFields(line: string): string[] | null {
  if (line.startsWith('#') || !line.includes(',')) return null;
  const cells = splitCsvLine(line);
  if (cells.length < 2 || !cells.every((c) => HEADER_CELL.test(c))) return null;
  return cells.map(canonicalField);
}

function classify(fields: readonly string[]): CsvTable['kind'] {
  if (fields.includes('pid')) return fields.includes('used_gpu_memory') ? 'compute-apps' : 'other';
  if (fields.includes('retired_pages.address')) return 'other';
  return fields.some((f) => f !== 'timestamp' && KNOWN_QUERY_FIELDS.has(f)) ? 'query-gpu' : 'other';
}

/**
 * Finds the CSV tables of a text: a plain `--format=csv` output, a `-lms` log (header once, then lines), or a
 * capture with `#` banners and sections (`# idle :: query-gpu`, `# nvidia-smi --query-gpu=...`). A table is a
 * header line of field names, then every following line up to a blank or `#` line.
 */
export function findCsvTables(input: string): CsvTable[] {
  const lines = input.split('\n');
  const tables: CsvTable[] = [];
  let current: CsvTable | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) {
      current = null;
      continue;
    }
    if (current) {
      current.rows.push({ line: i + 1, cells: splitCsvLine(line) });
      continue;
    }
    const fields = headerFields(line);
    if (fields) {
      current = { kind: classify(fields), headerLine: i + 1, fields, rows: [] };
      tables.push(current);
    }
  }
  return tables;
}

export interface QueryGpuOptions {
  /** Host name stamped on every sample. */
  host: string;
  /** Timestamp of samples whose row has no `timestamp` column (epoch ms). */
  now: number;
  /** The fields of each line, for output without a header (`--format=csv,noheader`). */
  fields?: readonly string[];
  /** Identity for rows that lack it (a `-lms` log of `timestamp, power.draw` alone). */
  fallback?: Partial<Pick<GpuSample, 'uuid' | 'model' | 'gpu_index'>>;
}

export interface QueryGpuResult {
  samples: GpuSample[];
  /** Data lines seen in `--query-gpu` tables: each is a sample or an error. */
  rows: number;
  /** Rejected lines, one per line (`samples.length + errors.length === rows`). */
  errors: ParseProblem[];
  /** Values read as null for a reason (not a number, out of range); the line still gives a sample. */
  warnings: ParseProblem[];
}

/**
 * Parses `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` output into samples: with or without
 * header, with or without units (in the header `memory.used [MiB]` or in values `1234 MiB`). No-value markers
 * (`[N/A]`, `[Not Supported]`, deprecated, `REDACTED`) are null. Never throws.
 */
export function parseQueryGpuCsv(input: string, options: QueryGpuOptions): QueryGpuResult {
  const result: QueryGpuResult = { samples: [], rows: 0, errors: [], warnings: [] };
  let tables: CsvTable[];
  if (options.fields) {
    const fields = options.fields.map(canonicalField);
    const table: CsvTable = { kind: 'query-gpu', headerLine: 0, fields, rows: [] };
    input.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '' || line.startsWith('#') || headerFields(line)?.join() === fields.join()) return;
      table.rows.push({ line: i + 1, cells: splitCsvLine(line) });
    });
    tables = [table];
  } else {
    tables = findCsvTables(input).filter((t) => t.kind === 'query-gpu');
  }
  for (const table of tables) {
    for (const row of table.rows) {
      result.rows++;
      const sample = rowToSample(table.fields, row, options, result.warnings);
      if (typeof sample === 'string') result.errors.push({ line: row.line, reason: sample });
      else result.samples.push(sample);
    }
  }
  return result;
}

/** One `--query-gpu` line as a sample, or why it is rejected. */
export function rowToSample(
  fields: readonly string[],
  row: { line: number; cells: readonly string[] },
  options: QueryGpuOptions,
  warnings: ParseProblem[],
): GpuSample | string {
  if (row.cells.length !== fields.length) {
    return `expected ${fields.length} fields, found ${row.cells.length}`;
  }
  const cells = new Map<string, string>();
  fields.forEach((f, i) => {
    cells.set(f, row.cells[i] as string);
  });
  const uuid = text(cells.get('uuid')) ?? options.fallback?.uuid ?? null;
  if (uuid === null) return 'no uuid: the line names no GPU';
  const indexText = text(cells.get('index'));
  const index = indexText === null ? (options.fallback?.gpu_index ?? 0) : Number(indexText);
  if (!Number.isInteger(index) || index < 0 || index > 65535)
    return `index "${indexText}" is not a GPU index`;

  const metrics = nullMetrics();
  const read = (metric: MetricName, queried: string, kind: Parameters<typeof readNumber>[1]) => {
    // Cells are keyed by canonical (lower case) names; some fields are camel case (`encoder.stats.sessionCount`).
    const field = queried.toLowerCase();
    if (!cells.has(field)) return false;
    const reading = checkMetric(metric, readNumber(cells.get(field), kind));
    if (reading.problem) warnings.push({ line: row.line, reason: `${field}: ${reading.problem}` });
    metrics[metric] = reading.value;
    return true;
  };
  for (const m of SMI_METRICS) {
    const found = read(m.metric, m.field, m.kind);
    if (metrics[m.metric] !== null) continue;
    for (const other of FALLBACK_FIELDS[m.metric] ?? []) {
      if (read(m.metric, other, m.kind) && metrics[m.metric] !== null) break;
    }
    if (!found && m.metric === 'gpu_clock_throttle_reasons') {
      const flags = new Map<string, string | null>();
      for (const name of Object.keys(EVENT_REASON_BITS)) {
        const raw = cells.get(`clocks_event_reasons.${name}`);
        if (raw !== undefined) flags.set(name, raw);
      }
      metrics.gpu_clock_throttle_reasons = maskFromFlags(flags);
    }
  }
  const stamp = parseSmiTimestamp(cells.get('timestamp'));
  return {
    ...nullIdentity(),
    ts: stamp ?? options.now,
    host: options.host,
    gpu_index: index,
    uuid,
    model: text(cells.get('name')) ?? options.fallback?.model ?? 'unknown',
    pci_bus_id: text(cells.get('pci.bus_id')),
    driver_version: leadingVersion(cells.get('kmd_version'), cells.get('driver_version')),
    vbios_version: text(cells.get('vbios_version')),
    ...metrics,
  };
}

/**
 * `2026/07/14 08:12:38.696` (the `timestamp` field) as epoch ms. nvidia-smi prints the local time of its
 * host without a zone: it is read as UTC. Null where absent or malformed.
 */
export function parseSmiTimestamp(raw: string | undefined): number | null {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(raw?.trim() ?? '');
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ts = Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '0').padEnd(3, '0')));
  return Number.isFinite(ts) && ts >= 0 ? ts : null;
}

export interface ComputeAppsResult {
  processes: GpuProcess[];
  rows: number;
  errors: ParseProblem[];
  warnings: ParseProblem[];
}

/**
 * Parses `nvidia-smi --query-compute-apps=...` output (with a header, or without one for `fields`; the live
 * source asks for `pid,process_name,used_gpu_memory,gpu_uuid`). Windows paths with spaces are kept; a process
 * name with commas is rejoined; `[N/A]` memory (Windows WDDM) is null. Never throws.
 */
export function parseComputeApps(input: string, fields?: readonly string[]): ComputeAppsResult {
  const result: ComputeAppsResult = { processes: [], rows: 0, errors: [], warnings: [] };
  let tables: CsvTable[];
  if (fields) {
    const names = fields.map(canonicalField);
    const table: CsvTable = { kind: 'compute-apps', headerLine: 0, fields: names, rows: [] };
    input.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '' || line.startsWith('#') || headerFields(line)?.join() === names.join()) return;
      table.rows.push({ line: i + 1, cells: splitCsvLine(line) });
    });
    tables = [table];
  } else {
    tables = findCsvTables(input).filter((t) => t.kind === 'compute-apps');
  }
  for (const table of tables) {
    const nameAt = table.fields.indexOf('process_name');
    for (const row of table.rows) {
      result.rows++;
      let cells = row.cells;
      const extra = cells.length - table.fields.length;
      if (extra > 0 && nameAt >= 0) {
        const joined = cells.slice(nameAt, nameAt + extra + 1).join(', ');
        cells = [...cells.slice(0, nameAt), joined, ...cells.slice(nameAt + extra + 1)];
      }
      if (cells.length !== table.fields.length) {
        result.errors.push({
          line: row.line,
          reason: `expected ${table.fields.length} fields, found ${cells.length}`,
        });
        continue;
      }
      const get = (f: string) => {
        const at = table.fields.indexOf(f);
        return at < 0 ? undefined : cells[at];
      };
      const pid = Number(get('pid'));
      const uuid = text(get('uuid'));
      if (!/^\d+$/.test(get('pid') ?? '') || !Number.isSafeInteger(pid)) {
        result.errors.push({ line: row.line, reason: `pid "${get('pid')}" is not a process id` });
        continue;
      }
      if (uuid === null) {
        result.errors.push({ line: row.line, reason: 'no gpu_uuid: the line names no GPU' });
        continue;
      }
      const memory = readNumber(get('used_gpu_memory'), 'mebibytes');
      if (memory.problem)
        result.warnings.push({ line: row.line, reason: `used_gpu_memory: ${memory.problem}` });
      const bytes =
        memory.value !== null && memory.value >= 0 && Number.isSafeInteger(memory.value)
          ? memory.value
          : null;
      result.processes.push({ uuid, pid, name: text(get('process_name')), usedMemoryBytes: bytes });
    }
  }
  return result;
}
