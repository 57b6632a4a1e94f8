import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FEATURES, RECORD_KEY_COLUMNS } from '../core/schema.ts';
import { pcapFile, pcapngFile, frame, type FrameSpec, type Packet } from './helpers/pcap-writer.ts';
import { sharedPcap } from './helpers/tools.ts';
import { formatFeature, recordLayout } from '../core/export/record.ts';
import { formatAddress, FlowCore, type KeyRecord } from '../core/host.ts';
import { CORE_COUNTERS } from '../core/decoder-events.ts';
import { flows as flowStream } from '../core/flows.ts';
import { wasmRecordWriter } from '../core/export/wasm-format.ts';
import type { TextSink } from '../core/export/writer.ts';
import { KEY_RECORD } from '../core/abi.ts';
import { NUM_FEATURES } from '../core/schema.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-flows-'));
let n = 0;
const tmp = (bytes: Uint8Array, ext = 'bin') => { const p = join(dir, `c${n++}.${ext}`); writeFileSync(p, bytes); return p; };

interface Run { code: number | null; stdout: string; stderr: string; summary: Record<string, any> }
function flows(args: string[], input?: Uint8Array): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', ...args], {
    cwd: root, input, encoding: 'utf8', maxBuffer: 1 << 28,
  });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  let summary = {};
  try { summary = JSON.parse(last); } catch { /* error runs have no summary */ }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, summary };
}
const records = (r: Run) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** IP total length of a frame built by pcap-writer (Ethernet, optional one VLAN tag). */
function ipLen(f: FrameSpec): number {
  const b = frame(f);
  const off = f.vlan !== undefined ? 18 : 14;
  return f.src.includes(':') ? 40 + b.readUInt16BE(off + 4) : b.readUInt16BE(off + 2);
}

// A TCP connection (client 10.9.0.1:40001 → server 10.9.0.2:80) with handshake, data and FIN both ways,
// a UDP exchange on VLAN 42, and an IPv6 UDP exchange.
const c = { src: '10.9.0.1', dst: '10.9.0.2', proto: 'tcp' as const, sport: 40001, dport: 80 };
const s = { src: '10.9.0.2', dst: '10.9.0.1', proto: 'tcp' as const, sport: 80, dport: 40001 };
const tcp: FrameSpec[] = [
  { ...c, flags: 0x02 }, { ...s, flags: 0x12 }, { ...c, flags: 0x10 }, { ...c, flags: 0x18, payload: 300 },
  { ...s, flags: 0x18, payload: 1200 }, { ...c, flags: 0x10 }, { ...c, flags: 0x11 }, { ...s, flags: 0x11 }, { ...c, flags: 0x10 },
];
const udp: FrameSpec[] = [
  { src: '10.9.0.5', dst: '10.9.0.6', proto: 'udp', sport: 5000, dport: 53, payload: 40, vlan: 42 },
  { src: '10.9.0.6', dst: '10.9.0.5', proto: 'udp', sport: 53, dport: 5000, payload: 120, vlan: 42 },
];
const v6: FrameSpec[] = [
  { src: 'fd00::1', dst: 'fd00:0:0:1::2', proto: 'udp', sport: 7000, dport: 7001, payload: 10 },
  { src: 'fd00:0:0:1::2', dst: 'fd00::1', proto: 'udp', sport: 7001, dport: 7000, payload: 20 },
  { src: 'fd00::1', dst: 'fd00:0:0:1::2', proto: 'udp', sport: 7000, dport: 7001, payload: 30 },
];
const all = [...tcp, ...udp, ...v6];
const packets: Packet[] = all.map((f, i) => ({ ts: 1700000000 + i * 0.01, data: frame(f) }));
const capture = tmp(pcapFile(packets));

