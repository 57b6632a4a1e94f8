/**
 * Gateway benchmark: 100 simulated sensors (one MQTT connection each, in a separate process so the load
 * generator does not share the gateway's event loop) publish CBOR batches QoS 1 concurrently to the embedded
 * broker. Measures events/s stored into SQLite (first publish → last event committed) and alert latency
 * (a probe publishes a never-seen attack source during the load; time until its alert arrives on MQTT).
 * Writes the "Gateway" section of bench/RESULTS.md between its markers.
 *
 * usage: node --import tsx bench/gateway.ts [--sensors 100] [--batches 20] [--batch-size 100]
 */
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { v7 as uuidv7 } from 'uuid';
import mqtt from 'mqtt';
import { encodeBatch, type RiskEvent } from '../protocol/event.js';
import { topics } from '../protocol/topics.js';

const MQTT_PORT = 18839;
const HTTP_PORT = 18089;
const CLASSES = ['scan', 'dos', 'bruteforce', 'anomaly'];

function event(sensor: string, i: number, src: string, t: number, cls: string): RiskEvent {
  return {
    v: 1, id: uuidv7(), sensor, ts: t,
    flow: {
      src_ip: src, src_port: 30000 + (i % 30000), dst_ip: `10.20.${(i >> 8) & 255}.${i & 255}`, dst_port: [22, 80, 443, 445, 3389][i % 5], proto: 6, vlan: 0,
      first_seen_ms: t - 2000, last_seen_ms: t, end_reason: 'idle',
      src2dst_packets: 12, src2dst_bytes: 1400, dst2src_packets: 9, dst2src_bytes: 5200,
    },
    class: cls, score: 0.9, anomaly: 1.4, severity: 2, model: 'bench-model',
    features: { duration_ms: 2000, src2dst_packets: 12, dst2src_packets: 9, bidirectional_syn_packets: 1 },
    top: [['bidirectional_syn_packets', 0.4], ['src2dst_mean_ps', 0.2], ['dst2src_max_piat_ms', 0.1]],
  };
}

