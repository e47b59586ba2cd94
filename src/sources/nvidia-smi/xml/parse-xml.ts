import type { Logger } from '../../../log.ts';
import type { MetricName } from '../../../metrics/catalog.ts';
import { legacyMigUuid, migId, migModel } from '../../../metrics/mig.ts';
import { type GpuSample, type MetricValues, nullIdentity, nullMetrics } from '../../../metrics/sample.ts';
import type { GpuDevice, GpuProcess } from '../../source.ts';
import type { ParseProblem } from '../csv.ts';
import type { ListedDevice } from '../list.ts';
import {
  checkMetric,
  leadingVersion,
  maskFromFlags,
  type Reading,
  readNumber,
  text,
  type ValueKind,
} from '../values.ts';
import type { XmlNode, XmlSchema } from './schema.ts';
import { SCHEMA_V10 } from './schema-v10.ts';
import { SCHEMA_V11 } from './schema-v11.ts';
import { SCHEMA_V12 } from './schema-v12.ts';
import { SCHEMA_V13 } from './schema-v13.ts';
import { parseXmlTree } from './tree.ts';

/** The parser of each known DTD generation; the newest is also used for unknown ones. */
export const XML_SCHEMAS: Readonly<Record<number, XmlSchema>> = {
  10: SCHEMA_V10,
  11: SCHEMA_V11,
  12: SCHEMA_V12,
  13: SCHEMA_V13,
};
const NEWEST = SCHEMA_V13;
/**
 * DTD v1 to v10 are read with the v10 parser: what gpumon reads keeps v10's names there (public captures of v4,
 * v6, v9 and v10 agree).
 */
const LEGACY_UP_TO = 10;

/**
 * The parser for a DOCTYPE's version: its own, v10's for every older one (drivers before 410), v11's without a
 * DOCTYPE; undefined for a version no parser was written for (newer than the newest, or 0).
 */
export function schemaFor(dtdVersion: number | null): XmlSchema | undefined {
  if (dtdVersion === null) return SCHEMA_V11;
  if (dtdVersion >= 1 && dtdVersion <= LEGACY_UP_TO) return SCHEMA_V10;
  return XML_SCHEMAS[dtdVersion];
}

export interface XmlOptions {
  host: string;
  /** Timestamp of the samples when the file's `<timestamp>` cannot be read (epoch ms). */
  now: number;
  /** `nvidia-smi -L` output, parsed: gives MIG instances their UUID and profile. */
  listed?: readonly ListedDevice[];
  /** Told once per process about a schema version no parser was written for. */
  logger?: Logger;
}

export interface XmlResult {
  /** The DTD version named by the DOCTYPE (`12`), null without one. */
  dtdVersion: number | null;
  /** The parser used: `v10`, `v11`, `v12`, `v13`. */
  schema: string;
  samples: GpuSample[];
  devices: GpuDevice[];
  processes: GpuProcess[];
  /**
   * `<gpu>` blocks found: each gives a sample (followed by one per MIG instance, with its `parent_uuid`) or an
   * error (GPU samples + `errors.length === gpuBlocks`).
   */
  gpuBlocks: number;
  /** Rejected `<gpu>` blocks, or the whole document when it is not well-formed XML (then `gpuBlocks` is 0). */
  errors: ParseProblem[];
  /** Things a person should know that cost no sample (unknown schema, `attached_gpus` larger than the blocks). */
  warnings: ParseProblem[];
}

const warnedVersions = new Set<string>();

/**
 * A sample with every identity field and metric null, in the order `{ ...nullIdentity(), ts, host, gpu_index,
 * uuid, model, pci_bus_id, driver_version, vbios_version, cuda_version, ...nullMetrics() }` gives: each sample
 * is a copy of it, filled in place (spreading those objects anew for each sample cost more than reading the XML).
 */
const EMPTY_SAMPLE: GpuSample = {
  ...nullIdentity(),
  ts: 0,
  host: '',
  gpu_index: 0,
  uuid: '',
  model: '',
  pci_bus_id: null,
  driver_version: null,
  vbios_version: null,
  cuda_version: null,
  ...nullMetrics(),
};