test('one record per flow: initiator, per-direction packets and IP bytes, end reasons, VLAN, IPv6 text', () => {
  const r = flows([capture]);
  assert.is(r.code, 0, r.stderr);
  const recs = records(r);
  assert.is(recs.length, 3);
  const t = recs.find((x) => x.protocol === 6)!;
  assert.equal([t.src_ip, t.src_port, t.dst_ip, t.dst_port], ['10.9.0.1', 40001, '10.9.0.2', 80]);
  const sum = (fs: FrameSpec[], from: string) => fs.filter((f) => f.src === from);
  assert.is(t.src2dst_packets, sum(tcp, '10.9.0.1').length);
  assert.is(t.dst2src_packets, sum(tcp, '10.9.0.2').length);
  assert.is(t.src2dst_bytes, sum(tcp, '10.9.0.1').reduce((a, f) => a + ipLen(f), 0));
  assert.is(t.dst2src_bytes, sum(tcp, '10.9.0.2').reduce((a, f) => a + ipLen(f), 0));
  assert.is(t.end_reason, 'fin');
  assert.is(t.first_seen_ms, 1700000000000);
  assert.is(t.last_seen_ms, 1700000000080);
  const u = recs.find((x) => x.vlan_id === 42)!;
  assert.equal([u.src_ip, u.dst_port, u.protocol, u.src2dst_bytes, u.dst2src_bytes], ['10.9.0.5', 53, 17, ipLen(udp[0]), ipLen(udp[1])]);
  assert.is(u.end_reason, 'end_of_input');
  const w = recs.find((x) => x.src_ip.includes(':'))!;
  assert.equal([w.src_ip, w.dst_ip, w.src2dst_packets, w.dst2src_packets], ['fd00::1', 'fd00:0:0:1::2', 2, 1]);
  assert.is(w.src2dst_bytes, ipLen(v6[0]) + ipLen(v6[2]));
  assert.is(r.summary.packets, all.length);
  assert.is(r.summary.flows, 3);
  assert.is(r.summary.truncated, false);
  assert.ok(r.summary.packets_per_s > 0);
});

test('record columns = key columns + every schema feature not already a key column; CSV = JSONL', () => {
  const j = records(flows([capture]));
  const expected = [...RECORD_KEY_COLUMNS, ...FEATURES.map((f) => f.name).filter((nm) => !(RECORD_KEY_COLUMNS as readonly string[]).includes(nm))];
  assert.equal(Object.keys(j[0]), expected);
  const out = join(dir, 'flows.csv');
  const r = flows([capture, '--format', 'csv', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines[0].split(','), expected);
  assert.is(lines.length, j.length + 1);
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',');
    expected.forEach((col, k) => assert.is(cells[k], String(j[i][col]), `${col} row ${i}`));
  });
});

test('--cic-names writes the CIC-IDS2017 header exactly: 85 columns, Flow ID first, Label last', () => {
  const r = flows([capture, '--format', 'csv', '--cic-names']);
  const header = r.stdout.split('\n')[0].split(',');
  assert.is(header.length, 85);
  assert.equal(header.slice(0, 8), ['Flow ID', 'Source IP', 'Source Port', 'Destination IP', 'Destination Port', 'Protocol', 'Timestamp', 'Flow Duration']);
  assert.is(header.at(-1), 'Label');
  assert.is(header.filter((h) => h === 'Fwd Header Length').length, 2, 'CIC-IDS2017 repeats it');
  assert.ok(header.includes('CWE Flag Count') && !header.includes('end_reason'));
});

test('stdin `-` gives the same records as the file', () => {
  const a = flows([capture]);
  const b = flows(['-'], readFileSync(capture));
  assert.is(b.code, 0, b.stderr);
  assert.is(b.stdout, a.stdout);
  assert.is(b.summary.capture, 'stdin');
});

test('--idle-timeout splits a flow at a long gap; without it one record', () => {
  const f: FrameSpec = { src: '10.9.1.1', dst: '10.9.1.2', proto: 'udp', sport: 1111, dport: 2222, payload: 5 };
  const back: FrameSpec = { ...f, src: f.dst, dst: f.src, sport: f.dport, dport: f.sport };
  const p = tmp(pcapFile([0, 1, 20, 21].map((t, i) => ({ ts: 1700000000 + t, data: frame(i % 2 ? back : f) }))));
  const one = records(flows([p]));
  assert.is(one.length, 1);
  assert.is(one[0].src2dst_packets + one[0].dst2src_packets, 4);
  const two = records(flows([p, '--idle-timeout', '5']));
  assert.is(two.length, 2);
  assert.is(two[0].end_reason, 'idle');
  assert.equal(two.map((x) => x.src2dst_packets + x.dst2src_packets), [2, 2]);
});

