/**
 * The real services that tests talk to: Apache Kafka 4 (KRaft) and InfluxDB 1.x, started on 127.0.0.1 by
 * `scripts/services/all.sh start`, which prints their addresses as KEY=value lines for the test runner to
 * export (docs/services.md). These helpers read those variables and THROW when a service is not there: a test
 * that needs a service fails without it, it never skips.
 */
import { connect } from 'node:net';

/** Environment variable with Kafka's bootstrap address, e.g. `127.0.0.1:19092`. */
export const KAFKA_ENV = 'GPUMON_TEST_KAFKA';
/** Environment variable with InfluxDB's base URL, e.g. `http://127.0.0.1:18086`. */
export const INFLUXDB_ENV = 'GPUMON_TEST_INFLUXDB';

const HOW_TO_START =
  'start the services with `scripts/services/all.sh start` and export the KEY=value lines it prints ' +
  '(scripts/test does both; see docs/services.md)';

/** The value of a GPUMON_TEST_* variable; throws, never skips, naming it and how to start `what` when unset. */
export function requiredEnv(name: string, what: string): string {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`${name} is not set: this test needs ${what}; ${HOW_TO_START}`);
  return value;
}

function hostPort(address: string, name: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(address);
  if (!m?.[1] || !m[2]) throw new Error(`${name}=${address} is not HOST:PORT`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/** One Kafka API's supported versions, from an ApiVersions response. */
export interface KafkaApiVersion {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/**
 * Sends Kafka's ApiVersions request (api key 18, version 2) over a plain TCP socket and returns the broker's
 * answer: a protocol-level check that the broker is up, without a Kafka client library.
 */
export function kafkaApiVersions(bootstrap: string, timeoutMs = 5000): Promise<KafkaApiVersion[]> {
  const { host, port } = hostPort(bootstrap, KAFKA_ENV);
  const clientId = Buffer.from('gpumon-test');
  const correlationId = 0x6770;
  // request header v1: api_key, api_version, correlation_id, client_id (nullable string); v2 body is empty
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(2, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);

  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let got = Buffer.alloc(0);
    const fail = (why: string) => {
      socket.destroy();
      reject(
        new Error(`Kafka at ${bootstrap} (${KAFKA_ENV}) did not answer ApiVersions: ${why}; ${HOW_TO_START}`),
      );
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.on('error', (e) => fail(e.message));
    socket.on('connect', () => socket.write(Buffer.concat([size, body])));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4 || got.length < 4 + got.readInt32BE(0)) return;
      socket.end();
      // response header v0: correlation_id; body v2: error_code, [api_key, min_version, max_version], throttle
      if (got.readInt32BE(4) !== correlationId) return fail('wrong correlation id');
      const errorCode = got.readInt16BE(8);
      if (errorCode !== 0) return fail(`error code ${errorCode}`);
      const count = got.readInt32BE(10);
      const apis: KafkaApiVersion[] = [];
      for (let i = 0, at = 14; i < count; i++, at += 6) {
        apis.push({
          apiKey: got.readInt16BE(at),
          minVersion: got.readInt16BE(at + 2),
          maxVersion: got.readInt16BE(at + 4),
        });
      }
      resolve(apis);
    });
  });
}

/**
 * Kafka's bootstrap address (`HOST:PORT`) from GPUMON_TEST_KAFKA, after checking that the broker answers an
 * ApiVersions request. Throws when the variable is unset or the broker does not answer.
 */
export async function kafkaBootstrap(): Promise<string> {
  const bootstrap = requiredEnv(KAFKA_ENV, 'Apache Kafka');
  await kafkaApiVersions(bootstrap);
  return bootstrap;
}

/**
 * InfluxDB's base URL (`http://HOST:PORT`, no trailing slash) from GPUMON_TEST_INFLUXDB, after checking that
 * `/ping` answers 204. Throws when the variable is unset or the server does not answer.
 */
