import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The hwmon drivers that report the CPU's temperature, in the order they are preferred. */
export const CPU_SENSORS = ['coretemp', 'k10temp', 'zenpower', 'acpitz'] as const;
export type CpuSensor = (typeof CPU_SENSORS)[number];

/** One CPU package (socket, or die where the driver has one device per die) and its temperature. */
export interface CpuPackageTemperature {
  /** The hwmon device it comes from (`hwmon0`). */
  device: string;
  /** The sensor's label (`Package id 0`, `Tctl`, `Tdie`), or `temp1` where the driver gives none. */
  label: string;
  celsius: number;
}

export interface CpuTemperature {
  /** The hottest package, °C: what `host_cpu_temperature_celsius` carries. Null when nothing could be read. */
  celsius: number | null;
  /** The driver read, or null when no CPU sensor was found. */
  sensor: CpuSensor | null;
  packages: CpuPackageTemperature[];
  /** Why `celsius` is null, or what was skipped on the way (a sensor file that could not be read). */
  issues: string[];
  /** The machine has no CPU sensor to read (no hwmon tree, or none of CPU_SENSORS): null is no failure. */
  absent: boolean;
}

/** A temperature a CPU sensor can plausibly report, °C (the catalog's range of host_cpu_temperature_celsius). */
const PLAUSIBLE = { min: -50, max: 150 } as const;

/** Labels of a package sensor, per driver; the first label found wins for k10temp/zenpower (Tdie: no offset). */
const PACKAGE_LABELS: Record<CpuSensor, RegExp[]> = {
  // "Package id N" since Linux 3.x; "Physical id N" before (one coretemp device per package either way).
  coretemp: [/^(Package|Physical) id \d+$/],
  // Tdie is the die temperature; Tctl may carry a fan-control offset (Threadripper, some Ryzen). Old kernels
  // label nothing: temp1 is Tctl.
  k10temp: [/^Tdie$/, /^Tctl$/],
  zenpower: [/^Tdie$/, /^Tctl$/],
  // ACPI thermal zones have no labels: every zone counts.
  acpitz: [],
};

/**
 * The CPU temperature from hwmon under `root` (`/sys/class/hwmon/hwmon*`): the first driver of CPU_SENSORS that
 * has a readable package sensor, each of its devices a package, and the hottest of them. Never throws: a missing
 * tree, an unreadable or garbage value gives null (or skips that sensor) with the reason in `issues`.
 */
export async function readCpuTemperature(root: string): Promise<CpuTemperature> {
  const base = join(root, 'sys', 'class', 'hwmon');
  const issues: string[] = [];
  let entries: string[];
  try {
    entries = (await readdir(base)).filter((e) => e.startsWith('hwmon'));
  } catch (err) {
    const absent = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { celsius: null, sensor: null, packages: [], issues: [`${base}: ${reasonOf(err)}`], absent };
  }
  entries.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)) || a.localeCompare(b));

  const byDriver = new Map<CpuSensor, string[]>();
  for (const entry of entries) {
    const name = await readText(join(base, entry, 'name'));
    if (name === null) continue; // hwmon devices without a name (some platform drivers) are no CPU sensor
    const driver = CPU_SENSORS.find((s) => s === name);
    if (driver) byDriver.set(driver, [...(byDriver.get(driver) ?? []), entry]);
  }
  if (byDriver.size === 0) {
    const found =
      entries.length === 0
        ? 'no hwmon devices'
        : `no ${CPU_SENSORS.join('/')} among ${entries.length} hwmon devices`;
    return { celsius: null, sensor: null, packages: [], issues: [`${base}: ${found}`], absent: true };
  }

  for (const sensor of CPU_SENSORS) {
    const devices = byDriver.get(sensor);
    if (!devices) continue;
    const packages: CpuPackageTemperature[] = [];
    for (const device of devices) packages.push(...(await packageTemperatures(base, device, sensor, issues)));
    if (packages.length === 0) {
      issues.push(`${sensor}: no readable package temperature`);
      continue;
    }
    const celsius = Math.max(...packages.map((p) => p.celsius));
    return { celsius, sensor, packages, issues, absent: false };
  }
  return { celsius: null, sensor: null, packages: [], issues, absent: false };
}

/** The package temperatures of one hwmon device of `sensor`. */
async function packageTemperatures(
  base: string,
  device: string,
  sensor: CpuSensor,
  issues: string[],
): Promise<CpuPackageTemperature[]> {
  const dir = join(base, device);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    issues.push(`${dir}: ${reasonOf(err)}`);
    return [];
  }
  const channels = files
    .map((f) => /^temp(\d+)_input$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const labelled: { channel: number; label: string }[] = [];
  for (const channel of channels) {
    const label = files.includes(`temp${channel}_label`)
      ? await readText(join(dir, `temp${channel}_label`))
      : null;
    labelled.push({ channel, label: label ?? `temp${channel}` });
  }

  const patterns = PACKAGE_LABELS[sensor];
  let chosen: { channel: number; label: string }[];
  if (patterns.length === 0) {
    chosen = labelled;
  } else if (sensor === 'coretemp') {
    chosen = labelled.filter((c) => patterns.some((p) => p.test(c.label)));
  } else {
    // k10temp / zenpower: one package per device: the first pattern that matches, else the unlabelled temp1.
    const match = patterns.map((p) => labelled.find((c) => p.test(c.label))).find((c) => c !== undefined);
    chosen = match ? [match] : labelled.filter((c) => c.channel === 1 && c.label === 'temp1');
  }
  if (chosen.length === 0) {
    issues.push(
      `${dir}: no package sensor among ${labelled.map((c) => c.label).join(', ') || 'no temp*_input'}`,
    );
    return [];
  }

  const out: CpuPackageTemperature[] = [];
  for (const { channel, label } of chosen) {
    const file = join(dir, `temp${channel}_input`);
    const celsius = parseMillidegrees(await readText(file));
    if (typeof celsius === 'string') issues.push(`${file}: ${celsius}`);
    else out.push({ device, label, celsius });
  }
  return out;
}

/** A hwmon temperature (integer millidegrees Celsius) in °C, or why it is not one. */
export function parseMillidegrees(text: string | null): number | string {
  if (text === null) return 'unreadable';
  if (!/^-?\d+$/.test(text)) return `not a temperature: ${JSON.stringify(text.slice(0, 40))}`;
  const celsius = Number(text) / 1000;
  if (celsius < PLAUSIBLE.min || celsius > PLAUSIBLE.max) return `implausible: ${celsius} °C`;
  return celsius;
}

/** A sysfs file's content, trimmed; null when it cannot be read (missing, EIO from the driver, a directory). */
async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

export function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'missing';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (err instanceof Error ? err.message : String(err));
}
