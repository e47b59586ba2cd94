/**
 * A reader of the Prometheus text exposition format (version 0.0.4), as dcgm-exporter writes it: one
 * `name{label="value",...} value [timestamp]` per line; `#` lines (HELP, TYPE, any other comment) and blank
 * lines carry no sample. Tolerates CRLF, a missing final newline and a trailing comma in the label set. A value
 * that is no number (dcgm-exporter's `ERROR - FAILED TO CONVERT TO STRING`) gives a sample with a NaN value and
 * its text: whether that costs anything is the reader's to say.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /**
   * The value as written where it is no number (`value` is NaN then): dcgm-exporter prints
   * `ERROR - FAILED TO CONVERT TO STRING` for a blob field it cannot render (DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION
   * of a 535 driver, testdata/a800-*.prom). The name and labels are sound: the line is the field's, not garbage.
   */
  valueText?: string;
  /** 1-based line number in the text. */
  line: number;
}

export type PromLine = { ok: true; sample: PromSample } | { ok: false; line: number; detail: string };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Every sample line of the text, parsed or with the reason it could not be. Never throws. */
export function* readPrometheusText(text: string): Generator<PromLine> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const parsed = parseLine(raw.trim(), i + 1);
    yield typeof parsed === 'string'
      ? { ok: false, line: i + 1, detail: parsed }
      : { ok: true, sample: parsed };
  }
}

/** One sample line, or why it is malformed. */
function parseLine(text: string, line: number): PromSample | string {
  const name = NAME.exec(text)?.[0];
  if (!name) return 'no metric name';
  let rest = text.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) break;
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) return 'bad label name';
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('="') && !rest.startsWith('= "')) return `label ${label}: expected ="`;
      rest = rest.slice(rest.indexOf('"') + 1);
      let value = '';
      let k = 0;
      for (; k < rest.length && rest[k] !== '"'; k++) {
        if (rest[k] === '\\') {
          const next = rest[++k];
          value += next === 'n' ? '\n' : (next ?? '');
        } else {
          value += rest[k];
        }
      }
      if (k >= rest.length) return `label ${label}: unterminated value`;
      if (label in labels) return `label ${label} repeated`;
      labels[label] = value;
      rest = rest.slice(k + 1).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) return `label ${label}: expected , or }`;
    }
    rest = rest.slice(1);
  }
  if (!/^[ \t]/.test(rest) || rest.trim() === '') return 'no value after the name';
  const parts = rest.trim().split(/[ \t]+/);
  const value = parseValue(parts[0] as string);
  // Not a number: the value is the text after the labels (words and all), the line the field's.
  if (value === undefined) return { name, labels, value: Number.NaN, valueText: rest.trim(), line };
  if (parts.length > 2) return 'text after the value and timestamp';
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1] as string)) return `bad timestamp ${parts[1]}`;
  return { name, labels, value, line };
}

/** A Prometheus float: decimal or exponent notation, `NaN`, `+Inf`, `-Inf`. */
function parseValue(text: string): number | undefined {
  if (/^[+-]?inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return undefined;
  return Number(text);
}
