/**
 * The flow engine, driven through the ring with hand-built packets: canonical bidirectional keys and the
 * initiator, every way a flow ends (fin, rst, idle, unanswered, active, interim, eviction, flush), and a set of
 * features computed by hand (sizes, inter-arrival times, flags, windows, DNS, host windows with decay).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawCore, type Frame } from './helpers/raw-core.ts';
import { ethernet, ipv4, ipv6, tcp, udp, icmp, dnsQuery, shannon, concat, hex } from './helpers/frames.ts';
import { FEATURE_NAMES, END_REASONS, featureIndex } from '../core/schema.ts';
import { KEY_RECORD, KEY_FLAG_INTERIM } from '../core/abi.ts';

const T0 = 1_700_000_000_000;
const ETH_IPV4 = 0x0800;
const LINKTYPE_ETHERNET = 1;
const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

interface Row {
  src: string; dst: string; sport: number; dport: number; proto: number; ipVersion: number;
  reason: string; interim: boolean; vlan: number; seq: number; first: number; last: number;
  s2dPackets: number; s2dBytes: number; d2sPackets: number; d2sBytes: number;
  f: (name: string) => number;
}

function addr(b: Uint8Array): string {
  const v4 = b.subarray(0, 12).every((x, i) => x === (i >= 10 ? 0xff : 0));
  if (v4) return Array.from(b.subarray(12)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16)).join(':');
}

/** A core whose output rows are collected (not discarded) whenever process() needs room, and on demand. */
class FlowCore {
  rows: Row[] = [];
  private constructor(readonly core: RawCore) {
    core.drain = () => this.collect();
  }
  static async load(opts: { maxFlows?: number; maxHosts?: number; maxOut?: number } = {}, cfg: Record<string, number> = {}): Promise<FlowCore> {
    const core = await RawCore.load({ maxOut: 64, ...opts });
    const fc = new FlowCore(core);
    for (const [k, v] of Object.entries(cfg)) assert.is(fc.configure(k, v), 0, `configure ${k}`);
    return fc;
  }
  get x(): Record<string, any> { return this.core.exports as any; }
  configure(key: string, value: number): number {
    return this.x.configure(this.x[key].value, value);
  }
  collect(): number {
    const n = this.x.outRows();
    const mem = this.core.memory.buffer;
    const nf = this.x.numFeatures();
    const feats = new Float32Array(mem, this.x.outFeaturesPtr(), n * nf);
    const keys = new DataView(mem, this.x.outKeysPtr(), n * KEY_RECORD.bytes);
    const bytes = new Uint8Array(mem, this.x.outKeysPtr(), n * KEY_RECORD.bytes);
    const k = KEY_RECORD.offset;
    for (let r = 0; r < n; r++) {
      const o = r * KEY_RECORD.bytes;
      const row = Array.from(feats.subarray(r * nf, (r + 1) * nf));
      this.rows.push({
        src: addr(bytes.subarray(o + k.src, o + k.src + 16)), dst: addr(bytes.subarray(o + k.dst, o + k.dst + 16)),
        sport: keys.getUint16(o + k.src_port, true), dport: keys.getUint16(o + k.dst_port, true),
        proto: keys.getUint8(o + k.protocol), ipVersion: keys.getUint8(o + k.ip_version),
        reason: END_REASONS[keys.getUint8(o + k.end_reason)], interim: (keys.getUint8(o + k.flags) & KEY_FLAG_INTERIM) !== 0,
        vlan: keys.getUint16(o + k.vlan_id, true), seq: keys.getUint32(o + k.flow_seq, true),
        first: keys.getFloat64(o + k.first_seen_ms, true), last: keys.getFloat64(o + k.last_seen_ms, true),
        s2dPackets: keys.getFloat64(o + k.src2dst_packets, true), s2dBytes: keys.getFloat64(o + k.src2dst_bytes, true),
        d2sPackets: keys.getFloat64(o + k.dst2src_packets, true), d2sBytes: keys.getFloat64(o + k.dst2src_bytes, true),
        f: (name: string) => row[featureIndex(name)],
      });
    }
    this.x.clearOut();
    return n;
  }
  push(frames: Frame[]): this {
    this.core.pushPackets(frames);
    this.collect();
    return this;
  }
  advance(ms: number): this {
    this.collect();
    while (this.x.advance(ms) > 0) this.collect();
    this.collect();
    return this;
  }
  flush(reason: 'end_of_input' | 'shutdown' = 'end_of_input'): this {
    this.collect();
    while (this.x.flush(END_REASONS.indexOf(reason)) > 0) this.collect();
    this.collect();
    return this;
  }
  counter(name: Parameters<RawCore['counter']>[0]): number { return this.core.counter(name); }
}

