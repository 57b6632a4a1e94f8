#!/usr/bin/env node
/**
 * The edge smoke: one capture through everything a sensor does, on whatever machine runs it (x86, or arm64
 * under qemu with QEMU_CPU=cortex-a72), written as one JSON report that deploy/arm64/compare.mjs checks
 * against the same run on another architecture.
 *
 *   flows   `netsensor flows`   WASM decode + flow table + features → one row per flow (must match exactly)
 *   detect  `netsensor detect`  int8 ONNX inference → one class per flow (classes must match)
 *   ort     every models/*.onnx run directly with onnxruntime-node on the flow feature rows (classes must
 *           match; scores within a tolerance, since int8 kernels differ between CPUs)
 *   sqlite  better-sqlite3 (native, built on the target) in WAL mode, as the outbox uses it
 *   sensor  `netsensor sensor` replaying the capture into an embedded broker started here: events published
 *           over MQTT, CBOR-decoded, counted against the sensor's outbox database
 *
 * Plain JavaScript over dist/ and production dependencies only: an installed arm64 tree has no tsx.
 * A command that does not exist yet in dist/cli/commands is reported as skipped, not failed.
 *
 * Usage: node deploy/arm64/smoke.mjs --app DIR --pcap FILE [--pcap FILE…] --out REPORT.json [--work DIR]
 *        [--model FILE]   (a detection model other than the shipped one, for detect, sensor and ort)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const STEP_TIMEOUT_MS = 30 * 60_000; // qemu runs ~10× slower than native; a slow step is not a failed one
// Rows of each capture fed to the models in the ort step: enough to cover every class, few enough to keep a
// 100k-flow capture's step short under emulation (the detect step already scores every flow).
const ORT_ROWS_PER_CAPTURE = 4096;
// The sensor step compares the exact set of events, so nothing may be dropped: outbox caps far above any input.
const SENSOR_OUTBOX = ['--outbox-max-rows', '100000000', '--outbox-max-bytes', '1000000000000'];

function parseArgs(argv) {
  const out = { pcaps: [], app: process.cwd(), out: '', work: '', model: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--pcap') out.pcaps.push(resolve(v()));
    else if (a === '--app') out.app = resolve(v());
    else if (a === '--out') out.out = resolve(v());
    else if (a === '--work') out.work = resolve(v());
    else if (a === '--model') out.model = resolve(v());
    else throw new Error(`unknown option ${a}`);
  }
  if (out.pcaps.length === 0 || !out.out) throw new Error('usage: smoke.mjs --app DIR --pcap FILE --out REPORT.json');
  return out;
}

/** Runs `node <app>/dist/cli/main.js …args`, collecting stdout; rejects on a non-zero exit or timeout. */
function runCli(app, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(app, 'dist/cli/main.js'), ...args], {
      cwd: opts.cwd ?? app,
      env: { ...process.env, NETSENSOR_LOG_LEVEL: process.env.NETSENSOR_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => { err += d; if (err.length > 64_000) err = err.slice(-32_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? STEP_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) resolvePromise({ stdout, stderr: err });
      else reject(new Error(`netsensor ${args.join(' ')} → ${signal ?? `exit ${code}`}\n${err.slice(-4000)}`));
    });
  });
}

const hasCommand = (app, name) => existsSync(join(app, 'dist/cli/commands', `${name}.js`));
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** The command's one-line JSON summary on stderr (flows, detect), or undefined. */
function summaryOf(stderr) {
  try { return JSON.parse(stderr.trim().split('\n').pop()); } catch { return undefined; }
}
const perSecond = (n, ms) => Math.round(n / Math.max(ms, 1) * 1000);

/** Parses JSON lines (at most `limit`); a CSV (header + rows) is returned as objects keyed by the header too. */
function parseRows(text, limit = Infinity) {
  const lines = [];
  for (let at = 0; at < text.length && lines.length <= limit;) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    if (end > at && text.slice(at, end).trim() !== '') lines.push(text.slice(at, end));
    at = end + 1;
  }
  if (lines.length === 0) return [];
  if (lines[0].trimStart().startsWith('{')) return lines.slice(0, limit).map((l) => JSON.parse(l));
  const header = lines[0].split(',');
  return lines.slice(1, limit + 1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
}

