/**
 * Micro-benchmark of the WASM flow core alone (no file reading, no export): packets are loaded into memory
 * first — from a capture (default: the flow benchmark's generated file in bench/work/) or synthesised with flows
 * in random order — then pushed through core/host.ts. Reports, medians of `--runs` runs:
 *   - packets per CPU-second of the whole loop (push into the ring + core + draining rows into key objects),
 *   - packets per CPU-second inside sync() alone (the core's process() + drain), which is what the core costs.
 * Each figure also as CPU cycles per packet (CPU seconds × the clock /proc/cpuinfo reports / packets).
 * `--verify` adds a digest of every output row (keys and features, order-independent and in order), so an
 * optimisation can be checked to compute exactly the same thing: run before and after, compare the digests.
 *
 * usage: node --import tsx bench/core-micro.ts [--capture FILE] [--packets N] [--runs 3] [--wasm FILE[,FILE…]]
 *          [--random-flows N] [--ring-bytes B] [--stream [--per-packet]] [--verify]
 *   --stream: read the capture file in every run instead (reader + core, as `netsensor flows` without export);
 *     a classic pcap goes to the core in bulk (FlowCore.pcapRecords), as `netsensor flows` does
 *   --per-packet: with --stream, also run every build with the reader calling push() once per packet, interleaved
 *   --random-flows N: synthetic capture instead (N concurrent flows, each packet from a random flow, 3/4 TCP)
 *   --wasm a.wasm,b.wasm: compare builds (e.g. one saved before a change); their runs are interleaved so a load
 *     change on a shared machine hits all of them alike. The best run is printed too: load only ever slows a run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readCapture } from '../core/capture/reader.ts';
import { FlowCore, CORE_DEFAULTS, type FlowBatch } from '../core/host.ts';
import { RECORD_HEADER } from '../core/abi.ts';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    capture: { type: 'string' },
    packets: { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
    wasm: { type: 'string' },
    'random-flows': { type: 'string', default: '0' },
    verify: { type: 'boolean', default: false },
    'ring-bytes': { type: 'string' },
    stream: { type: 'boolean', default: false },
    'per-packet': { type: 'boolean', default: false },
  },
});
const limit = Number(values.packets) || Infinity;
const runs = Number(values.runs);
const randomFlows = Number(values['random-flows']);

/** Packets held in memory: one byte arena plus per-packet columns. */
class Packets {
  data = new Uint8Array(64 << 20);
  used = 0;
  count = 0;
  off = new Uint32Array(1 << 20);
  len = new Uint32Array(1 << 20);
  wire = new Uint32Array(1 << 20);
  ts = new Float64Array(1 << 20);
  link = new Uint16Array(1 << 20);

  add = (buf: Uint8Array, offset: number, caplen: number, wirelen: number, tsMs: number, linktype: number): void => {
    if (this.count >= limit) return;
    if (this.used + caplen > this.data.length) {
      const d = new Uint8Array(this.data.length * 2);
      d.set(this.data.subarray(0, this.used));
      this.data = d;
    }
    if (this.count === this.off.length) {
      const n = this.count * 2;
      const grow = <T extends Uint32Array | Float64Array | Uint16Array>(a: T, make: (n: number) => T): T => { const b = make(n); b.set(a); return b; };
      this.off = grow(this.off, (k) => new Uint32Array(k));
      this.len = grow(this.len, (k) => new Uint32Array(k));
      this.wire = grow(this.wire, (k) => new Uint32Array(k));
      this.ts = grow(this.ts, (k) => new Float64Array(k));
      this.link = grow(this.link, (k) => new Uint16Array(k));
    }
    this.data.set(buf.subarray(offset, offset + caplen), this.used);
    const i = this.count++;
    this.off[i] = this.used;
    this.len[i] = caplen;
    this.wire[i] = wirelen;
    this.ts[i] = tsMs;
    this.link[i] = linktype;
    this.used += caplen;
  };
}

