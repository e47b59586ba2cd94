/**
 * The container images of the Kubernetes tests (test/cluster-images/build.sh, README.md beside it): built first
 * (seconds when nothing changed), then each one run in podman as the cluster runs it (no network, no passwd
 * entry added for the uid, read-only root file system, volumes for what it writes): the official image's user,
 * paths and commands, and the service really working: a KRaft broker takes a topic, HDFS stores a file and
 * answers WebHDFS, a Spark standalone cluster gives the Connect server an executor, InfluxDB creates its
 * database and users from the variables, gpumon analyses an archive. Kafka, InfluxDB, gpumon and Spark (through
 * its entrypoint) run under an arbitrary uid; Hadoop, as the official image, needs one with a passwd entry.
 * Fails, never skips, without podman (build.sh installs it when it can).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../e2e/helpers.ts';

const exec = promisify(execFile);
const BUILD = join(ROOT, 'test/cluster-images/build.sh');
/** An arbitrary uid, as a pod's securityContext.runAsUser may give: no passwd entry in any image. */
const ANY_UID = '12345';

const version = (file: string, re: RegExp) => re.exec(readFileSync(join(ROOT, file), 'utf8'))?.[1] ?? '';
const VERSIONS = {
  gpumon: version('package.json', /"version": "([^"]+)"/),
  kafka: version('scripts/services/kafka/pom.xml', /<kafka\.version>([^<]+)</),
  hadoop: version('scripts/services/hdfs/pom.xml', /<hadoop\.version>([^<]+)</),
  spark: process.env.PYSPARK_VERSION || version('scripts/setup/spark.sh', /PYSPARK_VERSION:-([^}]+)\}/),
  influxdb: '1.11.8',
};
const IMAGE = Object.fromEntries(
  Object.entries(VERSIONS).map(([name, v]) => [name, `localhost/${name}:${v}`]),
) as Record<keyof typeof VERSIONS, string>;

async function build(...args: string[]): Promise<{ stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  try {
    const { stdout, stderr } = await exec(BUILD, args, { maxBuffer: 64 << 20, timeout: 40 * 60_000 });
    return { stdout, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`build.sh ${args.join(' ')} failed: ${err.message}\n${err.stderr?.slice(-4000) ?? ''}`);
  }
}

let globalArgs: string[] = [];
let runArgs: string[] = [];