function classOf(row) {
  for (const k of ['class', 'label', 'predicted', 'prediction', 'verdict']) if (row[k] !== undefined) return String(row[k]);
  return undefined;
}

function scoreOf(row) {
  for (const k of ['risk', 'score', 'probability', 'confidence']) if (typeof row[k] === 'number') return row[k];
  return undefined;
}

async function step(report, name, fn) {
  const t0 = performance.now();
  try {
    const result = await fn();
    report.steps[name] = { ok: true, ms: Math.round(performance.now() - t0), ...result };
  } catch (e) {
    const skipped = e && e.skip === true;
    report.steps[name] = { ok: skipped, skipped, ms: Math.round(performance.now() - t0), error: String(e?.message ?? e) };
  }
  const s = report.steps[name];
  process.stderr.write(`[smoke ${report.arch}] ${name}: ${s.skipped ? 'skipped' : s.ok ? 'ok' : 'FAILED'} in ${s.ms} ms${s.error ? ` — ${s.error.split('\n')[0]}` : ''}\n`);
}

const skip = (why) => Object.assign(new Error(why), { skip: true });

// ---------------------------------------------------------------------------------------------------------
async function flowsStep(app, pcaps, work) {
  if (!hasCommand(app, 'flows')) throw skip('no `netsensor flows` command in dist/');
  const perCapture = {};
  const speed = {};
  const sampleRows = []; // the first rows of each capture, for the ort step
  let total = 0;
  for (const pcap of pcaps) {
    const outFile = join(work, `${basename(pcap)}.flows.jsonl`);
    const t0 = performance.now();
    const { stderr } = await runCli(app, ['flows', pcap, '--format', 'jsonl', '--out', outFile]);
    const ms = performance.now() - t0;
    const text = readFileSync(outFile, 'utf8');
    let rows = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) rows++;
    perCapture[basename(pcap)] = { rows, sha256: sha256(text) };
    // Throughput is kept apart from `captures`, which compare.mjs requires to be identical.
    const packets = summaryOf(stderr)?.packets ?? 0;
    speed[basename(pcap)] = { packets, ms: Math.round(ms), packetsPerS: perSecond(packets, ms) };
    total += rows;
    for (const r of parseRows(text, ORT_ROWS_PER_CAPTURE)) sampleRows.push(r);
  }
  return { captures: perCapture, speed, rows: total, sample: sampleRows.slice(0, 3), _rows: sampleRows };
}

async function detectStep(app, pcaps, work, model) {
  if (!hasCommand(app, 'detect')) throw skip('no `netsensor detect` command in dist/');
  const perCapture = {};
  const classes = {};
  const scores = [];
  for (const pcap of pcaps) {
    // --all: a record for every flow, so every flow's predicted class is compared, not only the alerts.
    const { stdout } = await runCli(app, ['detect', pcap, '--all', '--format', 'jsonl', ...(model ? ['--model', model] : [])]);
    writeFileSync(join(work, `${basename(pcap)}.detect.jsonl`), stdout);
    const rows = parseRows(stdout);
    const cls = rows.map((r) => [r.predicted, classOf(r), r.alert].join('|'));
    perCapture[basename(pcap)] = { rows: rows.length, classesSha256: sha256(JSON.stringify(cls)) };
    for (const r of rows) {
      const c = classOf(r) ?? 'unknown';
      classes[c] = (classes[c] ?? 0) + 1;
      scores.push(scoreOf(r), r.anomaly); // one push per row: spreading 100k rows into one call overflows the stack
    }
  }
  return { captures: perCapture, classes, scores };
}

/**
 * Two small int8 probe models built here with the project's ONNX builder, so both int8 kernel families are
 * exercised whatever the shipped model uses: static QDQ (QuantizeLinear/DequantizeLinear around MatMul, which
 * onnxruntime fuses into QLinearMatMul) and dynamic (DynamicQuantizeLinear + MatMulInteger). Weights are
 * fixed pseudo-random 7-bit values (8-bit ones can saturate after fusion on AVX2); input is log1p of the flow
 * features, clipped to the quantized range.
 */
