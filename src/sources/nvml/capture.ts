/**
 * Captures what the NVML source reads on this machine as JSON, to keep as a test fixture (testdata/) from a
 * real GPU: the probe, the devices (MIG included), a few reads, the processes, the calls that failed per GPU,
 * and health. Run by scripts/device/nvml-capture.sh; also usable by hand:
 *
 *   npx tsx src/sources/nvml/capture.ts --out nvml-capture.json [--library PATH] [--reads 5] [--interval-ms 1000]
 *
 * Exits 1 (after writing what it has, the error included) when NVML cannot be opened.
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { GpuSample } from '../../metrics/sample.ts';
import type { GpuDevice, GpuProcess, SourceHealth } from '../source.ts';
import { decodeClockEventReasons } from './clock-events.ts';
import { DEFAULT_NVML_LIBRARY, NvmlSource, type NvmlUnsupported, probeNvml } from './nvml-source.ts';

export interface NvmlCapture {
  capturedAt: string;
  host: string;
  library: string;
  probe: ReturnType<typeof probeNvml>;
  error: string | null;
  devices: GpuDevice[];
  samples: GpuSample[];
  /** Per sample (same order), the throttle reasons by name. */
  throttleReasons: string[][];
  processes: GpuProcess[];
  unsupported: NvmlUnsupported[];
  health: SourceHealth | null;
  /** Wall time of each read, in milliseconds: the real driver's cost per tick. */
  readDurationsMs: number[];
}

export interface CaptureOptions {
  library?: string;
  reads?: number;
  intervalMs?: number;
}

export async function captureNvml(options: CaptureOptions = {}): Promise<NvmlCapture> {
  const library = options.library ?? DEFAULT_NVML_LIBRARY;
  const capture: NvmlCapture = {
    capturedAt: new Date().toISOString(),
    host: hostname(),
    library,
    probe: probeNvml(library),
    error: null,
    devices: [],
    samples: [],
    throttleReasons: [],
    processes: [],
    unsupported: [],
    health: null,
    readDurationsMs: [],
  };
  const source = new NvmlSource({ library });
  try {
    await source.open();
    capture.devices = source.devices();
    for (let k = 0; k < (options.reads ?? 5); k++) {
      if (k > 0) await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
      const started = performance.now();
      capture.samples.push(...(await source.read(Date.now())));
      capture.readDurationsMs.push(performance.now() - started);
    }
    capture.throttleReasons = capture.samples.map((s) =>
      s.gpu_clock_throttle_reasons === null ? [] : decodeClockEventReasons(s.gpu_clock_throttle_reasons),
    );
    capture.processes = await source.processes();
  } catch (err) {
    capture.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    capture.unsupported = source.unsupported();
    capture.health = source.health();
    await source.close();
  }
  return capture;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'nvml-capture.json' },
      library: { type: 'string', default: DEFAULT_NVML_LIBRARY },
      reads: { type: 'string', default: '5' },
      'interval-ms': { type: 'string', default: '1000' },
    },
  });
  const capture = await captureNvml({
    library: values.library,
    reads: Number(values.reads),
    intervalMs: Number(values['interval-ms']),
  });
  writeFileSync(values.out, `${JSON.stringify(capture, null, 2)}\n`);
  console.log(
    `nvml-capture: ${capture.devices.length} devices, ${capture.samples.length} samples, ` +
      `${capture.processes.length} processes, ${capture.unsupported.length} failed calls -> ${values.out}` +
      (capture.error ? `\nerror: ${capture.error}` : ''),
  );
  process.exitCode = capture.error ? 1 : 0;
}