const A = '10.0.0.1', B = '10.0.0.2', C = '10.0.0.3';

function tcpPkt(ts: number, src: string, dst: string, sport: number, dport: number, flags: number,
  o: { payload?: number; window?: number; options?: Uint8Array } = {}): Frame {
  const payload = new Uint8Array(o.payload ?? 0);
  return { ts, linktype: LINKTYPE_ETHERNET, data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 6 }, tcp({ sport, dport, flags, window: o.window, options: o.options }, payload))) };
}
function udpPkt(ts: number, src: string, dst: string, sport: number, dport: number, payload: Uint8Array | number = 0): Frame {
  const p = typeof payload === 'number' ? new Uint8Array(payload) : payload;
  return { ts, linktype: LINKTYPE_ETHERNET, data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 17 }, udp(sport, dport, p))) };
}
function icmpPkt(ts: number, src: string, dst: string, type: number): Frame {
  return { ts, linktype: LINKTYPE_ETHERNET, data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 1 }, icmp(type, 0))) };
}
/** A full TCP conversation A:40000 → B:80 starting at t: handshake, one request, one response, FINs. */
function handshake(t: number, sport = 40000): Frame[] {
  return [
    tcpPkt(t, A, B, sport, 80, SYN),
    tcpPkt(t + 1, B, A, 80, sport, SYN | ACK),
    tcpPkt(t + 2, A, B, sport, 80, ACK),
  ];
}