async function buildProbes(app, width, dir) {
  const { GraphBuilder, encodeModel } = await import(join(app, 'dist/models/onnx/builder.js'));
  let seed = 12345;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
  const int8s = (n) => Int8Array.from({ length: n }, () => Math.round((rnd() * 2 - 1) * 63));
  const floats = (n, a) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * a);
  const hidden = 16, classes = 4;
  const files = {};
  {
    const g = new GraphBuilder();
    const xs = g.scalar('x_scale', 8 / 255), xz = g.tensor('x_zero', [], new Uint8Array([0]));
    const x = g.node('DequantizeLinear', [g.node('QuantizeLinear', ['input', xs, xz]), xs, xz]);
    const w1 = g.node('DequantizeLinear', [g.tensor('w1_q', [width, hidden], int8s(width * hidden)), g.scalar('w1_scale', 0.002), g.tensor('w1_zero', [], new Int8Array([0]))]);
    const hs = g.scalar('h_scale', 0.05), hz = g.tensor('h_zero', [], new Uint8Array([0]));
    const h = g.node('DequantizeLinear', [g.node('QuantizeLinear', [g.node('Relu', [g.node('MatMul', [x, w1])]), hs, hz]), hs, hz]);
    const w2 = g.node('DequantizeLinear', [g.tensor('w2_q', [hidden, classes], int8s(hidden * classes)), g.scalar('w2_scale', 0.01), g.tensor('w2_zero', [], new Int8Array([0]))]);
    g.node('Softmax', [g.node('Add', [g.node('MatMul', [h, w2]), g.tensor('b2', [classes], floats(classes, 0.1))])], { axis: 1 }, ['probabilities']);
    files['probe-int8-qdq.onnx'] = encodeModel(g, 'probe_qdq', [{ name: 'input', dims: ['n', width] }], [{ name: 'probabilities', dims: ['n', classes] }], {});
  }
  {
    const g = new GraphBuilder();
    const [xq, xScale, xZero] = ['xq', 'xq_scale', 'xq_zero'];
    g.node('DynamicQuantizeLinear', ['input'], {}, [xq, xScale, xZero]);
    const acc = g.node('MatMulInteger', [xq, g.tensor('w_q', [width, hidden], int8s(width * hidden)), xZero, g.tensor('w_zero', [], new Int8Array([0]))]);
    const scale = g.node('Mul', [xScale, g.scalar('w_scale', 0.002)]);
    const h = g.node('Relu', [g.node('Mul', [g.node('Cast', [acc], { to: 1 }), scale])]);
    const w2 = g.tensor('w2', [hidden, classes], floats(hidden * classes, 0.8));
    g.node('Softmax', [g.node('MatMul', [h, w2])], { axis: 1 }, ['probabilities']);
    files['probe-int8-dynamic.onnx'] = encodeModel(g, 'probe_dynamic', [{ name: 'input', dims: ['n', width] }], [{ name: 'probabilities', dims: ['n', classes] }], {});
  }
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return Object.keys(files).map((f) => join(dir, f));
}