/** Child process: connects all sensors, pre-encodes their batches, waits for "go", publishes, reports. */
async function publisher(sensors: number, batches: number, size: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: sensors }, (_, s) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, { clientId: `bench-${s}`, reconnectPeriod: 0 })));
  const now = Date.now();
  const payloads = clients.map((_, s) => Array.from({ length: batches }, (_, b) => {
    const id = `bench-${s}`;
    const evs = Array.from({ length: size }, (_, k) => {
      const i = b * size + k;
      // Each sensor sees 20 attacking sources; sources are shared between neighbouring sensors.
      return event(id, i, `198.51.${(s >> 1) % 256}.${i % 20}`, now + i, CLASSES[(s + i) % CLASSES.length]);
    });
    return encodeBatch({ v: 1, sensor: id, seq: b, events: evs });
  }));
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const t0 = Date.now();
  await Promise.all(clients.map(async (c, s) => {
    for (const p of payloads[s]) await c.publishAsync(topics.events(`bench-${s}`), p, { qos: 1 });
  }));
  process.send!({ published: Date.now() - t0 });
  await Promise.all(clients.map((c) => c.endAsync()));
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function runGatewayBench(opts: { sensors: number; batches: number; size: number }): Promise<Record<string, number>> {
  const { Gateway } = await import('../gateway/index.js');
  const { loadConfig } = await import('../gateway/config.js');
  const { createLogger } = await import('../common/log.js');
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-bench-'));
  const gw = await Gateway.start(loadConfig({ flags: { mqtt: { port: MQTT_PORT }, http: { port: HTTP_PORT }, store: { path: join(dir, 'bench.db') } } }), createLogger('warn'));
  const total = opts.sensors * opts.batches * opts.size;
  const child = fork(fileURLToPath(import.meta.url), ['--publisher', String(opts.sensors), String(opts.batches), String(opts.size)], { execArgv: ['--import', 'tsx'] });
  const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, { clientId: 'bench-probe' });
  const latencies: number[] = [];
  const pending = new Map<string, number>();
  let alertMsgs = 0;
  probe.on('message', (_t, payload) => {
    alertMsgs++;
    const a = JSON.parse(payload.toString());
    const sent = pending.get(a.src_ip);
    if (sent !== undefined && a.netsensor.reason === 'created') { latencies.push(Date.now() - sent); pending.delete(a.src_ip); }
  });
  await probe.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
  try {
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    const t0 = Date.now();
    child.send('go');
    let probes = 0;
    const probeTimer = setInterval(() => {
      const src = `203.0.113.${++probes}`;
      pending.set(src, Date.now());
      void probe.publishAsync(topics.events('bench-probe'), encodeBatch({ v: 1, sensor: 'bench-probe', seq: probes, events: [event('bench-probe', probes, src, Date.now(), 'bruteforce')] }), { qos: 1 });
    }, 100);
    const deadline = Date.now() + 300_000;
    while (gw.ingest.stored < total + probes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const elapsed = (Date.now() - t0) / 1000;
    clearInterval(probeTimer);
    await new Promise((r) => setTimeout(r, 300));
    const stored = gw.store.countEvents();
    if (process.env.BENCH_DEBUG) console.error({ alertMsgs, probes, pending: pending.size, latencies: latencies.length });
    const dbBytes = gw.store.usedBytes();
    return {
      sensors: opts.sensors, events: total, stored, seconds: Math.round(elapsed * 100) / 100,
      events_per_s: Math.round(total / elapsed), alerts: (gw.store.db.prepare('SELECT count(*) n FROM alerts').get() as { n: number }).n,
      probes: latencies.length, alert_latency_p50_ms: percentile(latencies, 50), alert_latency_p95_ms: percentile(latencies, 95),
      alert_latency_max_ms: Math.max(...latencies), db_bytes_per_event: Math.round(dbBytes / Math.max(1, stored)),
    };
  } finally {
    child.kill();
    await probe.endAsync();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeResults(r: Record<string, number>): void {
  const path = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  const begin = '<!-- gateway:begin -->';
  const end = '<!-- gateway:end -->';
  const section = `${begin}
## Gateway ingest and alert latency

\`node --import tsx bench/gateway.ts\` — ${r.sensors} simulated sensors (one MQTT 3.1.1 connection each, in a
separate process) publish CBOR batches of ${r.events / r.sensors / (r.batches_per_sensor || 1)} events, QoS 1, concurrently into the embedded
broker; the gateway validates, stores (SQLite WAL, one transaction per batch, dedup by event id), correlates and
publishes alerts. Alert latency: a probe publishes a never-seen attacking source every 100 ms during the load;
time from its publish to the alert's arrival on \`netsensor/v1/alerts/#\`.
Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} shared cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.

| metric | value |
|---|---|
| events stored | ${r.stored} of ${r.events} (${r.stored === r.events + r.probes || r.stored >= r.events ? 'all' : 'MISSING'}) |
| wall time | ${r.seconds} s |
| **ingest rate** | **${r.events_per_s} events/s** (target ≥ 20000) |
| alerts created | ${r.alerts} |
| alert latency p50 / p95 / max | ${r.alert_latency_p50_ms} / ${r.alert_latency_p95_ms} / ${r.alert_latency_max_ms} ms (${r.probes} probes) |
| database size per event | ${r.db_bytes_per_event} B |
${end}`;
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n';
  if (text.includes(begin) && text.includes(end)) text = text.slice(0, text.indexOf(begin)) + section + text.slice(text.indexOf(end) + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, text);
}

if (process.argv[2] === '--publisher') {
  await publisher(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { sensors: { type: 'string', default: '100' }, batches: { type: 'string', default: '20' }, 'batch-size': { type: 'string', default: '100' }, 'no-write': { type: 'boolean' } } });
  const opts = { sensors: Number(values.sensors), batches: Number(values.batches), size: Number(values['batch-size']) };
  const r = await runGatewayBench(opts);
  r.batches_per_sensor = opts.batches;
  console.log(JSON.stringify(r));
  if (!values['no-write']) writeResults(r);
}