/**
 * Parses `nvidia-smi -q -x` into samples (one per `<gpu>`, then one per MIG instance of it), devices (GPUs, then each one's MIG instances) and
 * processes. The DOCTYPE picks the parser (see schemaFor): v10 for DTD v10 and older, v11 without a DOCTYPE; an
 * unknown version (newer than v13) warns once and uses the newest. Every parser falls back to the other
 * generations' spellings where its own are absent. Never throws.
 */
export function parseSmiXml(input: string, options: XmlOptions): XmlResult {
  const dtd = /<!DOCTYPE\s+nvidia_smi_log\s+SYSTEM\s+"nvsmi_device_v(\d+)\.dtd"/.exec(input.slice(0, 2000));
  const dtdVersion = dtd ? Number(dtd[1]) : null;
  const known = schemaFor(dtdVersion);
  const schema = known ?? NEWEST;
  const result: XmlResult = {
    dtdVersion,
    schema: schema.name,
    samples: [],
    devices: [],
    processes: [],
    gpuBlocks: 0,
    errors: [],
    warnings: [],
  };
  if (!known) {
    const reason = `unknown nvidia-smi XML schema nvsmi_device_v${dtdVersion}.dtd: read with the ${NEWEST.name} parser; please share a sample (nvidia-smi -q -x) in an issue`;
    result.warnings.push({ reason });
    if (!warnedVersions.has(String(dtdVersion))) {
      warnedVersions.add(String(dtdVersion));
      options.logger?.warn({ dtdVersion }, reason);
    }
  }

  // One pass that reads the tree and checks the document is well-formed (tree.ts).
  const tree = parseXmlTree(input);
  if ('error' in tree) {
    result.errors.push({ line: tree.error.line, reason: `not well-formed XML: ${tree.error.msg}` });
    return result;
  }
  const root = child(tree.top, 'nvidia_smi_log');
  if (!root || typeof root === 'string') {
    result.errors.push({ reason: 'no <nvidia_smi_log> element' });
    return result;
  }
  // 610 deprecates driver_version and cuda_version (a note, or the version with a note): the new names first.
  const driverVersion = leadingVersion(leaf(root, 'kmd_version'), leaf(root, 'driver_version'));
  const cudaVersion = leadingVersion(leaf(root, 'cuda_umd_version'), leaf(root, 'cuda_version'));
  const ts = parseXmlTimestamp(leaf(root, 'timestamp')) ?? options.now;
  const gpus = children(root, 'gpu');
  result.gpuBlocks = gpus.length;
  const attached = Number(leaf(root, 'attached_gpus'));
  if (Number.isInteger(attached) && attached > gpus.length) {
    result.warnings.push({
      reason: `attached_gpus is ${attached} but ${gpus.length} <gpu> block(s) are present (output filtered with -i, or cut): indexes count the blocks present`,
    });
  }

  gpus.forEach((gpu, position) => {
    const uuid = text(leaf(gpu, 'uuid'));
    if (uuid === null || typeof gpu === 'string') {
      result.errors.push({ reason: `<gpu> block ${position + 1}: no <uuid>` });
      return;
    }
    const model = text(leaf(gpu, 'product_name')) ?? 'unknown';
    const pciBusId = text(leaf(gpu, 'pci', 'pci_bus_id')) ?? text(attr(gpu, 'id'));
    const vbiosVersion = text(leaf(gpu, 'vbios_version'));
    const where = `<gpu> ${uuid}`;
    const sample: GpuSample = { ...EMPTY_SAMPLE };
    sample.ts = ts;
    sample.host = options.host;
    sample.gpu_index = position;
    sample.uuid = uuid;
    sample.model = model;
    sample.pci_bus_id = pciBusId;
    sample.driver_version = driverVersion;
    sample.vbios_version = vbiosVersion;
    sample.cuda_version = cudaVersion;
    readMetrics(gpu, schema, sample, (reason) => result.warnings.push({ reason: `${where}: ${reason}` }));
    result.samples.push(sample);
    result.devices.push({
      uuid,
      index: position,
      model,
      pciBusId,
      serial: text(leaf(gpu, 'serial')),
      vbiosVersion,
      driverVersion,
      parentUuid: null,
      migProfile: null,
    });
    const migs = migDevices(gpu, uuid, model, pciBusId, driverVersion, options.listed ?? []);
    result.devices.push(...migs.map((m) => m.device));
    // Each MIG instance is a sample of its own, after its GPU: its memory; utilization, power, clocks and
    // temperature are the GPU's, which nvidia-smi does not split per instance (null, never the GPU's).
    for (const mig of migs) {
      const instance: GpuSample = { ...EMPTY_SAMPLE };
      instance.ts = ts;
      instance.host = options.host;
      instance.gpu_index = position;
      instance.uuid = mig.device.uuid;
      instance.model = mig.device.model;
      instance.pci_bus_id = pciBusId;
      instance.driver_version = driverVersion;
      instance.vbios_version = vbiosVersion;
      instance.cuda_version = cudaVersion;
      instance.parent_uuid = uuid;
      instance.mig_gpu_instance_id = migId(mig.gi);
      instance.mig_compute_instance_id = migId(mig.ci);
      readMigMetrics(mig.node, instance, (reason) =>
        result.warnings.push({ reason: `${where} MIG ${mig.device.uuid}: ${reason}` }),
      );
      result.samples.push(instance);
    }
    for (const p of children(child(gpu, 'processes'), 'process_info')) {
      const pid = Number(leaf(p, 'pid'));
      if (!Number.isSafeInteger(pid) || pid < 0) {
        result.warnings.push({ reason: `${where}: process with pid "${leaf(p, 'pid')}" skipped` });
        continue;
      }
      const gi = text(leaf(p, 'gpu_instance_id'));
      const ci = text(leaf(p, 'compute_instance_id'));
      const mig = migs.find((m) => m.gi === gi && m.ci === ci);
      const memory = readNumber(leaf(p, 'used_memory'), 'mebibytes').value;
      result.processes.push({
        uuid: mig?.device.uuid ?? uuid,
        pid,
        name: text(leaf(p, 'process_name')),
        usedMemoryBytes: memory !== null && Number.isSafeInteger(memory) && memory >= 0 ? memory : null,
      });
    }
  });
  return result;
}

