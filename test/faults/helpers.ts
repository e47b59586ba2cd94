/**
 * Private services for the fault tests: each test file starts its OWN Kafka and/or InfluxDB through the
 * project's scripts (scripts/services/*.sh) in a temporary GPUMON_SERVICES_DIR on free ports, so that stopping
 * them hurts no other test.
 *
 * `stop` and `restart` are the scripts' own: `<service>.sh stop` keeps the run's directory, and
 * `<service>.sh restart` starts the service again on that directory, so it comes back with its data and on
 * its address (checked here).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { influxQuery } from '../../src/testing/services.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = join(ROOT, 'scripts', 'services');

export type ServiceName = 'kafka' | 'influxdb';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function script(
  dir: string,
  name: ServiceName,
  command: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      join(SCRIPTS, `${name}.sh`),
      [command],
      {
        cwd: ROOT,
        timeout: 180_000,
        env: {
          ...process.env,
          GPUMON_SERVICES_DIR: dir,
          GPUMON_KAFKA_PORT: '0',
          GPUMON_KAFKA_CONTROLLER_PORT: '0',
          GPUMON_INFLUXDB_PORT: '0',
          GPUMON_INFLUXDB_RPC_PORT: '0',
        },
      },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${name}.sh ${command} failed: ${err.message}\n${stdout}\n${stderr}`))
          : resolve({ stdout, stderr }),
    );
  });
}

function envLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

/** Kafka and/or InfluxDB of one test file, in a temporary services directory. */
export class PrivateServices {
  readonly dir = mkdtempSync(join(tmpdir(), 'gpumon-faults-services-'));
  kafka = '';
  influxdb = '';
  private readonly started = new Set<ServiceName>();

  /** Starts the services through their scripts (port 0: free ports) and reads the addresses they print. */
  async start(...names: ServiceName[]): Promise<this> {
    await Promise.all(
      names.map(async (name) => {
        this.started.add(name);
        this.setAddress(name, (await script(this.dir, name, 'start')).stdout);
      }),
    );
    return this;
  }

  /** Stops a service as an operator would (`<service>.sh stop`: SIGTERM, then SIGKILL), keeping its data. */
  async stop(name: ServiceName): Promise<void> {
    await script(this.dir, name, 'stop');
  }

  /**
   * Starts a stopped service again (`<service>.sh restart`: same run directory, so the same configuration,
   * ports and data); resolves once the script saw it ready, on the address it had.
   */
  async restart(name: ServiceName): Promise<void> {
    const before = this.address(name);
    this.setAddress(name, (await script(this.dir, name, 'restart')).stdout);
    if (this.address(name) !== before) {
      throw new Error(`${name}.sh restart came back on ${this.address(name)}, not on ${before}`);
    }
  }

  private address(name: ServiceName): string {
    return name === 'kafka' ? this.kafka : this.influxdb;
  }

  private setAddress(name: ServiceName, stdout: string): void {
    const env = envLines(stdout);
    const key = name === 'kafka' ? 'GPUMON_TEST_KAFKA' : 'GPUMON_TEST_INFLUXDB';
    const value = env[key];
    if (!value) throw new Error(`${name}.sh printed no ${key}: ${stdout}`);
    if (name === 'kafka') this.kafka = value;
    else this.influxdb = value;
  }

  /** The last lines of the service's logs (for failure messages). */
  logs(name: ServiceName, lines = 40): string {
    const run = join(this.dir, name, 'current', 'logs');
    const file = name === 'kafka' ? 'server.log' : 'influxd.log';
    try {
      return readFileSync(join(run, file), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Stops everything this instance started and removes the directory. */
  async stopAll(): Promise<void> {
    for (const name of this.started) await script(this.dir, name, 'stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Points of `gpu_metrics` in `db` (0 while the database or InfluxDB is not there). */
export async function pointsIn(url: string, db: string): Promise<number> {
  const [result] = await influxQuery(url, 'SELECT count(utilization_gpu) FROM gpu_metrics', db).catch(
    () => [],
  );
  const value = result?.series?.[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

/** Resolves once `probe` resolves true, polling every `everyMs`; rejects with `what` after `ms`. */
export async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  ms: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export { sleep };