/** `podman ARGS...` with this machine's global arguments; resolves to stdout, rejects with the output. */
async function podman(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await exec('podman', [...globalArgs, ...args], {
      maxBuffer: 64 << 20,
      timeout: timeoutMs,
    });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`podman ${args.join(' ')}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

interface RunOptions {
  /** a uid (default ANY_UID) or '' for the image's own user */
  user?: string;
  /** read-only root file system, as the manifests ask (default true) */
  readOnly?: boolean;
  env?: Record<string, string>;
  /** host dir -> container path */
  volumes?: Record<string, string>;
  entrypoint?: string;
  timeoutMs?: number;
}

/** Runs `command` in a fresh container of `image`, without network, /tmp a tmpfs; resolves to its stdout. */
function run(image: string, command: string[], o: RunOptions = {}): Promise<string> {
  const args = ['run', '--rm', '--network', 'none', '--passwd=false', ...runArgs, '--tmpfs', '/tmp'];
  const user = o.user ?? ANY_UID;
  if (user) args.push('--user', user);
  if (o.readOnly ?? true) args.push('--read-only');
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('-e', `${k}=${v}`);
  for (const [host, path] of Object.entries(o.volumes ?? {})) args.push('-v', `${host}:${path}`);
  if (o.entrypoint !== undefined) args.push('--entrypoint', o.entrypoint);
  return podman([...args, image, ...command], o.timeoutMs);
}

/** A bash script run in the image (its entrypoint bypassed). */
const sh = (image: string, script: string, o: RunOptions = {}) =>
  run(image, ['-c', script], { entrypoint: '/bin/bash', ...o });

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Volumes?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
}
async function config(image: string): Promise<ImageConfig> {
  const [info] = JSON.parse(await podman(['image', 'inspect', image])) as { Config: ImageConfig }[];
  assert.ok(info, `${image} is not there`);
  return info.Config;
}
const envOf = (c: ImageConfig, name: string) =>
  c.Env?.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);

/** A directory for a container volume, writable by any uid (as an emptyDir), removed at the end. */
const scratch: string[] = [];
function volume(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-images-'));
  chmodSync(dir, 0o777);
  scratch.push(dir);
  return dir;
}

/** A bash check that each path exists (and each of `executables` is executable), printing what is wrong. */
const pathsCheck = (paths: string[], executables: string[] = []) =>
  [
    ...paths.map((p) => `[ -e '${p}' ] || echo "missing ${p}"`),
    ...executables.map((p) => `[ -x '${p}' ] || echo "not executable ${p}"`),
    'true',
  ].join('; ');

before(
  async () => {
    globalArgs = (await build('podman-args', 'global')).stdout.split('\n').filter(Boolean);
    runArgs = (await build('podman-args', 'run')).stdout.split('\n').filter(Boolean);
    await build('build');
  },
  { timeout: 40 * 60_000 },
);
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('build.sh', () => {
  it('lists the five images, tagged with the versions the test services pin', async () => {
    const { stdout } = await build('list');
    assert.deepEqual(stdout.trim().split('\n'), Object.values(IMAGE));
  });

  it('keeps every image the second time, in seconds, each labelled with the hash of its inputs', async () => {
    const { stderr, seconds } = await build('build');
    for (const image of Object.values(IMAGE)) {
      assert.match(stderr, new RegExp(`${image.replaceAll('.', '\\.')} is up to date`), stderr);
      assert.match((await config(image)).Labels?.['dev.gpumon.inputs'] ?? '', /^[0-9a-f]{64}$/);
    }
    assert.ok(seconds < 60, `a warm build took ${seconds} s`);
  });

  it('saves a docker archive per image, named as the image, for ctr images import', async () => {
    const dir = volume();
    await build('save', dir, 'influxdb');
    const file = join(dir, `influxdb-${VERSIONS.influxdb}.tar`);
    const { stdout } = await exec('tar', ['-xOf', file, 'manifest.json']);
    const [manifest] = JSON.parse(stdout) as { RepoTags: string[]; Layers: string[] }[];
    assert.deepEqual(manifest?.RepoTags, [IMAGE.influxdb]);
    assert.ok((manifest?.Layers.length ?? 0) >= 1);
    // unchanged: kept as it is
    const again = await build('save', dir, 'influxdb');
    assert.match(again.stderr, /influxdb-[^ ]+\.tar is up to date/);
  });
});

describe('localhost/gpumon (the root Dockerfile on a debootstrap + Node.js base)', () => {
  it('runs as the node user by number, from /app, with gpumon as the entrypoint', async () => {
    const c = await config(IMAGE.gpumon);
    assert.equal(c.User, '1000:1000');
    assert.equal(c.WorkingDir, '/app');
    assert.deepEqual(c.Entrypoint, ['node', 'bin/gpumon.js']);
    assert.equal(
      (await sh(IMAGE.gpumon, 'id -un 1000; node --version', { user: '' })).trim().split('\n')[0],
      'node',
    );
  });

  it('prints its help and the version of package.json', async () => {
    assert.match(await run(IMAGE.gpumon, ['--help']), /Usage: gpumon/);
    assert.equal((await run(IMAGE.gpumon, ['--version'])).trim(), VERSIONS.gpumon);
  });

  it('simulates a day and analyses it under any uid, read-only but for its volume', async () => {
    const data = volume();
    const o = { volumes: { [data]: '/data' } };
    await run(
      IMAGE.gpumon,
      ['simulate', '--days', '1', '--end', '2026-11-25', '--hosts', '1', '--gpus', '1', '--out', '/data'],
      o,
    );
    const out = await run(IMAGE.gpumon, ['analyze', '--date', '2026-11-25', '--archive', '/data'], o);
    assert.match(out, /2026-11-25\s+ok/);
  });
  it('serves the API and builds the page under any uid, read-only', async () => {
    const script = `node bin/gpumon.js simulate --days 1 --hosts 1 --gpus 1 --out /tmp/a >/dev/null 2>&1
      node bin/gpumon.js serve --port 8080 --archive /tmp/a >/tmp/serve.log 2>&1 &
      for i in $(seq 120); do grep -q 'dashboard at' /tmp/serve.log && break; sleep 0.5; done
      node -e 'Promise.all(["/api/health", "/assets/app.js", "/"].map((p) =>
        fetch("http://127.0.0.1:8080" + p).then(async (r) => p + " " + r.status + " " + (await r.text()).length)))
        .then((l) => console.log(l.join("\\n")))'`;
    const lines = (await sh(IMAGE.gpumon, script)).trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['/api/health 200', '/assets/app.js 200', '/ 200'],
    );
    assert.ok(Number(lines[1]?.split(' ')[2]) > 1000, lines.join('; '));
  });
});