/** `n` packets from `flows` concurrent flows picked at random (xorshift, fixed seed): the cache-hostile case. */
function synthesise(p: Packets, flows: number, n: number): void {
  const frame = new Uint8Array(14 + 20 + 20 + 160);
  const dv = new DataView(frame.buffer);
  const step = new Uint32Array(flows);
  const gen = new Uint32Array(flows);
  let x = 0x9e3779b9;
  const t0 = 1_700_000_000_000;
  for (let k = 0; k < n; k++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const f = x % flows;
    const s = step[f]++;
    if (s >= 40) { step[f] = 1; gen[f]++; } // a flow of 40 packets, then a new connection on the slot
    const k0 = s >= 40 ? 0 : s;
    const id = f + gen[f] * flows;
    const udp = (f & 3) === 3;
    const fromClient = (k0 & 1) === 0;
    const payload = k0 < 3 && !udp ? 0 : fromClient ? 40 : 160;
    const l4 = udp ? 8 : 20;
    const ipLen = 20 + l4 + payload;
    dv.setUint32(0, 0x02000000); dv.setUint16(4, fromClient ? 1 : 2); dv.setUint32(6, 0x02000000); dv.setUint16(10, fromClient ? 2 : 1);
    dv.setUint16(12, 0x0800);
    dv.setUint32(14, 0x45000000 | ipLen); dv.setUint32(18, 0x4000); dv.setUint32(22, (64 << 24) | ((udp ? 17 : 6) << 16));
    const client = (10 << 24) | ((f >>> 16) << 16) | (f & 0xffff);
    const server = (192 << 24) | (168 << 16) | (1 + (f % 64));
    dv.setUint32(26, fromClient ? client : server); dv.setUint32(30, fromClient ? server : client);
    const cport = 1024 + (Math.floor(id / flows) % 60000);
    const sport = udp ? 5000 : 443;
    dv.setUint16(34, fromClient ? cport : sport); dv.setUint16(36, fromClient ? sport : cport);
    if (udp) dv.setUint32(38, (8 + payload) << 16);
    else {
      const flags = k0 === 0 ? 0x02 : k0 === 1 ? 0x12 : k0 === 2 ? 0x10 : 0x18;
      dv.setUint32(38, k0); dv.setUint32(42, k0); dv.setUint32(46, (5 << 28) | (flags << 16) | 64240); dv.setUint32(50, 0);
    }
    const caplen = 14 + ipLen;
    p.add(frame, 0, caplen, caplen, t0 + k * 0.001, 1);
  }
}

function defaultCapture(): string {
  const work = join(root, 'bench/work');
  const files = existsSync(work) ? readdirSync(work).filter((f) => /^flows-\d+-\d+\.pcap$/.test(f)) : [];
  if (files.length === 0) throw new Error('no generated capture in bench/work/: run `npm run bench -- flows` once, or pass --capture / --random-flows');
  return join(work, files.sort()[0]);
}

const packets = new Packets();
let source: string;
if (values.stream) {
  source = values.capture ?? defaultCapture();
} else if (randomFlows > 0) {
  const n = Number.isFinite(limit) ? limit : 5_000_000;
  synthesise(packets, randomFlows, n);
  source = `synthetic: ${randomFlows} flows in random order`;
} else {
  source = values.capture ?? defaultCapture();
  await readCapture(source, packets.add);
}
if (!values.stream) console.log(`${source}: ${packets.count} packets in memory (${(packets.used / 1e6).toFixed(0)} MB)`);
let total = packets.count;

/** Order-independent sum and in-order FNV-style digest over every key and feature bit of every row. */
class Digest {
  sum = 0n;
  ordered = 0x811c9dc5;
  rows = 0;
  add = (b: FlowBatch): void => {
    const f = new Uint32Array(b.features.buffer, b.features.byteOffset, b.features.length);
    const width = b.features.length / b.rows;
    for (let r = 0; r < b.rows; r++) {
      const k = b.keys[r];
      let h = 0x811c9dc5;
      const mix = (v: number) => { h = Math.imul(h ^ (v >>> 0), 16777619) >>> 0; h ^= h >>> 13; };
      for (const s of [k.src_ip, k.dst_ip, k.end_reason]) for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
      for (const v of [k.src_port, k.dst_port, k.protocol, k.vlan_id, k.flow_seq, k.interim ? 1 : 0, k.src2dst_packets,
        k.dst2src_packets, k.src2dst_bytes, k.dst2src_bytes, k.first_seen_ms * 1000, k.last_seen_ms * 1000]) mix(v);
      for (let c = 0; c < width; c++) mix(f[r * width + c]);
      this.sum = (this.sum + BigInt(h)) & 0xffffffffffffffffn;
      this.ordered = Math.imul(this.ordered ^ h, 16777619) >>> 0;
      this.rows++;
    }
  };
}