/** Every shipped model and the int8 probes, run directly: onnxruntime-node's arm64 kernels on the emulated CPU. */
async function ortStep(app, flowRows, work, model) {
  const require = createRequire(join(app, 'package.json'));
  const ort = require('onnxruntime-node');
  const modelDir = join(app, 'models');
  const shipped = existsSync(modelDir) ? readdirSync(modelDir).filter((f) => f.endsWith('.onnx')).sort().map((f) => join(modelDir, f)) : [];
  let schemaNames;
  try { schemaNames = (await import(join(app, 'dist/core/schema.js'))).FEATURE_NAMES; } catch { schemaNames = undefined; }
  const probes = schemaNames ? await buildProbes(app, schemaNames.length, work) : [];
  const models = [...shipped, ...(model ? [model] : []), ...probes];
  if (models.length === 0) throw skip('no models/*.onnx shipped and no schema to build probes');
  const names = schemaNames;
  const out = {};
  for (const path of models) {
    const file = basename(path);
    const isProbe = probes.includes(path);
    const session = await ort.InferenceSession.create(path, { executionMode: 'sequential', intraOpNumThreads: 1 });
    const meta = session.inputMetadata?.[0];
    const width = Array.isArray(meta?.shape) ? Number(meta.shape[meta.shape.length - 1]) : (names?.length ?? 0);
    if (!(width > 0)) throw new Error(`${file}: cannot tell the input width`);
    // Input: the captures' own flow features, as the sensor scores them. No rows is a failure, not a reason to
    // make some up: made-up rows agree across CPUs without showing anything about real traffic.
    let rows = flowRows
      .map((r) => (Array.isArray(r.features) ? r.features : names ? names.map((n) => Number(r[n] ?? 0)) : undefined))
      .filter((f) => f && f.length === width);
    if (rows.length === 0) throw new Error(`${file}: no flow rows of width ${width} to score (did the flows step fail?)`);
    if (isProbe) rows = rows.map((r) => r.map((v) => Math.min(8, Math.log1p(Math.max(0, Number(v) || 0)))));
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, i) => data.set(r.map(Number), i * width));
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [rows.length, width]) };
    const t0 = performance.now();
    const result = await session.run(feeds);
    const inferMs = performance.now() - t0;
    const outputs = {};
    for (const name of session.outputNames) {
      const t = result[name];
      const dims = t.dims.map(Number);
      const values = Array.from(t.data, Number);
      const cols = dims.length === 2 ? dims[1] : 1;
      // Class per row = argmax over the output columns (a single column: the sign of score - 0.5 is not a
      // class, so keep raw values and compare those with the tolerance instead).
      const classes = cols > 1 ? Array.from({ length: values.length / cols }, (_, r) => {
        let best = 0;
        for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
        return best;
      }) : undefined;
      // Top-2 margin per row: a row whose two best classes are within rounding of each other may flip
      // between CPUs without anything being wrong; compare.mjs allows that, and counts such rows.
      const margins = cols > 1 ? classes.map((best, r) => {
        let second = -Infinity;
        for (let c = 0; c < cols; c++) if (c !== best) second = Math.max(second, values[r * cols + c]);
        return values[r * cols + best] - second;
      }) : undefined;
      outputs[name] = { dims, classes, margins, values: values.slice(0, 8192) };
    }
    out[file] = { rows: rows.length, inferMs: Math.round(inferMs * 10) / 10, probe: isProbe, outputs };
    await session.release?.();
  }
  return { models: out, ortVersion: require('onnxruntime-node/package.json').version };
}

