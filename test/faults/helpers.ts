/**
 * Private services for the fault tests: each test file starts its OWN Kafka and/or InfluxDB through the
 * project's scripts (scripts/services/*.sh) in a temporary GPUMON_SERVICES_DIR on free ports, so that stopping
 * them hurts no other test.
 *
 * Restarting: `kafka.sh start` and `influxdb.sh start` always begin a NEW run directory with empty data (they
 * remove the stopped run's directory, lib.sh `new_run_dir`), and with port 0 they pick new ports too. A service
 * "stopped and started again" must come back with its data and on its address, so `restart` here starts the
 * very command line the script had started (read from /proc before `stop`), on the run directory `stop` kept:
 * same configuration, same ports, same data. That process belongs to this module, which ends it in `stopAll`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { influxQuery, kafkaApiVersions } from '../../src/testing/services.ts';

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
  private readonly commandLines = new Map<ServiceName, string[]>();
  private readonly restarted = new Map<ServiceName, ChildProcess>();

  /** Starts the services through their scripts (port 0: free ports) and reads the addresses they print. */
  async start(...names: ServiceName[]): Promise<this> {
    await Promise.all(
      names.map(async (name) => {
        this.started.add(name);
        const env = envLines((await script(this.dir, name, 'start')).stdout);
        if (name === 'kafka') this.kafka = env.GPUMON_TEST_KAFKA ?? '';
        else this.influxdb = env.GPUMON_TEST_INFLUXDB ?? '';
      }),
    );
    if (names.includes('kafka') && !this.kafka)
      throw new Error('kafka.sh start printed no GPUMON_TEST_KAFKA');
    if (names.includes('influxdb') && !this.influxdb)
      throw new Error('influxdb.sh start printed no GPUMON_TEST_INFLUXDB');
    return this;
  }

  /** Stops a service as an operator would (`<service>.sh stop`: SIGTERM, then SIGKILL), keeping its data. */
  async stop(name: ServiceName): Promise<void> {
    const own = this.restarted.get(name);
    if (own) {
      await endProcess(own);
      this.restarted.delete(name);
      return;
    }
    const pid = readFileSync(join(this.dir, name, 'pid'), 'utf8').trim();
    this.commandLines.set(name, readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
    await script(this.dir, name, 'stop');
  }

  /** Starts a stopped service again with the same configuration, ports and data; resolves once it answers. */
  async restart(name: ServiceName): Promise<void> {
    const argv = this.commandLines.get(name);
    if (!argv?.[0]) throw new Error(`${name} was not stopped by PrivateServices.stop`);
    const run = join(this.dir, name, 'current');
    const log = openSync(join(run, 'logs', 'restart.out'), 'a');
    const child = spawn(argv[0], argv.slice(1), { cwd: run, detached: true, stdio: ['ignore', log, log] });
    this.restarted.set(name, child);
    const until = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited on restart: ${this.logs(name)}`);
      if (await this.answers(name)) return;
      if (Date.now() > until) throw new Error(`${name} did not answer within 120 s of restart`);
      await sleep(200);
    }
  }

  private async answers(name: ServiceName): Promise<boolean> {
    try {
      if (name === 'kafka') {
        await kafkaApiVersions(this.kafka, 1000);
        return true;
      }
      const res = await fetch(`${this.influxdb}/ping`, { signal: AbortSignal.timeout(1000) });
      return res.status === 204;
    } catch {
      return false;
    }
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

  /** Stops everything this instance started (also what `restart` started) and removes the directory. */
  async stopAll(): Promise<void> {
    for (const child of this.restarted.values()) await endProcess(child);
    this.restarted.clear();
    for (const name of this.started) await script(this.dir, name, 'stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function endProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
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