/**
 * A MIG instance's own readings in its `<mig_device>` (the same elements from DTD v11 to v13): its framebuffer
 * (total, reserved, used, free) and its volatile uncorrectable SRAM ECC errors, set in `metrics` (all null).
 */
function readMigMetrics(mig: XmlNode, metrics: MetricValues, warn: (reason: string) => void): void {
  const set = (name: MetricName, raw: string | undefined, kind: ValueKind = 'number') => {
    const reading = checkMetric(name, readNumber(raw, kind));
    if (reading.problem) warn(`${name}: ${reading.problem}`);
    metrics[name] = reading.value;
  };
  set('gpu_memory_total_bytes', leaf(mig, 'fb_memory_usage', 'total'), 'mebibytes');
  set('gpu_memory_used_bytes', leaf(mig, 'fb_memory_usage', 'used'), 'mebibytes');
  set('gpu_memory_free_bytes', leaf(mig, 'fb_memory_usage', 'free'), 'mebibytes');
  set('gpu_memory_reserved_bytes', leaf(mig, 'fb_memory_usage', 'reserved'), 'mebibytes');
  set(
    'gpu_ecc_errors_uncorrected_volatile_total',
    leaf(mig, 'ecc_error_count', 'volatile_count', 'sram_uncorrectable'),
  );
}