export async function influxUrl(): Promise<string> {
  const url = requiredEnv(INFLUXDB_ENV, 'InfluxDB 1.x').replace(/\/+$/, '');
  let status: number;
  try {
    status = (await fetch(`${url}/ping`, { signal: AbortSignal.timeout(5000) })).status;
  } catch (e) {
    throw new Error(
      `InfluxDB at ${url} (${INFLUXDB_ENV}) is unreachable: ${(e as Error).message}; ${HOW_TO_START}`,
    );
  }
  if (status !== 204)
    throw new Error(`InfluxDB at ${url} (${INFLUXDB_ENV}): /ping answered ${status}, not 204`);
  return url;
}

/** One InfluxQL statement's result, as InfluxDB 1.x's `/query` returns it. */
export interface InfluxResult {
  statement_id: number;
  error?: string;
  series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[];
}

/**
 * Runs InfluxQL on `/query` (POST, so that statements that write work too); throws on any error. Times come
 * back as numbers in `epoch` units (ms by default: nanoseconds since 1970 do not fit a JavaScript number).
 */
export async function influxQuery(
  url: string,
  q: string,
  db?: string,
  epoch: 'ns' | 'us' | 'ms' | 's' = 'ms',
): Promise<InfluxResult[]> {
  const form = new URLSearchParams({ q, epoch });
  if (db) form.set('db', db);
  const res = await fetch(`${url}/query`, { method: 'POST', body: form });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB /query ${JSON.stringify(q)}: ${res.status} ${text}`);
  const results = (JSON.parse(text) as { results: InfluxResult[] }).results;
  const failed = results.find((r) => r.error);
  if (failed) throw new Error(`InfluxDB /query ${JSON.stringify(q)}: ${failed.error}`);
  return results;
}

/** Writes line protocol to `/write` (timestamps in `precision` units, ms by default); throws unless 204. */
export async function influxWrite(
  url: string,
  db: string,
  lines: string,
  precision: 'ns' | 'us' | 'ms' | 's' = 'ms',
): Promise<void> {
  const query = new URLSearchParams({ db, precision });
  const res = await fetch(`${url}/write?${query}`, { method: 'POST', body: lines });
  if (res.status !== 204) throw new Error(`InfluxDB /write to ${db}: ${res.status} ${await res.text()}`);
}

export const WEBHDFS_ENV = 'GPUMON_TEST_WEBHDFS';

/** The real HDFS's WebHDFS base URL (scripts/services/hdfs.sh); throws, never skips, when it is not up. */
export async function webhdfsUrl(): Promise<string> {
  const url = requiredEnv(WEBHDFS_ENV, 'HDFS with WebHDFS').replace(/\/+$/, '');
  let status: number;
  try {
    const res = await fetch(`${url}/webhdfs/v1/?op=LISTSTATUS&user.name=gpumon`, {
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    status = res.status;
  } catch (e) {
    throw new Error(
      `WebHDFS at ${url} (${WEBHDFS_ENV}) is unreachable: ${(e as Error).message}; ${HOW_TO_START}`,
    );
  }
  if (status !== 200) throw new Error(`WebHDFS at ${url} (${WEBHDFS_ENV}): LISTSTATUS answered ${status}`);
  return url;
}

export const HDFS_ENV = 'GPUMON_TEST_HDFS';
export const SPARK_CONNECT_ENV = 'GPUMON_TEST_SPARK_CONNECT';

/** The real HDFS's NameNode RPC address, `hdfs://HOST:PORT` (scripts/services/hdfs.sh); throws when unset. */
export function hdfsRpcUrl(): string {
  return requiredEnv(HDFS_ENV, 'HDFS (the NameNode RPC address)').replace(/\/+$/, '');
}

/** The Spark Connect server's `sc://HOST:PORT` (scripts/services/spark-connect.sh); throws when unset. */
export function sparkConnectUrl(): string {
  return requiredEnv(SPARK_CONNECT_ENV, 'a Spark Connect server (Apache Spark 4)');
}