describe('localhost/kafka (stand-in for apache/kafka)', () => {
  it('has the official layout and user: /opt/kafka, appuser (1000), Java 17 in /opt/java/openjdk', async () => {
    const c = await config(IMAGE.kafka);
    assert.equal(c.User, 'appuser');
    assert.equal(envOf(c, 'JAVA_HOME'), '/opt/java/openjdk');
    assert.deepEqual(Object.keys(c.Volumes ?? {}).sort(), [
      '/etc/kafka/secrets',
      '/mnt/shared/config',
      '/var/lib/kafka/data',
    ]);
    const bin = ['kafka-storage.sh', 'kafka-server-start.sh', 'kafka-topics.sh', 'kafka-run-class.sh'];
    const check = pathsCheck(
      [
        '/opt/kafka/config/log4j2.yaml',
        '/opt/kafka/config/tools-log4j2.yaml',
        '/opt/kafka/config/server.properties',
        `/opt/kafka/libs/kafka_2.13-${VERSIONS.kafka}.jar`,
        '/var/lib/kafka/data',
      ],
      bin.map((b) => `/opt/kafka/bin/${b}`),
    );
    const out = await sh(IMAGE.kafka, `${check}; id -u appuser; java -version 2>&1 | head -1`, { user: '' });
    assert.match(out, /^1000\nopenjdk version "17\./, out);
  });

  it('runs kafka-storage.sh random-uuid under any uid, read-only', async () => {
    const out = await run(IMAGE.kafka, ['/opt/kafka/bin/kafka-storage.sh', 'random-uuid']);
    assert.match(out.trim(), /^[A-Za-z0-9_-]{22}$/);
  });

  it("runs every tool's main class (--version; kafka-metadata-quorum.sh has --help only)", async () => {
    const tools = [
      'topics',
      'configs',
      'console-producer',
      'console-consumer',
      'consumer-groups',
      'broker-api-versions',
      'get-offsets',
      'dump-log',
    ];
    const script = [
      ...tools.map((t) => `echo "${t}: $(/opt/kafka/bin/kafka-${t}.sh --version 2>&1 | tail -1)"`),
      '/opt/kafka/bin/kafka-metadata-quorum.sh --help 2>&1 | grep -m1 usage:',
    ].join('; ');
    const lines = (await sh(IMAGE.kafka, script, { timeoutMs: 180_000 })).trim().split('\n');
    assert.deepEqual(
      lines.slice(0, -1),
      tools.map((t) => `${t}: ${VERSIONS.kafka}`),
    );
    assert.match(lines.at(-1) ?? '', /^usage: kafka-metadata-quorum/);
  });

  it('formats a KRaft node and starts the broker, which takes a topic (any uid, read-only, data and logs in volumes)', async () => {
    const script = `set -e
      sed 's#^log.dirs=.*#log.dirs=/var/lib/kafka/data#' /opt/kafka/config/server.properties >/tmp/server.properties
      /opt/kafka/bin/kafka-storage.sh format --standalone -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" -c /tmp/server.properties >/dev/null
      /opt/kafka/bin/kafka-server-start.sh /tmp/server.properties >/tmp/server.out 2>&1 &
      for i in $(seq 90); do /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --list >/dev/null 2>&1 && break; sleep 1; done
      /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic gpu-metrics --partitions 3
      /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --topic gpu-metrics | head -1
      ls /kafka-logs`;
    const out = await sh(IMAGE.kafka, script, {
      env: { LOG_DIR: '/kafka-logs', KAFKA_HEAP_OPTS: '-Xmx256m' },
      volumes: { [volume()]: '/var/lib/kafka/data', [volume()]: '/kafka-logs' },
      timeoutMs: 180_000,
    });
    assert.match(out, /Created topic gpu-metrics/);
    assert.match(out, /PartitionCount: 3/);
    assert.match(out, /server\.log/);
    assert.match(out, /kafkaServer-gc\.log/);
  });
});

describe('localhost/hadoop (stand-in for apache/hadoop)', () => {
  it('has the official layout and user: /opt/hadoop, hdfs on PATH, hadoop (1000), HADOOP_CONF_DIR', async () => {
    const c = await config(IMAGE.hadoop);
    assert.equal(c.User, 'hadoop');
    assert.equal(c.WorkingDir, '/opt/hadoop');
    assert.equal(envOf(c, 'HADOOP_HOME'), '/opt/hadoop');
    assert.equal(envOf(c, 'HADOOP_CONF_DIR'), '/opt/hadoop/etc/hadoop');
    assert.equal(envOf(c, 'JAVA_HOME'), '/usr/lib/jvm/jre');
    const check = pathsCheck(
      [
        '/opt/hadoop/etc/hadoop/core-site.xml',
        '/opt/hadoop/etc/hadoop/hdfs-site.xml',
        '/opt/hadoop/etc/hadoop/log4j.properties',
        `/opt/hadoop/share/hadoop/hdfs/hadoop-hdfs-${VERSIONS.hadoop}.jar`,
      ],
      ['/opt/hadoop/bin/hdfs', '/opt/hadoop/bin/hadoop', '/usr/lib/jvm/jre/bin/java'],
    );
    const out = await sh(IMAGE.hadoop, `${check}; id -u hadoop; command -v hdfs`, { user: '' });
    assert.equal(out, '1000\n/opt/hadoop/bin/hdfs\n');
  });

  it('prints its version (hdfs version, hadoop version) and configuration (hdfs getconf)', async () => {
    assert.match(await run(IMAGE.hadoop, ['hdfs', 'version']), new RegExp(`^Hadoop ${VERSIONS.hadoop}\\n`));
    assert.match(await run(IMAGE.hadoop, ['hadoop', 'version']), new RegExp(`^Hadoop ${VERSIONS.hadoop}\\n`));
    assert.equal(
      (await run(IMAGE.hadoop, ['hdfs', 'getconf', '-confKey', 'dfs.replication'], { user: '1000' })).trim(),
      '3',
    );
  });

  it('as the official image, refuses a uid without a passwd entry (Hadoop login): pods run it as 1000', async () => {
    await assert.rejects(
      run(IMAGE.hadoop, ['hdfs', 'dfs', '-ls', 'file:///']),
      /Invalid UID, could not determine effective user/,
    );
    assert.match(await run(IMAGE.hadoop, ['hdfs', 'dfs', '-ls', 'file:///'], { user: '1000' }), /\/opt/);
  });

  it('formats, runs a NameNode and a DataNode, stores a file and answers WebHDFS (as 1000, read-only)', async () => {
    const conf = volume();
    const prop = (k: string, v: string) => `<property><name>${k}</name><value>${v}</value></property>`;
    const site = (...p: string[]) => `<configuration>${p.join('')}</configuration>\n`;
    const script = `set -e
      mkdir -p /tmp/conf; cp /opt/hadoop/etc/hadoop/log4j.properties /tmp/conf/
      echo '${site(prop('fs.defaultFS', 'hdfs://127.0.0.1:8020'), prop('hadoop.tmp.dir', '/data/tmp'))}' >/tmp/conf/core-site.xml
      echo '${site(prop('dfs.namenode.name.dir', '/data/name'), prop('dfs.datanode.data.dir', '/data/dn'), prop('dfs.replication', '1'), prop('dfs.namenode.safemode.extension', '0'))}' >/tmp/conf/hdfs-site.xml
      export HADOOP_CONF_DIR=/tmp/conf
      hdfs namenode -format -nonInteractive -force >/tmp/format.log 2>&1 || { tail -20 /tmp/format.log; exit 1; }
      hdfs namenode >/tmp/nn.log 2>&1 &
      hdfs datanode >/tmp/dn.log 2>&1 &
      for i in $(seq 90); do hdfs dfsadmin -report 2>/dev/null | grep -q 'Live datanodes (1)' && break; sleep 1; done
      hdfs dfsadmin -safemode wait
      echo gpu > /tmp/f; hdfs dfs -mkdir -p /gpu-metrics; hdfs dfs -put /tmp/f /gpu-metrics/f; hdfs dfs -ls /gpu-metrics
      hdfs dfs -cat /gpu-metrics/f
      exec 3<>/dev/tcp/127.0.0.1/9870
      printf 'GET /webhdfs/v1/gpu-metrics?op=LISTSTATUS HTTP/1.0\\r\\n\\r\\n' >&3
      cat <&3 | tr -d ' \\n'`;
    const out = await sh(IMAGE.hadoop, script, {
      user: '1000',
      env: { HADOOP_HEAPSIZE_MAX: '256' },
      volumes: { [conf]: '/data' },
      timeoutMs: 180_000,
    });
    assert.match(out, /Safe mode is OFF/);
    assert.match(out, /\/gpu-metrics\/f\ngpu\n/);
    assert.match(out, /"pathSuffix":"f"/);
  });
});

describe('localhost/spark (stand-in for apache/spark)', () => {
  it('has the official layout and user: /opt/spark, spark (185), work-dir writable by it, /opt/entrypoint.sh', async () => {
    const c = await config(IMAGE.spark);
    assert.equal(c.User, 'spark');
    assert.equal(c.WorkingDir, '/opt/spark/work-dir');
    assert.deepEqual(c.Entrypoint, ['/opt/entrypoint.sh']);
    assert.equal(envOf(c, 'SPARK_HOME'), '/opt/spark');
    assert.equal(envOf(c, 'JAVA_HOME'), '/opt/java/openjdk');
    const check = pathsCheck(
      ['/opt/spark/RELEASE', '/opt/spark/examples', '/opt/spark/data'],
      [
        '/opt/spark/bin/spark-class',
        '/opt/spark/bin/spark-submit',
        '/opt/spark/sbin/start-master.sh',
        '/opt/spark/sbin/start-worker.sh',
        '/opt/spark/sbin/start-connect-server.sh',
        '/opt/spark/sbin/spark-daemon.sh',
        '/opt/entrypoint.sh',
      ],
    );
    const script = `${check}; id -u spark; ls /opt/spark/jars/spark-connect_*.jar; touch /opt/spark/work-dir/x && echo writable`;
    const out = await sh(IMAGE.spark, script, { user: '185', readOnly: false });
    assert.match(out, /^185\n\/opt\/spark\/jars\/spark-connect_2\.13-[\d.]+\.jar\nwritable\n$/, out);
  });

  it(`runs spark-submit --version (Spark ${VERSIONS.spark}) under any uid, read-only`, async () => {
    const out = await sh(IMAGE.spark, '/opt/spark/bin/spark-submit --version 2>&1');
    assert.match(out, new RegExp(`version ${VERSIONS.spark.replaceAll('.', '\\.')}`));
  });

  it('gives an arbitrary uid a passwd entry through its entrypoint (nss_wrapper), as the official one', async () => {
    assert.equal((await run(IMAGE.spark, ['whoami'])).trim(), 'spark');
    // without it (a command that bypasses the entrypoint), Hadoop's login in Spark fails, as in the official image
    const master =
      'timeout 60 /opt/spark/bin/spark-class org.apache.spark.deploy.master.Master --host 127.0.0.1 2>&1 | grep -m1 -o "failure to login"';
    assert.equal(
      (await sh(IMAGE.spark, master, { env: { SPARK_DAEMON_MEMORY: '256m' } })).trim(),
      'failure to login',
    );
  });

  it('runs a standalone master and worker and a Connect server that gets an executor (any uid through the entrypoint, read-only)', async () => {
    const script = `set -e
      SPARK_DAEMON_MEMORY=256m SPARK_MASTER_HOST=127.0.0.1 /opt/spark/sbin/start-master.sh >/tmp/master.log 2>&1 &
      for i in $(seq 120); do (exec 3<>/dev/tcp/127.0.0.1/7077) 2>/dev/null && break; sleep 0.5; done
      SPARK_DAEMON_MEMORY=256m SPARK_LOCAL_IP=127.0.0.1 /opt/spark/sbin/start-worker.sh spark://127.0.0.1:7077 --cores 1 --memory 1g >/tmp/worker.log 2>&1 &
      /opt/spark/sbin/start-connect-server.sh --master spark://127.0.0.1:7077 --driver-memory 512m \\
        --conf spark.executor.memory=512m --conf spark.driver.host=127.0.0.1 \\
        --conf spark.connect.grpc.binding.address=127.0.0.1 >/tmp/connect.log 2>&1 &
      for i in $(seq 240); do grep -q 'Launching executor' /tmp/master.log && (exec 3<>/dev/tcp/127.0.0.1/15002) 2>/dev/null && break; sleep 0.5; done
      grep -E 'Registering worker|Launching executor' /tmp/master.log
      (exec 3<>/dev/tcp/127.0.0.1/15002) && echo connect-listening`;
    const out = await run(IMAGE.spark, ['bash', '-c', script], {
      env: { SPARK_NO_DAEMONIZE: '1', SPARK_WORKER_DIR: '/opt/spark/work-dir/worker' },
      volumes: { [volume()]: '/opt/spark/work-dir' },
      timeoutMs: 240_000,
    });
    assert.match(out, /Registering worker 127\.0\.0\.1:\d+ with 1 cores/);
    assert.match(out, /Launching executor app-\S+\/0/);
    assert.match(out, /connect-listening/);
  });
});

describe('localhost/influxdb (stand-in for influxdb:1.11.8, Debian 12 InfluxDB 1.6)', () => {
  it('has the official layout and user: influxd, influx, /etc/influxdb/influxdb.conf, influxdb (1500)', async () => {
    const c = await config(IMAGE.influxdb);
    assert.equal(c.User, 'influxdb');
    assert.deepEqual(c.Entrypoint, ['/entrypoint.sh']);
    assert.deepEqual(c.Cmd, ['influxd']);
    assert.deepEqual(Object.keys(c.Volumes ?? {}), ['/var/lib/influxdb']);
    const real = c.Labels?.['dev.gpumon.influxdb-version'] ?? '';
    assert.match(real, /^1\.\d+\.\d+/);
    const check = pathsCheck(
      ['/etc/influxdb/influxdb.conf', '/var/lib/influxdb'],
      ['/usr/bin/influxd', '/usr/bin/influx', '/entrypoint.sh', '/init-influxdb.sh'],
    );
    const out = await sh(IMAGE.influxdb, `${check}; id -u influxdb; influxd version`, { user: '' });
    assert.equal(out.split('\n')[0], '1500');
    assert.match(out, new RegExp(`InfluxDB v${real.split('-')[0]?.replaceAll('.', '\\.')}`));
  });

  it('creates the database and users of INFLUXDB_* on the first start and serves them (any uid, read-only)', async () => {
    const script = `/entrypoint.sh influxd >/tmp/influxd.log 2>&1 &
      q() { influx -username admin -password s3cret -execute "$1"; }
      # the first start runs influxd twice (init-influxdb.sh's, then the server): wait for the server's
      for i in $(seq 150); do [ "$(grep -c 'Listening on HTTP' /tmp/influxd.log)" -ge 2 ] && q 'SHOW DATABASES' >/dev/null 2>&1 && break; sleep 0.2; done
      q 'SHOW DATABASES'; q 'SHOW USERS'
      influx -username writer -password w -database gpumon -execute 'INSERT gpu util=42'
      influx -username writer -password w -database gpumon -execute 'SELECT util FROM gpu' -format csv`;
    const out = await sh(IMAGE.influxdb, script, {
      env: {
        INFLUXDB_DB: 'gpumon',
        INFLUXDB_HTTP_AUTH_ENABLED: 'true',
        INFLUXDB_ADMIN_USER: 'admin',
        INFLUXDB_ADMIN_PASSWORD: 's3cret',
        INFLUXDB_USER: 'writer',
        INFLUXDB_USER_PASSWORD: 'w',
      },
      volumes: { [volume()]: '/var/lib/influxdb' },
      timeoutMs: 60_000,
    });
    assert.match(out, /^gpumon$/m);
    assert.match(out, /^admin\s+true$/m);
    assert.match(out, /^writer\s+false$/m);
    assert.match(out, /^gpu,\d+,42$/m);
  });
});