function mean(xs: number[]): number { return xs.reduce((a, b) => a + b, 0) / xs.length; }
function pstd(xs: number[]): number { const m = mean(xs); return Math.sqrt(mean(xs.map((x) => (x - m) ** 2))); }
function close(actual: number, expected: number, tol = 1e-4, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} ≠ ${expected}`);
}

test('ABI: init once, sizes, schema', async () => {
  const fc = await FlowCore.load();
  assert.is(fc.x.init(16, 16, 1 << 16, 16), -1, 'second init refused');
  assert.is(fc.x.numFeatures(), FEATURE_NAMES.length);
  assert.is(fc.x.keyRecordBytes(), KEY_RECORD.bytes);
  const perFlow = fc.x.flowSlotBytes();
  assert.ok(perFlow > 0 && perFlow <= 600, `bytes per flow ${perFlow}`);
  assert.is(fc.configure('CFG_EMERGENCY_FACTOR', 2), -1, 'factor > 1 refused');
  assert.is(fc.configure('CFG_TCP_IDLE_S', -1), -1, 'negative refused');
  assert.is(fc.x.configure(99, 1), -1, 'unknown key refused');
  assert.is(fc.x.flush(0), -1, 'flush only with end_of_input or shutdown');
});

test('both directions map to one flow; the initiator is the first sender', async () => {
  const fc = await FlowCore.load();
  const frames = [
    ...handshake(T0),
    tcpPkt(T0 + 3, A, B, 40000, 80, PSH | ACK, { payload: 100 }),
    tcpPkt(T0 + 4, B, A, 80, 40000, PSH | ACK, { payload: 300 }),
  ];
  fc.push(frames).flush();
  assert.is(fc.rows.length, 1);
  const r = fc.rows[0];
  assert.equal([r.src, r.sport, r.dst, r.dport, r.proto, r.ipVersion], [A, 40000, B, 80, 6, 4]);
  assert.is(r.reason, 'end_of_input');
  assert.is(r.s2dPackets, 3);
  assert.is(r.d2sPackets, 2);
  assert.is(r.s2dBytes, 40 + 40 + 140); // IP total lengths
  assert.is(r.d2sBytes, 40 + 340);
  assert.is(r.first, T0);
  assert.is(r.last, T0 + 4);
  assert.is(r.f('duration_ms'), 4);
  assert.is(r.f('dst_port'), 80);
});

test('a SYN-ACK seen first: its receiver is the initiator', async () => {
  const fc = await FlowCore.load();
  fc.push([tcpPkt(T0, B, A, 80, 40000, SYN | ACK), tcpPkt(T0 + 1, A, B, 40000, 80, ACK)]).flush();
  assert.is(fc.rows.length, 1);
  const r = fc.rows[0];
  assert.equal([r.src, r.sport, r.dst, r.dport], [A, 40000, B, 80]);
  assert.is(r.s2dPackets, 1);
  assert.is(r.d2sPackets, 1);
});

test('VLAN id is part of the key', async () => {
  const fc = await FlowCore.load();
  const tagged = (id: number, f: Frame): Frame => ({ ...f, data: concat(f.data.subarray(0, 12), hex('8100'), Uint8Array.of(0, id), f.data.subarray(12)) });
  fc.push([udpPkt(T0, A, B, 5000, 53, 10), tagged(7, udpPkt(T0 + 1, A, B, 5000, 53, 10)), tagged(7, udpPkt(T0 + 2, B, A, 53, 5000, 10))]).flush();
  assert.is(fc.rows.length, 2);
  const v7 = fc.rows.find((r) => r.vlan === 7)!;
  assert.is(v7.s2dPackets + v7.d2sPackets, 2);
  assert.is(fc.rows.find((r) => r.vlan === 0)!.s2dPackets, 1);
});

test('FIN from both sides ends the flow `fin` after the linger, trailing ACK included', async () => {
  const fc = await FlowCore.load();
  fc.push([
    ...handshake(T0),
    tcpPkt(T0 + 10, A, B, 40000, 80, FIN | ACK),
    tcpPkt(T0 + 11, B, A, 80, 40000, FIN | ACK),
    tcpPkt(T0 + 12, A, B, 40000, 80, ACK), // trailing ACK: still this flow
  ]);
  assert.is(fc.rows.length, 0, 'lingering, not yet emitted');
  fc.advance(T0 + 12 + 999);
  assert.is(fc.rows.length, 0, 'linger is 1 s');
  fc.advance(T0 + 12 + 1000);
  assert.is(fc.rows.length, 1);
  const r = fc.rows[0];
  assert.is(r.reason, 'fin');
  assert.is(r.s2dPackets, 4);
  assert.is(r.d2sPackets, 2);
  assert.is(r.f('bidirectional_fin_packets'), 2);
});

test('RST ends the flow `rst`; a new SYN on a closed key starts a new flow at once', async () => {
  const fc = await FlowCore.load();
  fc.push([...handshake(T0), tcpPkt(T0 + 5, B, A, 80, 40000, RST | ACK)]);
  fc.push([tcpPkt(T0 + 100, A, B, 40000, 80, SYN)]);
  assert.is(fc.rows.length, 1, 'old flow emitted immediately by the new SYN');
  assert.is(fc.rows[0].reason, 'rst');
  assert.is(fc.rows[0].s2dPackets + fc.rows[0].d2sPackets, 4);
  assert.is(fc.rows[0].f('dst2src_rst_packets'), 1);
  fc.advance(T0 + 100 + 3000);
  assert.is(fc.rows.length, 2);
  assert.is(fc.rows[1].reason, 'unanswered');
  assert.is(fc.rows[1].s2dPackets, 1);
  assert.ok(fc.rows[1].seq !== fc.rows[0].seq, 'new flow, new sequence number');
});

test('idle timeouts per protocol in packet time (UDP 60 s, TCP 120 s, ICMP 30 s)', async () => {
  const fc = await FlowCore.load();
  fc.push([
    udpPkt(T0, A, B, 5000, 9999, 10), udpPkt(T0 + 1, B, A, 9999, 5000, 10),
    ...handshake(T0),
    icmpPkt(T0, A, C, 8), icmpPkt(T0 + 1, C, A, 0),
  ].sort((a, b) => a.ts - b.ts));
  fc.advance(T0 + 29_999);
  assert.is(fc.rows.length, 0);
  fc.advance(T0 + 30_001);
  assert.equal(fc.rows.map((r) => [r.proto, r.reason]), [[1, 'idle']]);
  fc.advance(T0 + 60_000);
  assert.equal(fc.rows.map((r) => [r.proto, r.reason]), [[1, 'idle']]);
  fc.advance(T0 + 60_001);
  assert.equal(fc.rows.map((r) => [r.proto, r.reason]), [[1, 'idle'], [17, 'idle']]);
  fc.advance(T0 + 120_001);
  assert.is(fc.rows.length, 2);
  fc.advance(T0 + 120_002);
  assert.equal(fc.rows.map((r) => [r.proto, r.reason]), [[1, 'idle'], [17, 'idle'], [6, 'idle']]);
  assert.is(fc.rows[2].s2dPackets, 2);
});

test('expiry also runs from packet time: a packet after the idle timeout starts a new flow', async () => {
  const fc = await FlowCore.load({}, { CFG_UDP_IDLE_S: 5 });
  fc.push([udpPkt(T0, A, B, 5000, 9999, 10), udpPkt(T0 + 1, B, A, 9999, 5000, 10), udpPkt(T0 + 6000, A, B, 5000, 9999, 10)]);
  assert.is(fc.rows.length, 1);
  assert.is(fc.rows[0].reason, 'idle');
  assert.is(fc.rows[0].s2dPackets + fc.rows[0].d2sPackets, 2);
  fc.flush('shutdown');
  assert.is(fc.rows[1].reason, 'shutdown');
  assert.is(fc.rows[1].s2dPackets, 1);
});

test('unanswered after 3 s: no reply, or a half-open handshake; an established flow stays', async () => {
  const fc = await FlowCore.load();
  fc.push([
    tcpPkt(T0, A, B, 1000, 22, SYN), // no reply
    tcpPkt(T0, A, B, 1001, 23, SYN), tcpPkt(T0 + 1, B, A, 23, 1001, SYN | ACK), // half-open
    ...handshake(T0, 1002), // established
    udpPkt(T0, A, C, 7, 161, 20), // UDP, no reply
  ].sort((a, b) => a.ts - b.ts));
  fc.advance(T0 + 2_999);
  assert.is(fc.rows.length, 0);
  fc.advance(T0 + 3_001);
  const got = fc.rows.map((r) => `${r.proto}/${r.dport}/${r.reason}`).sort();
  assert.equal(got, ['17/161/unanswered', '6/22/unanswered', '6/23/unanswered']);
  const noReply = fc.rows.find((r) => r.dport === 22)!;
  assert.is(noReply.f('dst2src_init_win_bytes'), -1, 'responder sent no TCP packet');
  assert.is(noReply.f('src2dst_init_win_bytes'), 64240);
  assert.is(noReply.f('src2dst_tcp_mss'), 0, 'no MSS option');
  assert.is(noReply.f('src2dst_tcp_wscale'), -1, 'no window-scale option');
  fc.flush();
  assert.is(fc.rows[3].dport, 80);
  assert.is(fc.rows[3].reason, 'end_of_input');
});

test('active timeout: the record ends `active`, a fresh one continues; counts add up', async () => {
  const fc = await FlowCore.load({}, { CFG_ACTIVE_S: 10 });
  const frames: Frame[] = [];
  for (let s = 0; s < 25; s++) frames.push(udpPkt(T0 + s * 1000, A, B, 5000, 6000, 50), udpPkt(T0 + s * 1000 + 10, B, A, 6000, 5000, 70));
  fc.push(frames).flush();
  assert.equal(fc.rows.map((r) => r.reason), ['active', 'active', 'end_of_input']);
  assert.equal(fc.rows.map((r) => r.first), [T0, T0 + 10_000, T0 + 20_000]);
  assert.is(fc.rows.reduce((n, r) => n + r.s2dPackets + r.d2sPackets, 0), 50);
  assert.is(fc.rows[0].s2dPackets, 10);
  assert.ok(fc.rows.every((r) => r.src === A), 'initiator kept across records');
});

test('interim rows: flag set, flow continues, counters keep accumulating', async () => {
  const fc = await FlowCore.load({}, { CFG_INTERIM_S: 5 });
  const frames: Frame[] = [];
  for (let s = 0; s <= 12; s++) frames.push(udpPkt(T0 + s * 1000, A, B, 5000, 6000, 50), udpPkt(T0 + s * 1000 + 5, B, A, 6000, 5000, 50));
  fc.push(frames).flush();
  assert.equal(fc.rows.map((r) => [r.reason, r.interim]), [['interim', true], ['interim', true], ['end_of_input', false]]);
  assert.equal(fc.rows.map((r) => r.s2dPackets), [6, 11, 13]);
  assert.ok(fc.rows.every((r) => r.seq === fc.rows[0].seq && r.first === T0), 'same flow record');
});

test('tiny table: emergency mode, then eviction of the least recently seen; no crash, memory fixed', async () => {
  const fc = await FlowCore.load({ maxFlows: 8, maxHosts: 4, maxOut: 16 });
  const mem0 = fc.core.memoryBytesAfterInit;
  const frames: Frame[] = [];
  for (let i = 0; i < 200; i++) frames.push(udpPkt(T0 + i, `10.1.${i >> 8}.${i & 255}`, B, 1000 + i, 53, 10));
  fc.push(frames);
  assert.ok(fc.counter('flow.emergency_mode') >= 1, 'emergency counted');
  assert.ok(fc.counter('flow.evicted') >= 150, `evicted ${fc.counter('flow.evicted')}`);
  // host table bounded too: each new client host takes an idle host's slot or, all pinned, goes without
  assert.ok(fc.counter('flow.host_table_full') + fc.counter('flow.host_evicted') >= 150, 'host table bounded too');
  const evicted = fc.rows.filter((r) => r.reason === 'eviction');
  assert.is(evicted.length, fc.counter('flow.evicted'));
  // least recently seen goes first: evicted flows come out in arrival order
  const ports = evicted.map((r) => r.sport);
  assert.equal(ports, [...ports].sort((a, b) => a - b));
  fc.flush();
  assert.is(fc.rows.length, 200, 'every flow emitted exactly once');
  assert.is(new Set(fc.rows.map((r) => r.sport)).size, 200);
  assert.is(fc.core.memory.buffer.byteLength, mem0, 'memory never grows after init');
});

test('emergency timeouts: shorter timeouts while ≥ 95 % full', async () => {
  const fc = await FlowCore.load({ maxFlows: 20 });
  const frames: Frame[] = [];
  // 19 answered UDP flows (95 %): UDP idle 60 s × 0.1 = 6 s in emergency
  for (let i = 0; i < 19; i++) frames.push(udpPkt(T0, A, B, 2000 + i, 9, 10), udpPkt(T0 + 1, B, A, 9, 2000 + i, 10));
  fc.push(frames);
  assert.is(fc.counter('flow.emergency_mode'), 1);
  fc.advance(T0 + 6_002);
  assert.ok(fc.rows.length >= 1 && fc.rows.every((r) => r.reason === 'idle'), `rows ${fc.rows.length}`);
  assert.is(fc.counter('flow.evicted'), 0);
});

test('out-of-order timestamps are counted and treated as now', async () => {
  const fc = await FlowCore.load();
  fc.push([udpPkt(T0 + 1000, A, B, 1, 2, 10), udpPkt(T0, B, A, 2, 1, 10)]).flush();
  assert.is(fc.counter('flow.out_of_order_ts'), 1);
  assert.is(fc.rows[0].first, T0 + 1000);
  assert.is(fc.rows[0].last, T0 + 1000);
});

test('features: sizes, inter-arrival times, flags, windows, options, headers, payload', async () => {
  const fc = await FlowCore.load();
  const mssWs = hex('020405b4 01 030307'); // MSS 1460, NOP, window scale 7
  const frames = [
    tcpPkt(T0, A, B, 40000, 443, SYN, { window: 64240, options: concat(mssWs, hex('00 00 00')) }), // 48 bytes header... padded below
  ];
  // options must be a multiple of 4 bytes: 4 + 1 + 3 = 8 bytes
  frames[0] = tcpPkt(T0, A, B, 40000, 443, SYN, { window: 64240, options: mssWs });
  frames.push(
    tcpPkt(T0 + 2, B, A, 443, 40000, SYN | ACK, { window: 65160 }),
    tcpPkt(T0 + 5, A, B, 40000, 443, ACK, { window: 502 }),
    tcpPkt(T0 + 9, A, B, 40000, 443, PSH | ACK, { payload: 200 }),
    tcpPkt(T0 + 30, B, A, 443, 40000, PSH | ACK, { payload: 1000 }),
    tcpPkt(T0 + 31, B, A, 443, 40000, ACK | 0x20 /* URG */, { payload: 10 }),
    tcpPkt(T0 + 40, A, B, 40000, 443, FIN | ACK),
  );
  fc.push(frames).flush();
  const r = fc.rows[0];
  const times = [0, 2, 5, 9, 30, 31, 40];
  const s2dIdx = [0, 2, 3, 6], d2sIdx = [1, 4, 5];
  const sizes = [48, 40, 40, 240, 1040, 50, 40];
  const pick = (xs: number[], idx: number[]) => idx.map((i) => xs[i]);
  const diffs = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]);
  for (const [dir, idx] of [['bidirectional', [0, 1, 2, 3, 4, 5, 6]], ['src2dst', s2dIdx], ['dst2src', d2sIdx]] as const) {
    const ps = pick(sizes, idx as number[]);
    close(r.f(`${dir}_min_ps`), Math.min(...ps), 1e-6, `${dir} min ps`);
    close(r.f(`${dir}_max_ps`), Math.max(...ps), 1e-6, `${dir} max ps`);
    close(r.f(`${dir}_mean_ps`), mean(ps), 1e-6, `${dir} mean ps`);
    close(r.f(`${dir}_stddev_ps`), pstd(ps), 1e-5, `${dir} std ps`);
    const iat = diffs(pick(times, idx as number[]));
    close(r.f(`${dir}_min_piat_ms`), Math.min(...iat), 1e-6, `${dir} min iat`);
    close(r.f(`${dir}_max_piat_ms`), Math.max(...iat), 1e-6, `${dir} max iat`);
    close(r.f(`${dir}_mean_piat_ms`), mean(iat), 1e-6, `${dir} mean iat`);
    close(r.f(`${dir}_stddev_piat_ms`), pstd(iat), 1e-5, `${dir} std iat`);
  }
  assert.is(r.f('bidirectional_packets'), 7);
  assert.is(r.f('bidirectional_bytes'), sizes.reduce((a, b) => a + b));
  assert.is(r.f('src2dst_syn_packets'), 1);
  assert.is(r.f('dst2src_syn_packets'), 1);
  assert.is(r.f('bidirectional_ack_packets'), 6);
  assert.is(r.f('src2dst_psh_packets'), 1);
  assert.is(r.f('bidirectional_psh_packets'), 2);
  assert.is(r.f('dst2src_urg_packets'), 1);
  assert.is(r.f('src2dst_fin_packets'), 1);
  assert.is(r.f('bidirectional_rst_packets'), 0);
  assert.is(r.f('src2dst_init_win_bytes'), 64240);
  assert.is(r.f('dst2src_init_win_bytes'), 65160);
  assert.is(r.f('src2dst_tcp_mss'), 1460);
  assert.is(r.f('src2dst_tcp_wscale'), 7);
  assert.is(r.f('src2dst_header_bytes'), 48 + 40 + 40 + 40);
  assert.is(r.f('dst2src_header_bytes'), 40 * 3);
  assert.is(r.f('src2dst_payload_bytes'), 200);
  assert.is(r.f('dst2src_payload_bytes'), 1010);
  assert.is(r.f('src2dst_data_packets'), 1);
  assert.is(r.f('dst2src_data_packets'), 2);
  close(r.f('bidirectional_packets_per_s'), 7 / 0.040, 1e-6, 'pps');
  close(r.f('dst2src_src2dst_bytes_ratio'), (40 + 1040 + 50) / (48 + 40 + 240 + 40), 1e-6, 'ratio');
  assert.is(r.f('icmp_type'), -1);
  assert.is(r.f('dns_rcode'), -1);
  assert.is(r.f('ip_version'), 4);
  assert.is(r.f('protocol'), 6);
});

test('features: active and idle periods split at the 5 s activity gap', async () => {
  const fc = await FlowCore.load();
  // bursts: 0..2 s, gap 6 s, 8..8.5 s, gap 10 s, 18.5..21.5 s
  const ts = [0, 1000, 2000, 8000, 8500, 18500, 20000, 21500];
  fc.push(ts.map((t, i) => (i % 2 ? udpPkt(T0 + t, B, A, 2, 1, 10) : udpPkt(T0 + t, A, B, 1, 2, 10)))).flush();
  assert.is(fc.rows.length, 1);
  const r = fc.rows[0];
  const active = [2000, 500, 3000], idle = [6000, 10000];
  close(r.f('active_min_ms'), 500, 1e-6, 'active min');
  close(r.f('active_max_ms'), 3000, 1e-6, 'active max');
  close(r.f('active_mean_ms'), mean(active), 1e-6, 'active mean');
  close(r.f('active_stddev_ms'), pstd(active), 1e-5, 'active std');
  close(r.f('idle_mean_ms'), mean(idle), 1e-6, 'idle mean');
  close(r.f('idle_stddev_ms'), pstd(idle), 1e-5, 'idle std');
});

test('features: ICMP type/code and DNS fields', async () => {
  const fc = await FlowCore.load();
  const name = 'a1b2c3.example.com';
  fc.push([
    icmpPkt(T0, A, C, 8), icmpPkt(T0 + 1, C, A, 0),
    udpPkt(T0, A, B, 53000, 53, dnsQuery(name, 16)),
    udpPkt(T0 + 1, B, A, 53, 53000, dnsQuery(name, 16, { response: true, rcode: 3, ancount: 2 })),
    udpPkt(T0 + 2, A, B, 53000, 53, dnsQuery('x.org', 1)),
  ]).flush();
  const ic = fc.rows.find((r) => r.proto === 1)!;
  assert.is(ic.f('icmp_type'), 8);
  assert.is(ic.f('icmp_code'), 0);
  const d = fc.rows.find((r) => r.proto === 17)!;
  assert.is(d.f('dns_queries'), 2);
  assert.is(d.f('dns_responses'), 1);
  assert.is(d.f('dns_qtype'), 16);
  assert.is(d.f('dns_rcode'), 3);
  assert.is(d.f('dns_answers'), 2);
  assert.is(d.f('dns_qname_len'), name.length);
  assert.is(d.f('dns_qname_labels'), 3);
  assert.is(d.f('dns_qname_max_label_len'), 7);
  close(d.f('dns_qname_entropy'), shannon(name), 1e-5, 'entropy');
});

/** Host-window values travel as bfloat16 (features/host-snapshot.ts): 8 significant bits. */
const BF16 = 4e-3;

test('host windows: damped count halves per half-life; damped size mean/std; fan-out and failures', async () => {
  const fc = await FlowCore.load({}, { CFG_UNANSWERED_S: 1000, CFG_UDP_IDLE_S: 1000 });
  // A sends two packets (sizes 100 and 300 bytes of IP) to B:9 at T0 (1 ms apart: more than the snapshot
  // interval), then one of 100 bytes to C:9 10 s later
  fc.push([udpPkt(T0, A, B, 1, 9, 100 - 28), udpPkt(T0 + 1, A, B, 1, 9, 300 - 28)]);
  fc.push([udpPkt(T0 + 10_000, A, C, 2, 9, 100 - 28)]);
  fc.advance(T0 + 20_000).flush();
  assert.is(fc.rows.length, 2);
  const first = fc.rows.find((r) => r.sport === 1)!;
  // as of its last packet (T0 + 1 ms), though written later and after A's next flow
  close(first.f('src_host_w1s_packets'), 2, BF16, 'own packets, undecayed');
  close(first.f('src_host_w10s_mean_ps'), 200, BF16, 'damped mean');
  close(first.f('src_host_w10s_stddev_ps'), 100, BF16, 'damped std');
  close(first.f('src_host_w10s_flows'), 1, BF16, 'flows');
  close(first.f('src_host_w10s_failed_flows'), 1, BF16, 'no reply: itself a failure');
  close(first.f('dst_host_w10s_packets'), 2, BF16, 'received');
  const r = fc.rows.find((x) => x.sport === 2)!;
  // A's first two packets, 10 s before this flow's packet, plus the packet itself
  close(r.f('src_host_w10s_packets'), 2 * 0.5 + 1, BF16, 'one half-life: half');
  close(r.f('src_host_w1s_packets'), 2 * 2 ** -10 + 1, BF16, 'ten half-lives');
  close(r.f('src_host_w100s_packets'), 2 * 2 ** -0.1 + 1, BF16, 'a tenth of a half-life');
  close(r.f('src_host_w10s_mean_ps'), (0.5 * 100 + 0.5 * 300 + 100) / 2, BF16, 'damped mean');
  const m = 150, sq = (0.5 * 100 ** 2 + 0.5 * 300 ** 2 + 100 ** 2) / 2;
  close(r.f('src_host_w10s_stddev_ps'), Math.sqrt(sq - m * m), BF16, 'damped std');
  close(r.f('src_host_w10s_flows'), 0.5 + 1, BF16, 'flows');
  close(r.f('src_host_w10s_dst_hosts'), 0.5 + 1, BF16, 'dst hosts');
  close(r.f('src_host_w10s_dst_ports'), 0.5 + 1, BF16, 'dst ports');
  close(r.f('src_host_w10s_failed_flows'), 1, BF16, 'itself; the first flow has not ended yet');
  close(r.f('dst_host_w10s_packets'), 1, BF16, 'received by C');
  close(r.f('dst_host_w10s_flows'), 1, BF16, 'flows towards C');
  close(r.f('dst_host_w10s_src_hosts'), 1, BF16, 'src hosts of C');
});

test('host windows: distinct destination hosts and ports counted once within the horizon', async () => {
  const fc = await FlowCore.load();
  const frames: Frame[] = [];
  for (let p = 1; p <= 20; p++) frames.push(tcpPkt(T0, A, B, 30000 + p, p, SYN)); // port scan of B
  frames.push(tcpPkt(T0, A, B, 31000, 5, SYN)); // port 5 again from another source port: not new
  frames.push(tcpPkt(T0, A, C, 31001, 5, SYN)); // new host
  fc.push(frames).advance(T0 + 3000);
  assert.is(fc.rows.length, 22);
  // as of each flow's own (only) packet at T0: no decay for the 3 s until they ended unanswered
  const last = fc.rows.find((r) => r.dst === C)!;
  close(last.f('src_host_w1s_flows'), 22, BF16, 'flows');
  close(last.f('src_host_w1s_dst_ports'), 21, BF16, 'distinct (host, port)');
  close(last.f('src_host_w1s_dst_hosts'), 2, BF16, 'distinct hosts');
  close(last.f('src_host_w1s_failed_flows'), 1, BF16, 'an unanswered SYN is a failure: itself');
  const toB = fc.rows.find((r) => r.sport === 31000)!;
  close(toB.f('dst_host_w1s_flows'), 21, BF16, 'flows towards B');
  close(toB.f('dst_host_w1s_src_hosts'), 1, BF16, 'one source host');
});

test('IPv6 flows keep their addresses', async () => {
  const fc = await FlowCore.load();
  const f = (ts: number, s: string, d: string, sp: number, dp: number): Frame => ({ ts, linktype: LINKTYPE_ETHERNET, data: ethernet(0x86dd, ipv6({ src: s, dst: d, next: 17 }, udp(sp, dp, new Uint8Array(12)))) });
  fc.push([f(T0, '2001:db8::1', '2001:db8::2', 1, 2), f(T0 + 1, '2001:db8::2', '2001:db8::1', 2, 1)]).flush();
  assert.is(fc.rows.length, 1);
  assert.is(fc.rows[0].src, '2001:db8:0:0:0:0:0:1');
  assert.is(fc.rows[0].ipVersion, 6);
  assert.is(fc.rows[0].s2dBytes, 60);
});

test('pair memory: a contact counts as new again only after the 300 s horizon', async () => {
  const fc = await FlowCore.load();
  fc.push([udpPkt(T0, A, B, 1, 9, 10), udpPkt(T0 + 1, B, A, 9, 1, 10)]);
  fc.push([udpPkt(T0 + 100_000, A, B, 2, 9, 10), udpPkt(T0 + 100_001, B, A, 9, 2, 10)]); // 100 s later: known
  fc.push([udpPkt(T0 + 401_000, A, B, 3, 9, 10), udpPkt(T0 + 401_001, B, A, 9, 3, 10)]); // 301 s after: new
  fc.flush();
  const bySport = new Map(fc.rows.map((r) => [r.sport, r]));
  const w100 = (sport: number) => bySport.get(sport)!.f('src_host_w100s_dst_hosts');
  const flows = (sport: number) => bySport.get(sport)!.f('src_host_w100s_flows');
  // two first contacts (t=0 and t=401 s) vs three flows: the one at t=100 s was not a first contact
  const at = (t: number) => 2 ** (-(401_001 - t) / 100_000);
  close(flows(3), at(0) + at(100_000) + at(401_000), BF16, 'flows');
  close(w100(3), at(0) + at(401_000), BF16, 'first contacts');
});

test('bounded work: flush and advance stop when the output is full and resume', async () => {
  const fc = await FlowCore.load({ maxOut: 3 });
  const frames: Frame[] = [];
  for (let i = 0; i < 10; i++) frames.push(udpPkt(T0, A, B, 100 + i, 9, 10));
  fc.push(frames);
  assert.is(fc.rows.length, 0);
  assert.is(fc.x.advance(T0 + 3000), 3, 'advance writes at most the free rows');
  assert.is(fc.x.advance(T0 + 3000), 0, 'nothing more until drained');
  fc.collect();
  fc.advance(T0 + 3000);
  assert.is(fc.rows.length, 10);
  assert.ok(fc.rows.every((r) => r.reason === 'unanswered'));
  for (let i = 0; i < 5; i++) frames[i] = udpPkt(T0 + 5000, A, B, 200 + i, 9, 10);
  fc.push(frames.slice(0, 5));
  assert.is(fc.x.flush(END_REASONS.indexOf('shutdown')), 3);
  fc.flush('shutdown');
  assert.is(fc.rows.length, 15);
  assert.is(fc.x.flush(END_REASONS.indexOf('shutdown')), 0, 'table empty');
});

test('expiry with many flows on one timeout list stays within 1/32 of the timeout', async () => {
  const fc = await FlowCore.load();
  const frames: Frame[] = [];
  // 40 answered UDP flows; each gets packets at staggered times so the list order drifts from last-seen order
  for (let i = 0; i < 40; i++) frames.push(udpPkt(T0 + i, A, B, 1000 + i, 9, 10), udpPkt(T0 + i, B, A, 9, 1000 + i, 10));
  for (let k = 1; k <= 30; k++) {
    const i = (k * 7) % 40;
    frames.push(udpPkt(T0 + 40 + k * 97, A, B, 1000 + i, 9, 10));
  }
  fc.push(frames.sort((a, b) => a.ts - b.ts));
  const emittedAt = new Map<number, number>();
  for (let t = T0 + 59_000; t <= T0 + 66_000; t += 50) {
    fc.advance(t);
    for (const r of fc.rows) if (!emittedAt.has(r.sport)) emittedAt.set(r.sport, t);
  }
  assert.is(fc.rows.length, 40);
  for (const r of fc.rows) {
    const late = emittedAt.get(r.sport)! - (r.last + 60_000);
    assert.ok(late >= 0 && late <= 60_000 / 32 + 50, `flow ${r.sport}: ${late} ms after its timeout`);
    assert.is(r.reason, 'idle');
  }
});

test('statistics: flows created and active, hosts active', async () => {
  const fc = await FlowCore.load();
  fc.push([udpPkt(T0, A, B, 1, 9, 10), udpPkt(T0, A, C, 1, 9, 10), udpPkt(T0, B, A, 9, 1, 10)]);
  assert.is(fc.core.stat(2), 2, 'created');
  assert.is(fc.core.stat(3), 2, 'active');
  assert.is(fc.core.stat(5), 3, 'hosts');
  fc.flush();
  assert.is(fc.core.stat(3), 0, 'active after flush');
  assert.is(fc.core.stat(4), 2, 'rows emitted');
});

test.run();
