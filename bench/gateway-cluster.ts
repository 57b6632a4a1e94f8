/**
 * Gateway workers side by side: 1, 2 and 3 `netsensor gateway` worker processes on one Mosquitto (MQTT v5 shared
 * subscription) and one PostgreSQL, 100 simulated sensors publishing CBOR batches (QoS 1) as fast as the broker
 * takes them. Measures events/s stored (first publish → last event committed), when the leader's correlation has
 * caught up, and the CPU seconds each part used (workers, PostgreSQL, Mosquitto) to show where it tops out.
 * Writes the "Gateway workers" section of bench/RESULTS.md between its markers.
 *
 * usage: node --import tsx bench/gateway-cluster.ts [--sensors 100] [--batches 10] [--batch-size 100] [--workers 1,2,3] [--no-write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import pg from 'pg';
import { encodeBatch } from '../protocol/event.js';
import { topics } from '../protocol/topics.js';
import { PostgresStore } from '../gateway/store/postgres.js';
import { makeEvent } from '../test/helpers/gateway-fixtures.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { PG_PASSWORD, Postgres } from '../test/helpers/postgres.js';

const MQTT_PORT = Number(process.env.BENCH_CLUSTER_MQTT_PORT ?? 20050);
const PG_PORT = Number(process.env.BENCH_CLUSTER_PG_PORT ?? 20051);
const HTTP_BASE = Number(process.env.BENCH_CLUSTER_HTTP_PORT ?? 20052);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLASSES = ['scan', 'dos', 'bruteforce', 'anomaly'];
const TICKS = 100; // clock ticks per second (Linux USER_HZ)

/** CPU seconds (user + system) of a process and, with `children`, of every process whose parent it is. */
function cpuSeconds(pid: number, children = false): number {
  const one = (p: number) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / TICKS;
    } catch {
      return 0;
    }
  };
  let s = one(pid);
  if (children) {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid)) s += one(Number(d));
      } catch { /* gone */ }
    }
  }
  return s;
}

/** The process whose command line names `needle` (the broker started with its own config directory). */
function pidOf(needle: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) return Number(d); } catch { /* gone */ }
  }
  return 0;
}

function startWorker(id: string, http: number, group: string, db: Postgres, config: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'gateway', '--config', config, '--log-level', 'warn',
    '--broker', `mqtt://127.0.0.1:${MQTT_PORT}`, '--share-group', group, '--store-url', db.url, '--store-password-file', db.passwordFile(),
    '--worker-id', id, '--http-port', String(http)], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d) => { out += d; if (out.includes(`worker ${id} `)) resolve(proc); });
    proc.once('exit', (c) => reject(new Error(`worker ${id} exited (${c}): ${out}`)));
  });
}

interface Run { workers: number; events: number; stored: number; seconds: number; correlatedS: number; cpu: { workers: number; postgres: number; mosquitto: number } }