/** The CPU's reported clock (MHz in /proc/cpuinfo; in a VM the host's nominal clock). */
const cpuHz = (() => {
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
  return m ? Number(m[1]) * 1e6 : NaN;
})();
const cycles = (cpuS: number) => `${((cpuS * cpuHz) / total).toFixed(0)} cycles`;
const cpuSince = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };
interface Run { cpuS: number; wallS: number; syncS: number; rows: number }
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

interface Build { wasm: string | undefined; bulk: boolean; name: string }

async function once({ wasm, bulk }: Build, digest?: Digest): Promise<Run> {
  const ringBytes = Number(values['ring-bytes'] ?? CORE_DEFAULTS.ringBytes);
  const core = await FlowCore.load({ ringBytes, ...(wasm ? { wasmPath: wasm } : {}) });
  let rows = 0;
  core.onBatch(digest ? (b) => { rows += b.rows; digest.add(b); } : (b) => { rows += b.rows; });
  const ringCap = ringBytes;
  const { data, off, len, wire, ts, link } = packets;
  let ringUsed = 0;
  let syncCpu = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (values.stream) {
    await readCapture(source, core.push, {
      ...(bulk ? { bulk: core } : {}),
      afterChunk: () => { const s = process.cpuUsage(); core.sync(); syncCpu += cpuSince(s); },
    });
  }
  for (let i = 0; i < (values.stream ? 0 : packets.count); i++) {
    const need = RECORD_HEADER.bytes + ((len[i] + 7) & ~7);
    if (ringUsed + need > ringCap) { // sync here, timed, before push() would do it untimed
      const s = process.cpuUsage();
      core.sync();
      syncCpu += cpuSince(s);
      ringUsed = 0;
    }
    core.push(data, off[i], len[i], wire[i], ts[i], link[i]);
    ringUsed += need;
  }
  const s = process.cpuUsage();
  core.flush('end_of_input');
  syncCpu += cpuSince(s);
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const st = core.stats();
  if (values.stream) total = st.packets;
  else if (st.packets !== packets.count) throw new Error(`core saw ${st.packets} of ${packets.count} packets`);
  return { cpuS: (c.user + c.system) / 1e6, wallS, syncS: syncCpu, rows };
}

// Several builds (--wasm a.wasm,b.wasm) run interleaved, so a load change on a shared machine hits them alike.
const wasms: (string | undefined)[] = values.wasm ? values.wasm.split(',') : [undefined];
const builds: Build[] = wasms.flatMap((wasm) => {
  const name = wasm ?? 'build/netsensor.wasm';
  const bulk = { wasm, bulk: true, name: values.stream ? `${name} (bulk)` : name };
  return values.stream && values['per-packet'] ? [bulk, { wasm, bulk: false, name: `${name} (per packet)` }] : [bulk];
});
const results = new Map<Build, Run[]>(builds.map((b) => [b, []]));
for (let r = 0; r < runs; r++) {
  for (const b of builds) {
    const m = await once(b);
    results.get(b)!.push(m);
    console.log(`run ${r + 1} ${b.name}: ${(total / m.cpuS / 1e6).toFixed(2)} Mpps per CPU-second (push + core, ` +
      `${cycles(m.cpuS)}), ${(total / m.syncS / 1e6).toFixed(2)} Mpps per CPU-second in sync() (core + drain, ${cycles(m.syncS)}), ` +
      `wall ${m.wallS.toFixed(2)} s, ${m.rows} rows`);
  }
}
for (const b of builds) {
  const rs = results.get(b)!;
  const cpuS = median(rs.map((m) => m.cpuS));
  const syncS = median(rs.map((m) => m.syncS));
  console.log(`median of ${runs} ${b.name}: ${(total / cpuS / 1e6).toFixed(2)} Mpps per CPU-second (${cycles(cpuS)} per packet), ` +
    `${(total / syncS / 1e6).toFixed(2)} Mpps in sync() (${cycles(syncS)}); ` +
    `best ${(total / Math.min(...rs.map((m) => m.cpuS)) / 1e6).toFixed(2)} / ${(total / Math.min(...rs.map((m) => m.syncS)) / 1e6).toFixed(2)}`);
  if (values.verify) {
    const d = new Digest();
    await once(b, d);
    console.log(`digest ${b.name}: ${d.rows} rows, sum ${d.sum.toString(16)}, ordered ${d.ordered.toString(16)}`);
  }
}
