/**
 * End-to-end sensor benchmark: `netsensor sensor --pcap BIG --replay fast` (capture reader → WASM core →
 * onnxruntime → outbox → Mosquitto), in packets/s and flows/s, and event latency from creation (right after
 * the flow record was scored) to arrival at a subscriber on the same broker (≈ PUBACK), p50/p99.
 *
 *   node --import tsx bench/sensor.ts [packets=1000000] [packetsPerFlow=10] [repeats=3]
 *   (env NETSENSOR_BENCH_MQTT_PORT: the Mosquitto port, default 18900)
 *
 * Settings, each run `repeats` times (the median run by packets/s is printed, with all the rates):
 * (0) thresholds no row reaches (no events: capture + features + inference + the outbox path idle),
 * (1) the model's own thresholds (this generated traffic — 64 concurrent UDP flows from 4,096 hosts to 16
 *     servers at 100 kpps — was all `dos` to model 1.1.0; model 1.2.0 calls none of it an attack),
 * (2) thresholds that flag every flow, as evidence (the default: episodes — a flood is a few events per second),
 * (3) the same with `--publish flows` (every flow is an event: the outbox + publisher path at full load),
 * (4) the model's thresholds on the same conversations with a spoofed SYN flood in them (one SYN from a random
 *     address per 10 packets, each a flow): the flood's victim gets a `dos` episode, which opens and updates.
 * Packets per CPU-second count from the capture's start (module loading and start-up excluded), so first-touch
 * page faults, JIT warm-up and the final flush weigh on a short capture: run it with 5,000,000 packets for the rate
 * a sensor keeps.
 * Without a shipped model an untrained model with the real graph but smaller layers is used; the output says which.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFlowPacket, buildSynFloodPacket, FRAME_BYTES } from './traffic.ts';
import { Mosquitto, sleep } from '../test/helpers/mosquitto.ts';
import { EventSubscriber } from '../test/helpers/event-subscriber.ts';
import { writeUntrainedModel } from '../test/helpers/untrained-model.ts';

const packets = Number(process.argv[2] ?? 1_000_000);
const perFlow = Number(process.argv[3] ?? 10);
const repeats = Number(process.argv[4] ?? 3);
const root = new URL('..', import.meta.url).pathname;
// the built CLI when there is one (what a sensor runs), else the sources through tsx
const cli = existsSync(join(root, 'dist/cli/main.js')) ? [join(root, 'dist/cli/main.js')] : ['--import', 'tsx', 'cli/main.ts'];
const dir = mkdtempSync(join(tmpdir(), 'nssen-bench-'));

/**
 * The generated capture; `floodEvery` > 0 adds a spoofed SYN flood: one flood packet (a flow of its own) before every
 * that-many-th packet of the conversations. Returns the flows and the packets written.
 */
function writePcap(path: string, floodEvery = 0): { flows: number; packets: number } {
  const fd = openSync(path, 'w');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16); hdr.writeUInt32LE(1, 20);
  writeSync(fd, hdr);
  const flows = Math.floor(packets / perFlow);
  const rec = Buffer.alloc(16 + FRAME_BYTES);
  const frame = new Uint8Array(rec.buffer, rec.byteOffset + 16, FRAME_BYTES);
  const chunk: Buffer[] = [];
  let t = 1_700_000_000_000_000; // µs
  let written = 0, floods = 0;
  const emit = (): void => {
    t += 10;
    rec.writeUInt32LE(Math.floor(t / 1e6), 0); rec.writeUInt32LE(t % 1e6, 4);
    rec.writeUInt32LE(FRAME_BYTES, 8); rec.writeUInt32LE(FRAME_BYTES, 12);
    chunk.push(Buffer.from(rec));
  };
  // flows interleaved 64 at a time, so the table holds many live flows like a real link
  for (let base = 0; base < flows; base += 64) {
    for (let p = 0; p < perFlow; p++) {
      for (let i = base; i < Math.min(base + 64, flows); i++) {
        if (floodEvery > 0 && ++written % floodEvery === 0) { buildSynFloodPacket(frame, floods++); emit(); }
        buildFlowPacket(frame, i, p % 2 === 1);
        emit();
      }
      if (chunk.length > 10_000) { writeSync(fd, Buffer.concat(chunk.splice(0))); }
    }
  }
  writeSync(fd, Buffer.concat(chunk));
  closeSync(fd);
  return { flows: flows + floods, packets: flows * perFlow + floods };
}