test('--max-flows: a full table evicts and counts, no packet lost', () => {
  const pk: Packet[] = [];
  for (let i = 0; i < 50; i++) pk.push({ ts: 1700000000 + i * 0.001, data: frame({ src: '10.9.2.1', dst: '10.9.2.2', proto: 'udp', sport: 10000 + i, dport: 53, payload: 1 }) });
  const r = flows([tmp(pcapFile(pk)), '--max-flows', '8']);
  assert.is(r.code, 0, r.stderr);
  const recs = records(r);
  assert.is(recs.length, 50);
  assert.ok(recs.some((x) => x.end_reason === 'eviction'));
  assert.ok(r.summary.events['flow.evicted'] > 0, JSON.stringify(r.summary.events));
});

test('summary: unknown link types per type, truncation warning, decoder events by name', () => {
  const ng = pcapngFile([{ interfaces: [{ linktype: 1 }, { linktype: 147 }], packets: [
    { ts: 1700000000, data: frame(tcp[0]) }, { ts: 1700000001, data: frame(tcp[1]), iface: 1 },
    { ts: 1700000002, data: Buffer.from([1, 2, 3]) },
  ] }]);
  const r = flows([tmp(ng.subarray(0, ng.length))]);
  assert.equal(r.summary.unknown_linktypes, { 'linktype_147(147)': 1 });
  assert.ok(r.summary.events['decoder.ethernet.too_small'] >= 1, JSON.stringify(r.summary.events));
  const whole = pcapFile(packets);
  const cut = flows([tmp(whole.subarray(0, whole.length - 20))]);
  assert.is(cut.code, 0);
  assert.is(cut.summary.truncated, true);
  assert.match(cut.stderr, /warning: capture cut off mid-record/);
  assert.is(cut.summary.packets, all.length - 1);
});

test('errors: one line, exit 2, no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.pcap')], /ERR_CAPTURE_NOT_FOUND/],
    [[dir], /ERR_CAPTURE_IS_DIRECTORY/],
    [[sharedPcap('zeek/COPYING')], /ERR_CAPTURE_FORMAT/],
    [[capture, '--format', 'xml'], /ERR_USAGE/],
    [[capture, '--bogus'], /ERR_USAGE/],
    [[capture, '--idle-timeout', '-3'], /ERR_USAGE/],
    [[], /ERR_USAGE/],
  ];
  for (const [args, re] of cases) {
    const r = flows(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.not.match(r.stderr, /\n\s+at /);
    assert.is(r.stdout, '');
  }
});

test('--help', () => {
  const r = flows(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /--idle-timeout/);
});

test('core host: advance() expires idle flows without packets; counters by name; load errors are typed', async () => {
  const core = await FlowCore.load({ maxFlows: 64, maxHosts: 64, ringBytes: 1 << 16, maxOut: 16, settings: { udpIdleS: 5 } });
  const batches: { keys: KeyRecord[]; rows: number; width: number }[] = [];
  core.onBatch((b) => batches.push({ keys: b.keys, rows: b.rows, width: b.features.length / b.rows }));
  // request, reply, request: answered, so only the (5 s) idle timeout can end it
  for (let i = 0; i < 3; i++) { const f = frame(udp[i % 2]); core.push(f, 0, f.length, f.length, 1_700_000_000_000 + i, 1); }
  core.sync();
  assert.is(batches.length, 0);
  core.advance(1_700_000_004_000);
  assert.is(batches.length, 0, 'not idle yet');
  core.advance(1_700_000_010_000);
  assert.is(batches.length, 1);
  assert.is(batches[0].rows, 1);
  assert.is(batches[0].width, FEATURES.length);
  assert.equal([batches[0].keys[0].end_reason, batches[0].keys[0].src2dst_packets, batches[0].keys[0].vlan_id], ['idle', 2, 42]);
  core.flush('end_of_input');
  assert.is(batches.length, 1, 'nothing left to flush');
  assert.is(core.stats().packets, 3);
  const events = core.counters();
  assert.is(Object.keys(events).length, CORE_COUNTERS.length);
  assert.is(events['decoder.non_ip'], 0);
  assert.ok(core.flowSlotBytes() > 0);
  try {
    await FlowCore.load({ wasmPath: join(dir, 'missing.wasm') });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'ERR_CORE_LOAD');
  }
  try {
    await FlowCore.load({ maxFlows: 0 });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'ERR_CORE_LOAD');
  }
});

