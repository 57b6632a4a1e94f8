/**
 * The bulk path for classic pcap (FlowCore.pcapRecords → assembly/pcap-ingest.ts: a chunk of the file copied into
 * the core at once, split into records there) must give exactly what the per-packet path (push()) gives: the same
 * rows, bit for bit, and the same capture stats — for both byte orders and timestamp resolutions, records that
 * straddle reads, records bigger than the core's stage or ring, a cut-off file, a corrupt header and real captures.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { readCapture, type CaptureStats } from '../core/capture/reader.ts';
import { FlowCore, type FlowBatch } from '../core/host.ts';
import { pcapFile, frame, type Packet } from './helpers/pcap-writer.ts';
import { tmpFiles } from './helpers/tmp-files.ts';
import { sharedPcap } from './helpers/tools.ts';

const { file: tmpFile } = tmpFiles('netsensor-bulk-', '.pcap');

/** Every row as text: its key and the bits of every feature (NaN payloads included). */
function rowText(b: FlowBatch, out: string[]): void {
  const width = b.features.length / b.rows;
  const bits = new Uint32Array(b.features.buffer, b.features.byteOffset, b.features.length);
  for (let r = 0; r < b.rows; r++) out.push(`${JSON.stringify(b.keys[r])} ${Array.from(bits.subarray(r * width, (r + 1) * width), (x) => x.toString(16)).join(',')}`);
}

interface Run { rows: string[]; stats: CaptureStats; sinkCalls: number; clipped: number }

async function run(path: string, bulk: boolean, o: { ringBytes?: number; bufferBytes?: number } = {}): Promise<Run> {
  const core = await FlowCore.load({ maxFlows: 4096, ...(o.ringBytes ? { ringBytes: o.ringBytes } : {}) });
  const rows: string[] = [];
  core.onBatch((b) => rowText(b, rows));
  let sinkCalls = 0;
  const stats = await readCapture(path, (buf, off, caplen, wirelen, ts, lt) => { sinkCalls++; core.push(buf, off, caplen, wirelen, ts, lt); }, {
    ...(bulk ? { bulk: core } : {}),
    ...(o.bufferBytes ? { bufferBytes: o.bufferBytes } : {}),
    afterChunk: () => core.sync(),
  });
  core.flush('end_of_input');
  return { rows, stats, sinkCalls, clipped: core.clippedPackets };
}

async function same(path: string, o: { ringBytes?: number; bufferBytes?: number } = {}): Promise<{ bulk: Run; packet: Run }> {
  const bulk = await run(path, true, o);
  const packet = await run(path, false, o);
  assert.equal(bulk.stats, packet.stats, `${path}: capture stats`);
  assert.is(bulk.rows.length, packet.rows.length, `${path}: rows`);
  for (let i = 0; i < bulk.rows.length; i++) assert.is(bulk.rows[i], packet.rows[i], `${path}: row ${i}`);
  assert.is(bulk.clipped, packet.clipped, `${path}: clipped packets`);
  return { bulk, packet };
}

/** 3,000 packets of 60 flows, payloads 0–1,460 B, a 9,000 B jumbo frame every 500 packets, ms–µs–ns timestamps. */
function traffic(): Packet[] {
  const out: Packet[] = [];
  let x = 12345;
  const rnd = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
  for (let i = 0; i < 3000; i++) {
    const f = i % 60;
    const back = rnd() < 0.4;
    const payload = i % 500 === 499 ? 9000 - 54 : Math.floor(rnd() * 1461);
    const spec = { src: `10.1.0.${f + 1}`, dst: `10.2.0.${(f % 7) + 1}`, proto: f % 4 === 3 ? 'udp' as const : 'tcp' as const, sport: 30000 + f, dport: 443, payload };
    const data = back ? frame({ ...spec, src: spec.dst, dst: spec.src, sport: spec.dport, dport: spec.sport }) : frame(spec);
    out.push({ ts: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n, data, ...(i % 97 === 0 ? { wirelen: data.length + 100 } : {}) });
  }
  return out;
}
const packets = traffic();
const bytes = packets.reduce((s, p) => s + p.data.length, 0);

for (const le of [true, false]) {
  for (const nanos of [false, true]) {
    test(`bulk = per packet: ${le ? 'little' : 'big'}-endian, ${nanos ? 'ns' : 'µs'}, records straddling reads and bigger than the stage`, async () => {
      // A 4 KiB ring has a 1 KiB stage: full-size frames are left to push(), the jumbo frames are clipped by it;
      // 64 KiB reads cut records in two.
      const path = tmpFile(pcapFile(packets, { le, nanos, linktype: 1 }));
      const { bulk } = await same(path, { ringBytes: 4096, bufferBytes: 64 << 10 });
      assert.is(bulk.stats.packets, packets.length);
      assert.is(bulk.stats.bytes, bytes);
      assert.ok(bulk.rows.length >= 60, `${bulk.rows.length} rows`);
      assert.ok(bulk.clipped === 6, `${bulk.clipped} clipped`);
      assert.ok(bulk.sinkCalls > 0 && bulk.sinkCalls < packets.length * 0.9, `per-packet calls with bulk: ${bulk.sinkCalls}`);
      // With the default ring every record goes through the core in bulk.
      const big = await same(path, { bufferBytes: 64 << 10 });
      assert.is(big.bulk.sinkCalls, 0);
      assert.is(big.packet.sinkCalls, packets.length);
    });
  }
}

test('bulk = per packet: a file cut mid-record, and a corrupt record header', async () => {
  const whole = pcapFile(packets.slice(0, 400), { linktype: 1 });
  const cut = await same(tmpFile(whole.subarray(0, whole.length - 37)), { bufferBytes: 64 << 10 });
  assert.is(cut.bulk.stats.truncated, true);
  assert.is(cut.bulk.stats.packets, 399);
  const corrupt = Buffer.from(whole);
  let at = 24;
  for (let i = 0; i < 200; i++) at += 16 + corrupt.readUInt32LE(at + 8);
  corrupt.writeUInt32LE(0x7fffffff, at + 8); // caplen of record 200
  const bad = await same(tmpFile(corrupt), { bufferBytes: 64 << 10 });
  assert.is(bad.bulk.stats.packets, 200);
  assert.is(bad.bulk.stats.truncated, true);
  assert.ok(bad.bulk.stats.warnings.some((w) => w.includes('corrupt pcap record header')));
});

test('bulk = per packet: classic pcap files from the public captures', async () => {
  const root = sharedPcap('');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.pcap$/.test(name) && statSync(p).size < 2_000_000) files.push(p);
    }
  };
  walk(root);
  const classic = files.filter((p) => {
    const fd = openSync(p, 'r');
    const m = Buffer.alloc(4);
    readSync(fd, m, 0, 4, 0);
    closeSync(fd);
    return [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(m.readUInt32LE(0));
  });
  assert.ok(classic.length >= 100, `${classic.length} classic pcap files`);
  // Every 5th: ≈ 100 files of many link types, IPv6, VLANs, fragments.
  let rows = 0;
  for (let i = 0; i < classic.length; i += 5) rows += (await same(classic[i])).bulk.rows.length;
  assert.ok(rows > 500, `${rows} rows`);
});

test.run();