/** A GPU's readings, set in `metrics` (all null). */
function readMetrics(
  gpu: XmlNode,
  schema: XmlSchema,
  metrics: MetricValues,
  warn: (reason: string) => void,
): void {
  const set = (name: MetricName, raw: string | undefined, kind: ValueKind = 'number') => {
    const reading = checkMetric(name, readNumber(raw, kind));
    if (reading.problem) warn(`${name}: ${reading.problem}`);
    metrics[name] = reading.value;
  };
  const first = (paths: readonly (readonly string[])[]) => {
    for (const path of paths) {
      const raw = leaf(gpu, ...path);
      if (raw !== undefined && text(raw) !== null) return raw;
    }
    return undefined;
  };
  set('gpu_utilization_percent', leaf(gpu, 'utilization', 'gpu_util'));
  set('gpu_memory_utilization_percent', leaf(gpu, 'utilization', 'memory_util'));
  set('gpu_encoder_utilization_percent', leaf(gpu, 'utilization', 'encoder_util'));
  set('gpu_decoder_utilization_percent', leaf(gpu, 'utilization', 'decoder_util'));
  set('gpu_memory_total_bytes', leaf(gpu, 'fb_memory_usage', 'total'), 'mebibytes');
  set('gpu_memory_used_bytes', leaf(gpu, 'fb_memory_usage', 'used'), 'mebibytes');
  set('gpu_memory_free_bytes', leaf(gpu, 'fb_memory_usage', 'free'), 'mebibytes');
  set('gpu_temperature_celsius', leaf(gpu, 'temperature', 'gpu_temp'));
  set('gpu_memory_temperature_celsius', leaf(gpu, 'temperature', 'memory_temp'));
  set('gpu_power_draw_watts', first(schema.powerDraw));
  set('gpu_power_limit_watts', first(schema.powerLimit));
  set('gpu_sm_clock_mhz', leaf(gpu, 'clocks', 'sm_clock'));
  set('gpu_memory_clock_mhz', leaf(gpu, 'clocks', 'mem_clock'));
  set('gpu_graphics_clock_mhz', leaf(gpu, 'clocks', 'graphics_clock'));
  set('gpu_fan_speed_percent', leaf(gpu, 'fan_speed'));
  set('gpu_performance_state', leaf(gpu, 'performance_state'), 'pstate');
  set('gpu_pcie_tx_bytes_per_second', leaf(gpu, 'pci', 'tx_util'));
  set('gpu_pcie_rx_bytes_per_second', leaf(gpu, 'pci', 'rx_util'));
  // The same paths from DTD v10 to v13 (v13 adds device_current_link_gen / max_device_link_gen beside them).
  const link = child(child(gpu, 'pci'), 'pci_gpu_link_info');
  set('gpu_pcie_link_generation', leaf(link, 'pcie_gen', 'current_link_gen'));
  set('gpu_pcie_link_generation_max', leaf(link, 'pcie_gen', 'max_link_gen'));
  set('gpu_pcie_link_width_lanes', leaf(link, 'link_widths', 'current_link_width'));
  set('gpu_pcie_link_width_max_lanes', leaf(link, 'link_widths', 'max_link_width'));
  set('gpu_memory_reserved_bytes', leaf(gpu, 'fb_memory_usage', 'reserved'), 'mebibytes');
  set('gpu_video_clock_mhz', leaf(gpu, 'clocks', 'video_clock'));
  set('gpu_jpeg_utilization_percent', leaf(gpu, 'utilization', 'jpeg_util'));
  set('gpu_ofa_utilization_percent', leaf(gpu, 'utilization', 'ofa_util'));
  set('gpu_encoder_sessions', leaf(gpu, 'encoder_stats', 'session_count'));
  set('gpu_encoder_fps', leaf(gpu, 'encoder_stats', 'average_fps'));
  set('gpu_encoder_latency_microseconds', leaf(gpu, 'encoder_stats', 'average_latency'), 'microseconds');
  set('gpu_fbc_sessions', leaf(gpu, 'fbc_stats', 'session_count'));
  set('gpu_fbc_fps', leaf(gpu, 'fbc_stats', 'average_fps'));
  set('gpu_fbc_latency_microseconds', leaf(gpu, 'fbc_stats', 'average_latency'), 'microseconds');
  set('gpu_remapped_rows_correctable_total', leaf(gpu, 'remapped_rows', 'remapped_row_corr'));
  set('gpu_remapped_rows_uncorrectable_total', leaf(gpu, 'remapped_rows', 'remapped_row_unc'));
  const retired = child(gpu, 'retired_pages');
  set('gpu_retired_pages_single_bit_total', leaf(retired, 'multiple_single_bit_retirement', 'retired_count'));
  set('gpu_retired_pages_double_bit_total', leaf(retired, 'double_bit_retirement', 'retired_count'));
  for (const { container, prefix } of schema.eventReasons) {
    const node = child(gpu, container);
    if (!node || typeof node === 'string') continue;
    const flags = new Map<string, string | null>();
    for (const [name, value] of Object.entries(node)) {
      if (name.startsWith(prefix) && typeof value === 'string') flags.set(name.slice(prefix.length), value);
    }
    metrics.gpu_clock_throttle_reasons = maskFromFlags(flags);
    break;
  }
  const ecc = (reading: Reading, name: MetricName) => {
    const checked = checkMetric(name, reading);
    if (checked.problem) warn(`${name}: ${checked.problem}`);
    metrics[name] = checked.value;
  };
  ecc(
    eccTotal(gpu, 'single_bit', ['sram_correctable', 'dram_correctable']),
    'gpu_ecc_errors_corrected_volatile_total',
  );
  ecc(
    eccTotal(gpu, 'double_bit', [
      'sram_uncorrectable',
      'sram_uncorrectable_parity',
      'sram_uncorrectable_secded',
      'dram_uncorrectable',
    ]),
    'gpu_ecc_errors_uncorrected_volatile_total',
  );
}