/** CSV rows made by the record formatter from synthetic rows: addresses, first_seen_ms and features chosen by the test. */
function formatRows(rows: { src?: string; first?: number; features?: number[] }[]): string[][] {
  const keyBytes = new Uint8Array(rows.length * KEY_RECORD.bytes);
  const dv = new DataView(keyBytes.buffer);
  const features = new Float32Array(rows.length * NUM_FEATURES);
  rows.forEach((r, i) => {
    const k = i * KEY_RECORD.bytes;
    keyBytes.set(Buffer.from((r.src ?? '00000000 00000000 0000ffff 0a000001').replace(/ /g, ''), 'hex'), k + KEY_RECORD.offset.src);
    dv.setFloat64(k + KEY_RECORD.offset.first_seen_ms, r.first ?? 0, true);
    features.set(r.features ?? [], i * NUM_FEATURES);
  });
  const text: string[] = [];
  const sink: TextSink = { closed: false, write: (t) => { text.push(typeof t === 'string' ? t : Buffer.from(t).toString()); }, end: async () => {} };
  const w = wasmRecordWriter(sink, 'csv');
  w.write({ rows: rows.length, keyBytes, features, get keys(): KeyRecord[] { throw new Error('not needed'); } }, 0);
  return text.join('').trimEnd().split('\n').slice(1).map((l) => l.split(','));
}

test('number and address formatting: the record formatter = the reference formatter; IPv6 compression (RFC 5952)', () => {
  const cases = [0, -0, 7, 10, 2147483647, 2147483648, 1e15, 2 ** 53, -(2 ** 60), -3, 0.5, -0.25, 12.000001, 99.9999999, 0.0005, -2.5e-7,
    3.4e38, Math.fround(0.1), 16777215.5, NaN, Infinity, -Infinity, 0.001, -0.001, 0.0009999];
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 20000; i++) cases.push(Math.fround((rnd() - 0.5) * 10 ** (rnd() * 14 - 4)));
  const layout = recordLayout();
  const nk = layout.keyColumns.length;
  // each value in every feature column of one row (a feature column is a float32, as the core writes it)
  const rows = cases.map((v) => ({ features: new Array(NUM_FEATURES).fill(Math.fround(v)) }));
  formatRows(rows).forEach((cells, i) => {
    const want = formatFeature(Math.fround(cases[i]));
    layout.featureIndexes.forEach((_, j) => assert.is(cells[nk + j], want, String(cases[i])));
  });
  assert.is(formatFeature(Math.fround(0.1)), '0.1');
  assert.is(formatFeature(1234.5678), '1234.5678');
  assert.is(formatFeature(NaN), '');
  const addresses: [string, string][] = [
    ['00000000 00000000 0000ffff 0a000001', '10.0.0.1'],
    ['00000000 00000000 0000ffff ffffffff', '255.255.255.255'],
    ['fd000000 00000000 00000000 00000001', 'fd00::1'],
    ['20010db8 00000001 00000000 00000001', '2001:db8:0:1::1'],
    ['20010db8 00010001 00010001 00010001', '2001:db8:1:1:1:1:1:1'],
    ['00000000 00000000 00000000 00000000', '::'],
    ['20010000 00000001 00000000 00000000', '2001:0:0:1::'],
    ['00000000 00000000 00000000 00000001', '::1'],
    ['fe800000 00000000 0abc0def 00000000', 'fe80::abc:def:0:0'],
    ['00010000 00010000 00000001 00000000', '1:0:1::1:0:0'], // equal zero runs: the first is compressed
    ['ffffffff ffffffff ffffffff ffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (let i = 0; i < 2000; i++) {
    // random groups, often zero, to exercise every zero-run position
    addresses.push([Array.from({ length: 8 }, () => (rnd() < 0.5 ? 0 : Math.floor(rnd() * 65536 / (rnd() < 0.5 ? 4096 : 1)))).map((g) => g.toString(16).padStart(4, '0')).join(''), '']);
  }
  const got = formatRows(addresses.map(([src]) => ({ src })));
  addresses.forEach(([hex, want], i) => {
    const ref = formatAddress(Buffer.from(hex.replace(/ /g, ''), 'hex'), 0);
    if (want) assert.is(ref, want);
    assert.is(got[i][0], ref, hex);
  });
});

