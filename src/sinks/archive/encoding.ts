import { createHash } from 'node:crypto';
import { METRICS } from '../../metrics/catalog.ts';

/**
 * How each metric column of an archive file is stored (docs/decisions/0007-archive-encoding.md), chosen per
 * file from the catalog and the values themselves, never losing a bit:
 *
 * - an `int64` metric is a BIGINT, as the catalog says;
 * - a `float64` metric is an exact decimal, DECIMAL(p, s) (an integer of units of 10^-s: 32-bit for p = 9,
 *   64-bit for p = 18, the fewer digits that hold the catalog's range of the metric), with `s` the
 *   fewest decimal places that carry every value of the file exactly: a value v is stored as m = round(v x 10^s)
 *   only where m / 10^s is v again, bit for bit (the double a reader gets back from the decimal), and |m| stays
 *   below 2^53. Sources report decimals (nvidia-smi's "123.45" W, NVML's mW / 1000, DCGM's mJ / 1000), so their
 *   values fit a few places; a column whose values do not fit (a ratio scaled by 100, say) stays a DOUBLE.
 *
 * Integers and decimals compress far better than doubles: with Parquet's version 2 encodings, consecutive
 * values of a GPU are stored as bit-packed deltas. A file with a DOUBLE column left is written with version 1
 * encodings instead: DuckDB writes doubles BYTE_STREAM_SPLIT in version 2, which Spark 4.0's vectorized
 * reader cannot read.
 */

/** The most decimal places tried; beyond it a column stays a DOUBLE. */
export const MAX_SCALE = 9;

/** A stored integer above this loses its exactness as a double, and the reader's conversion with it. */
const MAX_UNITS = 2 ** 53 - 1;
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, s) => 10 ** s);

/** Which catalog metrics are `float64` (scaled to decimals), by column position. */
const FLOAT = METRICS.map((m) => m.type === 'float64');

/** The decimal places `v` needs, from `from` up: its scale, or -1 where no scale up to MAX_SCALE carries it. */
export function scaleOf(v: number, from = 0): number {
  if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
  for (let s = from; s <= MAX_SCALE; s++) {
    const p = POW10[s] as number;
    const m = Math.round(v * p);
    if (Math.abs(m) > MAX_UNITS) return -1;
    if (m / p === v) return s;
  }
  return -1;
}

/** The scales of a file's float64 columns as values arrive: each the most any value needed so far. */
export class ColumnScales {
  /** By metric position: the scale so far (0 while a column holds only nulls), -1 for DOUBLE. */
  readonly scales = new Int8Array(METRICS.length);

  /** Notes values `0 .. n-1` of metric column `c` (NaN for null). */
  note(c: number, values: Float64Array, n: number): void {
    if (!FLOAT[c]) return;
    let scale = this.scales[c] as number;
    if (scale < 0) return;
    for (let r = 0; r < n; r++) {
      const v = values[r] as number;
      if (Number.isNaN(v)) continue;
      const p = POW10[scale] as number;
      const m = Math.round(v * p);
      if (m / p === v && Math.abs(m) <= MAX_UNITS && !Object.is(v, -0)) continue;
      scale = scaleOf(v, scale + 1);
      if (scale < 0) break;
    }
    this.scales[c] = scale;
  }

  /** How a file of these values is written. */
  layout(): FileEncoding {
    return fileEncoding(this.scales);
  }
}

export interface FileEncoding {
  /** Each metric's stored SQL type, in catalog order. */
  readonly types: readonly string[];
  /** Whether the file takes Parquet's version 2 encodings (no DOUBLE column left). */
  readonly version2: boolean;
  /**
   * A short name of the file's schema where it holds a decimal, written into its file name (layout.ts), so a
   * reader that cannot merge a DECIMAL and a DOUBLE column (Spark) reads each schema alone; null where every
   * column has its catalog type (format 1 and 2 files without decimals, which merge as they are).
   */
  readonly tag: string | null;
}

/**
 * The encoding of a file whose float64 columns have `scales` (-1: DOUBLE). A decimal whose catalog range
 * (`min`, `max`) fits 9 digits at its scale is a 32-bit integer in Parquet, DECIMAL(9, s), faster to read than
 * a 64-bit one; the range, not the file's values, decides, so files differ only where their scales do.
 */
export function fileEncoding(scales: ArrayLike<number>): FileEncoding {
  const types = METRICS.map((m, c) => {
    if (m.type === 'int64') return 'BIGINT';
    const scale = scales[c] as number;
    if (scale < 0) return 'DOUBLE';
    const units = Math.max(Math.abs(m.min), Math.abs(m.max)) * (POW10[scale] as number);
    return `DECIMAL(${units < 1e9 ? 9 : 18},${scale})`;
  });
  const decimals = types.some((t) => t.startsWith('DECIMAL'));
  const version2 = !types.includes('DOUBLE');
  const tag = decimals
    ? createHash('sha256')
        .update(METRICS.map((m, c) => `${m.name} ${types[c]}`).join('\n'))
        .digest('hex')
        .slice(0, 10)
    : null;
  return { types, version2, tag };
}

/**
 * COPY options of a file: zstd; version 2 encodings where it has no DOUBLE column, and there no dictionaries
 * for numbers (DuckDB would start a column chunk with one and fall back to deltas part way, which costs more
 * than deltas throughout: 1.81 against 1.61 B a sample for the power draw of a simulated day).
 */
export function copyOptions(encoding: FileEncoding, rowGroupSize: number): string {
  const version = encoding.version2 ? ', PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1' : '';
  return `FORMAT parquet, COMPRESSION zstd${version}, ROW_GROUP_SIZE ${rowGroupSize}`;
}