/**
 * Volatile ECC errors: v11 layout `volatile/single_bit/total`, newer layout the sum of the SRAM and DRAM
 * counters under `volatile` (null when none of them has a value).
 */
function eccTotal(gpu: XmlNode, old: string, parts: readonly string[]): Reading {
  const volatile = child(child(gpu, 'ecc_errors'), 'volatile');
  const total = leaf(volatile, old, 'total');
  if (total !== undefined) return readNumber(total);
  let sum: number | null = null;
  for (const part of parts) {
    const reading = readNumber(leaf(volatile, part));
    if (reading.problem) return reading;
    if (reading.value !== null) sum = (sum ?? 0) + reading.value;
  }
  return { value: sum };
}

interface MigFound {
  gi: string | null;
  ci: string | null;
  node: XmlNode;
  device: GpuDevice;
}

function migDevices(
  gpu: XmlNode,
  parentUuid: string,
  model: string,
  pciBusId: string | null,
  driverVersion: string | null,
  listed: readonly ListedDevice[],
): MigFound[] {
  return children(child(gpu, 'mig_devices'), 'mig_device').map((mig, position) => {
    const index = Number(leaf(mig, 'index') ?? position);
    const gi = text(leaf(mig, 'gpu_instance_id'));
    const ci = text(leaf(mig, 'compute_instance_id'));
    const known = listed.find((d) => d.parentUuid === parentUuid && d.index === index);
    const profile = known?.name ?? null;
    return {
      gi,
      ci,
      node: mig,
      device: {
        // Without `nvidia-smi -L`, the MIG device name CUDA accepted before 470: MIG-<GPU uuid>/<GI>/<CI>.
        uuid: known?.uuid ?? legacyMigUuid(parentUuid, migId(gi), migId(ci)),
        index: Number.isInteger(index) ? index : position,
        model: migModel(model, profile),
        pciBusId,
        serial: null,
        vbiosVersion: null,
        driverVersion,
        parentUuid,
        migProfile: profile,
      },
    };
  });
}

/** `Fri Aug  4 11:44:30 2023` (local time of the host, no zone) as epoch ms, read as UTC. */
export function parseXmlTimestamp(raw: string | undefined): number | null {
  const m = /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(raw?.trim() ?? '');
  if (!m) return null;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(
    m[1] as string,
  );
  if (month < 0) return null;
  const ts = Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
  return Number.isFinite(ts) && ts >= 0 ? ts : null;
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node || typeof node === 'string') return undefined;
  const value = node[name];
  return Array.isArray(value) ? value[0] : value;
}

function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (!node || typeof node === 'string') return [];
  const value = node[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v) => v !== undefined && typeof v !== 'string');
}

/** The text of the element at `path`, undefined where there is none (or it is not text). */
function leaf(node: XmlNode | undefined, ...path: string[]): string | undefined {
  let current = node;
  for (const name of path) current = child(current, name);
  if (current === undefined) return undefined;
  if (typeof current === 'string') return current;
  const inner = current['#text'];
  return typeof inner === 'string' ? inner : undefined;
}

function attr(node: XmlNode, name: string): string | undefined {
  if (typeof node === 'string') return undefined;
  const value = node[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
}