async function runOnce(pcap: string, broker: Mosquitto, modelArgs: string[], id: string) {
  const sub = new EventSubscriber();
  await sub.connect(broker.url, `nssen-bench-${id}`, 5);
  const p = spawn(process.execPath, [...cli, 'sensor', '--pcap', pcap, '--broker', broker.url, '--id', id,
    '--db', join(dir, `${id}.db`), '--shutdown-timeout-ms', '120000', '--detect-batch-rows', '1024', ...modelArgs], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => { err += d; });
  await new Promise((r) => p.once('exit', r));
  const logs = err.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  const fin = logs.find((l) => l.msg === 'capture finished') ?? {};
  // events the outbox dropped at its cap (oldest, lowest severity first; logged as a running total)
  const dropped = Math.max(0, ...logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('outbox full')).map((l) => Number(l.total) || 0));
  await sleep(500);
  const lat = sub.events.map((e) => sub.firstSeenAt.get(e.id)! - e.ts).sort((a, b) => a - b);
  const q = (x: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(x * lat.length))] : NaN);
  await sub.close();
  return { packets: fin.packets, flows: fin.flows, events: fin.events, seconds: fin.seconds, pps: fin.packets_per_s, fps: Math.round(fin.flows / fin.seconds), cpuSeconds: fin.cpu_seconds, ppsPerCpu: fin.packets_per_cpu_s, delivered: sub.ids.size, droppedAtCap: dropped, p50: q(0.5), p99: q(0.99) };
}

async function median(label: string, args: string[], id: string, pcap = pcapPath) {
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await runOnce(pcap, broker, args, `${id}-${i}`));
  runs.sort((x, y) => x.pps - y.pps);
  const m = runs[Math.floor(runs.length / 2)]!;
  console.log(`${label}:`, JSON.stringify({ ...m, ppsRuns: runs.map((r) => r.pps), ppsPerCpuRuns: runs.map((r) => r.ppsPerCpu) }));
}

// NETSENSOR_BENCH_MQTT_PORT: run beside tests that hold the default port
const broker = new Mosquitto(Number(process.env.NETSENSOR_BENCH_MQTT_PORT ?? 18900));
const pcapPath = join(dir, 'big.pcap');
const floodPath = join(dir, 'flood.pcap');
try {
  const { flows } = writePcap(pcapPath);
  const flood = writePcap(floodPath, 10);
  const shipped = join(root, 'models/netsensor-detect.onnx');
  const model = existsSync(shipped) ? shipped : writeUntrainedModel(join(dir, 'untrained.onnx'));
  console.log(`capture: ${packets} packets, ${flows} flows (${perFlow} packets each, UDP); model: ${model === shipped ? 'shipped' : 'untrained (same graph)'}; sensor: ${cli.length === 1 ? 'dist build' : 'sources via tsx'}`);
  await broker.start();
  await median('no events', ['--model', model, '--class-threshold', '1', '--anomaly-threshold', '1e9'], 'bench-none');
  await median('no events, no site baseline', ['--model', model, '--class-threshold', '1', '--anomaly-threshold', '1e9', '--baseline-learn-s', '0'], 'bench-nobase');
  await median('model thresholds', ['--model', model], 'bench-model');
  // every flow is evidence (a flood the model flags flow by flow): episodes, what a sensor does by default
  await median('every flow evidence (episodes)', ['--model', model, '--anomaly-threshold', '0'], 'bench-evidence');
  await median('every flow an event (--publish flows)', ['--model', model, '--anomaly-threshold', '0', '--publish', 'flows'], 'bench-all');
  // a spoofed SYN flood in the traffic: its victim's episode opens and updates (events on), the rest is scored as usual
  console.log(`flood capture: ${flood.packets} packets, ${flood.flows} flows (the conversations above plus one spoofed SYN per 10 of their packets)`);
  await median('spoofed SYN flood in the traffic (model thresholds, episodes)', ['--model', model], 'bench-flood', floodPath);
} finally {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
}