async function sqliteStep(app, work) {
  const require = createRequire(join(app, 'package.json'));
  const Database = require('better-sqlite3');
  const file = join(work, 'smoke-sqlite.db');
  rmSync(file, { force: true });
  const db = new Database(file);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  db.exec('create table outbox (id text primary key, body blob not null)');
  const insert = db.prepare('insert into outbox (id, body) values (?, ?)');
  const n = 2000;
  const t0 = performance.now();
  db.transaction(() => { for (let i = 0; i < n; i++) insert.run(`e${String(i).padStart(6, '0')}`, Buffer.alloc(64, i & 255)); })();
  const insertMs = performance.now() - t0;
  const count = db.prepare('select count(*) as c from outbox').get().c;
  const sum = db.prepare('select sum(length(body)) as s from outbox').get().s;
  db.close();
  if (count !== n || sum !== n * 64) throw new Error(`outbox check: ${count} rows / ${sum} bytes`);
  return { journalMode: mode, rows: count, insertMs: Math.round(insertMs) };
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function sensorStep(app, pcaps, work, model, packetsOf) {
  if (!hasCommand(app, 'sensor')) throw skip('no `netsensor sensor` command in dist/');
  const require = createRequire(join(app, 'package.json'));
  const aedesModule = require('aedes');
  const mqtt = require('mqtt');
  const { decode } = require('cbor-x');
  const createBroker = aedesModule.createBroker ?? aedesModule.Aedes?.createBroker ?? aedesModule.default ?? aedesModule;
  const broker = typeof createBroker === 'function' && createBroker.createBroker ? await createBroker.createBroker() : await createBroker();
  const port = Number(process.env.NETSENSOR_SMOKE_PORT) || await freePort();
  const server = createServer(broker.handle);
  await new Promise((res) => server.listen(port, '127.0.0.1', res));
  const url = `mqtt://127.0.0.1:${port}`;
  const id = `smoke-${arch()}`;
  const client = await mqtt.connectAsync(url, { clientId: `smoke-observer-${process.pid}`, protocolVersion: 4 });
  const received = { messages: 0, events: 0, classes: {}, decodeErrors: 0 };
  const eventKeys = [];
  await client.subscribeAsync(`netsensor/v1/sensors/${id}/events`, { qos: 1 });
  client.on('message', (_topic, payload) => {
    received.messages++;
    try {
      const body = decode(payload);
      const events = Array.isArray(body) ? body : Array.isArray(body?.events) ? body.events : [body];
      for (const e of events) {
        received.events++;
        const c = classOf(e ?? {}) ?? 'unknown';
        received.classes[c] = (received.classes[c] ?? 0) + 1;
        const f = e?.flow ?? {};
        eventKeys.push(`${f.src_ip}:${f.src_port}>${f.dst_ip}:${f.dst_port}/${f.proto} ${f.end_reason} ${c}`);
      }
    } catch { received.decodeErrors++; }
  });
  const perCapture = {};
  const speed = {};
  try {
    for (const pcap of pcaps) {
      const db = join(work, `${basename(pcap)}.outbox.db`);
      for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
      const before = received.events;
      const t0 = performance.now();
      await runCli(app, ['sensor', '--pcap', pcap, '--replay', 'fast', '--broker', url, '--id', id, '--db', db, ...SENSOR_OUTBOX, ...(model ? ['--model', model] : [])]);
      const ms = performance.now() - t0;
      // QoS 1: everything the sensor got acknowledged has reached the broker; give the observer a moment.
      for (let i = 0; i < 50 && received.events === before; i++) await new Promise((r) => setTimeout(r, 100));
      const Database = require('better-sqlite3');
      const h = new Database(db, { readonly: true });
      const tables = h.prepare("select name from sqlite_master where type = 'table'").all().map((r) => r.name);
      const outboxRows = Object.fromEntries(tables.map((t) => [t, h.prepare(`select count(*) as c from "${t}"`).get().c]));
      const dropped = tables.includes('meta') ? h.prepare("select value from meta where key = 'dropped'").get()?.value ?? 0 : 0;
      h.close();
      if (dropped > 0) throw new Error(`${basename(pcap)}: the outbox dropped ${dropped} events, so the set of events cannot be compared`);
      perCapture[basename(pcap)] = { events: received.events - before, outboxRows };
      const packets = packetsOf[basename(pcap)] ?? 0;
      speed[basename(pcap)] = { packets, ms: Math.round(ms), packetsPerS: perSecond(packets, ms) };
    }
  } finally {
    await client.endAsync();
    await new Promise((r) => broker.close(r));
    await new Promise((r) => server.close(r));
  }
  if (received.events === 0) throw new Error('the sensor published no events');
  // Which flows became events, and as what: order-independent (delivery batches may interleave differently).
  const eventsSha256 = sha256(eventKeys.sort().join('\n'));
  return { captures: perCapture, speed, ...received, eventsSha256, sampleEvents: eventKeys.slice(0, 3) };
}

// ---------------------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = opts.work || join(tmpdir(), `netsensor-smoke-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const report = {
    arch: arch(),
    qemuCpu: process.env.QEMU_CPU ?? null,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.versions.node,
    captures: opts.pcaps.map((p) => basename(p)),
    model: opts.model ? basename(opts.model) : 'shipped',
    startedAt: new Date().toISOString(),
    steps: {},
  };
  const t0 = performance.now();
  let flowRows = [];
  let packetsOf = {};
  await step(report, 'flows', async () => {
    const r = await flowsStep(opts.app, opts.pcaps, work);
    flowRows = r._rows;
    packetsOf = Object.fromEntries(Object.entries(r.speed).map(([k, v]) => [k, v.packets]));
    delete r._rows;
    return r;
  });
  await step(report, 'detect', () => detectStep(opts.app, opts.pcaps, work, opts.model));
  await step(report, 'ort', () => ortStep(opts.app, flowRows, work, opts.model));
  await step(report, 'sqlite', () => sqliteStep(opts.app, work));
  await step(report, 'sensor', () => sensorStep(opts.app, opts.pcaps, work, opts.model, packetsOf));
  report.totalMs = Math.round(performance.now() - t0);
  writeFileSync(opts.out, JSON.stringify(report, null, 1) + '\n');
  if (!opts.work) rmSync(work, { recursive: true, force: true });
  const failed = Object.entries(report.steps).filter(([, s]) => !s.ok).map(([n]) => n);
  process.stderr.write(`[smoke ${report.arch}] ${failed.length ? `FAILED: ${failed.join(', ')}` : 'all steps passed'} (${report.totalMs} ms)\n`);
  return failed.length ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`smoke: ${e?.stack ?? e}\n`); process.exitCode = 2; });
