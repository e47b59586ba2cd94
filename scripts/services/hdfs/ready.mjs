// Readiness of the HDFS started by scripts/services/hdfs.sh, over WebHDFS only (as gpumon talks to it):
//   node ready.mjs WEBHDFS_URL TIMEOUT_S NAMENODE_PID DATANODE_PID
// Waits until LISTSTATUS / answers 200, the NameNode counts a live DataNode, and a probe file can be written
// with the two-step CREATE (whose redirect must name 127.0.0.1), read back with OPEN and deleted. Exits 0 when
// ready, 1 on timeout or when a daemon's process exits.
import { request } from 'node:http';

const [url, timeoutArg, nnPid, dnPid] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg ?? 120) * 1000;
const user = 'user.name=gpumon';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

function checkProcesses() {
  if (nnPid && !alive(nnPid)) throw new Error(`the NameNode (pid ${nnPid}) exited`);
  if (dnPid && !alive(dnPid)) throw new Error(`the DataNode (pid ${dnPid}) exited`);
}

let last = '';
async function until(what, step) {
  for (;;) {
    checkProcesses();
    try {
      if (await step()) return;
    } catch (e) {
      if (e?.fatal) throw e;
      last = `${what}: ${e instanceof Error ? `${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}` : e}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last}`);
    await sleep(250);
  }
}

const signal = () => AbortSignal.timeout(10_000);

// PUT to a DataNode with node:http, not fetch: the DataNode answers CREATE and APPEND with an unsolicited
// `100 Continue` before the final status, which fetch (undici) rejects as "bad response"; node:http skips it.
function httpPut(location, body) {
  return new Promise((resolve, reject) => {
    const req = request(location, { method: 'PUT', timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

await until('WebHDFS LISTSTATUS /', async () => {
  const res = await fetch(`${url}/webhdfs/v1/?op=LISTSTATUS&${user}`, { signal: signal() });
  last = `LISTSTATUS answered ${res.status}`;
  await res.arrayBuffer();
  return res.status === 200;
});
console.log('WebHDFS answers');

await until('a live DataNode', async () => {
  const res = await fetch(`${url}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState`, {
    signal: signal(),
  });
  const beans = (await res.json()).beans ?? [];
  last = `NumLiveDataNodes=${beans[0]?.NumLiveDataNodes}`;
  return (beans[0]?.NumLiveDataNodes ?? 0) >= 1;
});
console.log('a DataNode is live');

const path = `/.gpumon-ready/probe-${process.pid}`;
const body = `gpumon readiness probe ${new Date().toISOString()}\n`;
await until('a two-step CREATE', async () => {
  const first = await fetch(`${url}/webhdfs/v1${path}?op=CREATE&overwrite=true&${user}`, {
    method: 'PUT',
    redirect: 'manual',
    signal: signal(),
  });
  await first.arrayBuffer();
  const location = first.headers.get('location');
  if (first.status !== 307 || !location) {
    last = `CREATE answered ${first.status} without a redirect`;
    return false;
  }
  const host = new URL(location).hostname;
  if (host !== '127.0.0.1')
    throw Object.assign(new Error(`CREATE redirects to ${location}: not 127.0.0.1`), { fatal: true });
  const second = await httpPut(location, body);
  const text = second.text;
  if (second.status !== 201) {
    last = `CREATE at the DataNode answered ${second.status}: ${text.slice(0, 300)}`;
    return false;
  }
  const read = await fetch(`${url}/webhdfs/v1${path}?op=OPEN&${user}`, { signal: signal() });
  const got = await read.text();
  if (read.status !== 200 || got !== body) {
    last = `OPEN answered ${read.status}: ${got.slice(0, 300)}`;
    return false;
  }
  const del = await fetch(`${url}/webhdfs/v1/.gpumon-ready?op=DELETE&recursive=true&${user}`, {
    method: 'DELETE',
    signal: signal(),
  });
  await del.arrayBuffer();
  return del.status === 200;
});
console.log('a file was written, read back and deleted through WebHDFS');