async function measure(n: number, opts: { sensors: number; batches: number; size: number }, db: Postgres, mosq: Mosquitto, dir: string, client: pg.Client): Promise<Run> {
  await client.query('TRUNCATE events, alerts, alert_events, sensors, cursors, leases RESTART IDENTITY');
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({ cluster: { leaseMs: 3000 } }));
  const group = `bench${n}-${Date.now()}`;
  const workers = await Promise.all(Array.from({ length: n }, (_, i) => startWorker(`${group}-w${i}`, HTTP_BASE + i, group, db, config)));
  const now = Date.now();
  const clients = await Promise.all(Array.from({ length: opts.sensors }, (_, s) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, { clientId: `netsensor-bench-${s}`, reconnectPeriod: 0, protocolVersion: 5 })));
  const payloads = clients.map((_, s) => Array.from({ length: opts.batches }, (_, b) => {
    const id = `bench-${s}`;
    const evs = Array.from({ length: opts.size }, (_, k) => {
      const i = b * opts.size + k;
      return makeEvent({ sensor: id, src: `198.51.${(s >> 1) % 256}.${i % 20}`, dst: `10.20.${(i >> 8) & 255}.${i & 255}`, dport: [22, 80, 443, 445, 3389][i % 5], t: now + i, cls: CLASSES[(s + i) % CLASSES.length] });
    });
    return encodeBatch({ v: 1, sensor: id, seq: b, events: evs });
  }));
  const total = opts.sensors * opts.batches * opts.size;
  const pgPid = Number(readFileSync(join(db.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const mosqPid = pidOf(mosq.dir);
  const cpu0 = { workers: workers.reduce((s, w) => s + cpuSeconds(w.pid!), 0), postgres: cpuSeconds(pgPid, true), mosquitto: cpuSeconds(mosqPid) };
  const t0 = Date.now();
  await Promise.all(clients.map(async (c, s) => { for (const p of payloads[s]) await c.publishAsync(topics.events(`bench-${s}`), p, { qos: 1 }); }));
  let stored = 0;
  let seconds = 0;
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    stored = Number((await client.query('SELECT count(*)::int AS n FROM events')).rows[0].n);
    if (stored >= total) { seconds = (Date.now() - t0) / 1000; break; }
    await new Promise((r) => setTimeout(r, 50));
  }
  let correlatedS = NaN;
  while (Date.now() < deadline) {
    const c = await client.query(`SELECT seq FROM cursors WHERE name = 'correlation'`);
    if (c.rows.length && Number(c.rows[0].seq) >= total) { correlatedS = (Date.now() - t0) / 1000; break; }
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpu = {
    workers: workers.reduce((s, w) => s + cpuSeconds(w.pid!), 0) - cpu0.workers,
    postgres: cpuSeconds(pgPid, true) - cpu0.postgres,
    mosquitto: cpuSeconds(mosqPid) - cpu0.mosquitto,
  };
  await Promise.all(clients.map((c) => c.endAsync()));
  for (const w of workers) { const e = new Promise((r) => w.once('exit', r)); w.kill('SIGTERM'); await e; }
  return { workers: n, events: total, stored, seconds, correlatedS, cpu };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    sensors: { type: 'string', default: '100' }, batches: { type: 'string', default: '10' }, 'batch-size': { type: 'string', default: '100' },
    workers: { type: 'string', default: '1,2,3' }, 'no-write': { type: 'boolean', default: false },
  } });
  const opts = { sensors: Number(values.sensors), batches: Number(values.batches), size: Number(values['batch-size']) };
  const dir = mkdtempSync(join(tmpdir(), 'nsscl-bench-'));
  const mosq = new Mosquitto(MQTT_PORT);
  const db = new Postgres(PG_PORT);
  const runs: Run[] = [];
  try {
    await Promise.all([mosq.start(), db.start()]);
    const client = new pg.Client({ host: '127.0.0.1', port: PG_PORT, user: 'netsensor', database: 'netsensor', password: PG_PASSWORD });
    await client.connect();
    // The schema, made once (every run truncates the tables).
    await (await PostgresStore.open({ url: db.url, passwordFile: db.passwordFile() })).close();
    for (const n of values.workers.split(',').map(Number)) {
      const r = await measure(n, opts, db, mosq, dir, client);
      runs.push(r);
      console.log(JSON.stringify(r));
    }
    await client.end();
  } finally {
    await mosq.dispose();
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  if (!values['no-write']) writeResults(runs, opts);
}

function writeResults(runs: Run[], opts: { sensors: number; batches: number; size: number }): void {
  const file = join(root, 'bench', 'RESULTS.md');
  const rows = runs.map((r) => {
    const cpu = r.cpu.workers + r.cpu.postgres + r.cpu.mosquitto;
    return `| ${r.workers} | ${r.stored} of ${r.events} in ${r.seconds.toFixed(2)} s | **${Math.round(r.stored / r.seconds)}** | ${r.correlatedS.toFixed(2)} s | `
      + `${r.cpu.workers.toFixed(1)} / ${r.cpu.postgres.toFixed(1)} / ${r.cpu.mosquitto.toFixed(1)} | ${(cpu / r.seconds).toFixed(2)} |`;
  });
  const section = [
    '<!-- gateway-cluster:start -->',
    '## Gateway workers on PostgreSQL: 1, 2 and 3 workers side by side (`bench/gateway-cluster.ts`)',
    '',
    `\`node --import tsx bench/gateway-cluster.ts\` — ${opts.sensors} simulated sensors (MQTT v5 clients in the bench process) publish`,
    `${opts.batches} CBOR batches of ${opts.size} events each, QoS 1, as fast as Mosquitto takes them; N \`netsensor gateway\` worker processes`,
    'share them through `$share/<group>/…` and store them in one PostgreSQL 15 (fsync off: a throw-away cluster, so',
    'the figures show CPU, not disk). Each worker acknowledges a batch only after its commit. Stored = first publish →',
    'last event committed; correlated = the leader\'s cursor reached the last event.',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0]?.model.trim()}) shared with other jobs (1-min load ${loadavg()[0].toFixed(1)} at the end), Node ${process.version}.`,
    '',
    '| workers | events stored | events/s | correlated after | CPU s: workers / PostgreSQL / Mosquitto | cores busy |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '<!-- gateway-cluster:notes -->',
    '<!-- gateway-cluster:end -->',
  ].join('\n');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const start = text.indexOf('<!-- gateway-cluster:start -->');
  const notesAt = text.indexOf('<!-- gateway-cluster:notes -->');
  const end = text.indexOf('<!-- gateway-cluster:end -->');
  const notes = notesAt >= 0 && end > notesAt ? text.slice(notesAt + '<!-- gateway-cluster:notes -->'.length, end) : '\n';
  const withNotes = section.replace('<!-- gateway-cluster:notes -->\n<!-- gateway-cluster:end -->', `<!-- gateway-cluster:notes -->${notes}<!-- gateway-cluster:end -->`);
  text = start >= 0 && end > start ? text.slice(0, start) + withNotes + text.slice(end + '<!-- gateway-cluster:end -->'.length) : `${text.trimEnd()}\n\n${withNotes}\n`;
  writeFileSync(file, text);
}

await main();