test('timestamps: milliseconds written as their shortest decimal to the µs', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const cases = [0, 0.001, 0.5, 9.9995, 10, 1700000000000, 1700000000000.001, 1700000000123.456, 1699999999999.9995, -0.0004, -12.3456];
  for (let i = 0; i < 20000; i++) cases.push(Math.round((1.6e12 + rnd() * 2e11) * 1e3 + (i % 3 === 0 ? 0 : rnd())) / 1e3, (rnd() - 0.5) * 10 ** (rnd() * 10));
  const at = RECORD_KEY_COLUMNS.indexOf('first_seen_ms');
  formatRows(cases.map((first) => ({ first }))).forEach((cells, i) => {
    const r = Math.round(cases[i] * 1e3) / 1e3;
    assert.is(cells[at], String(r === 0 ? 0 : r), String(cases[i]));
  });
});

test('CSV and JSONL key columns, written from the key records, equal the batch\'s key objects (IPv4, IPv6, VLAN)', async () => {
  const text: string[] = [];
  const sink: TextSink = { closed: false, write: (t) => { text.push(typeof t === 'string' ? t : Buffer.from(t).toString()); }, end: async () => {} };
  const json: string[] = [];
  const jsink: TextSink = { ...sink, write: (t) => { json.push(typeof t === 'string' ? t : Buffer.from(t).toString()); } };
  const csv = wasmRecordWriter(sink, 'csv');
  const jsonl = wasmRecordWriter(jsink, 'jsonl');
  let written = 0;
  const keys: KeyRecord[] = [];
  for (const f of ['suricata-verify/tests/community-id-ipv6/input.pcap', 'suricata-verify/tests/eve-flow-vlan-02/input.pcap', 'chrissanders-packets/http_ip4and6.pcapng']) {
    const core = await FlowCore.load({ maxFlows: 4096 });
    await flowStream(sharedPcap(f), core, (b) => { csv.write(b, written); jsonl.write(b, written); written += b.rows; keys.push(...b.keys); });
  }
  const lines = text.join('').trimEnd().split('\n').slice(1);
  const objects = json.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.is(lines.length, keys.length);
  assert.is(objects.length, keys.length);
  assert.ok(keys.some((k) => k.ip_version === 6) && keys.some((k) => k.ip_version === 4) && keys.some((k) => k.vlan_id > 0), 'IPv4, IPv6 and VLAN flows');
  keys.forEach((k, i) => {
    const expect = [k.src_ip, k.src_port, k.dst_ip, k.dst_port, k.protocol, k.vlan_id, Math.round(k.first_seen_ms * 1e3) / 1e3,
      Math.round(k.last_seen_ms * 1e3) / 1e3, k.src2dst_packets, k.src2dst_bytes, k.dst2src_packets, k.dst2src_bytes, k.end_reason];
    assert.equal(lines[i].split(',').slice(0, RECORD_KEY_COLUMNS.length), expect.map(String), `CSV row ${i}`);
    assert.equal(RECORD_KEY_COLUMNS.map((c) => objects[i][c]), expect, `JSON row ${i}`);
  });
});

test.run();
