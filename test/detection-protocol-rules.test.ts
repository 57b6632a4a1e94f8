/**
 * Evidence from protocol violations (detection/rules.ts), which no conforming stack produces:
 * - fingerprint probes: a TCP initiator that never set ACK but set FIN, or set none of SYN/ACK/RST; ICMP timestamp,
 *   information and address mask requests. Two from one source are a scan episode however few ports they touch; one
 *   is not.
 * - hidden options: data in IPv6 options of unassigned types (assembly/decode/ipv6-options.ts), in at least
 *   HIDDEN_OPTION_PACKETS packets of a flow: a covert channel, `tunnel` evidence.
 * First on rows and frames built by hand, then on a capture made by nmap, hping3 and THC's covert_send6 between network
 * namespaces of this test, replayed through `netsensor detect --alerts` (what a subscriber of netsensor/v1/alerts/#
 * would receive).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HIDDEN_OPTION_PACKETS } from '../core/abi.ts';
import { FlowCore, type FlowBatch } from '../core/host.ts';
import { NUM_FEATURES, featureIndex } from '../core/schema.ts';
import { KeyRows } from '../sensor/key-rows.ts';
import { concat, ethernet, icmp, ipv6 } from './helpers/frames.ts';
import { EpisodeTracker, type EpisodeChange } from '../detection/episodes.ts';
import type { FlowVerdict } from '../detection/evidence.ts';
import { ruleCandidate } from '../detection/rules.ts';
import { waitForOutput } from './helpers/child-output.ts';
import { detectAlerts, finishCapture } from './helpers/detect-alerts.ts';
import { createNetnsPair, netnsNames } from './helpers/netns.ts';
import { withTools } from './helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'netsensor-probes-'));
const T0 = 1_700_000_000_000;
let idn = 0;
const ids = () => `0190a000-0000-7000-8000-${String(++idn).padStart(12, '0')}`;

type Flags = Partial<Record<'syn' | 'ack' | 'rst' | 'fin' | 'psh' | 'urg', number>>;
interface Spec { src?: string; dst?: string; sport?: number; dport: number; proto?: number; t: number; s2d?: Flags; packets?: number; fragments?: number }

/** A flow the model calls benign (no alertClass): only the rules can make evidence of it. */
function flow(s: Spec): FlowVerdict {
  const row = new Float32Array(NUM_FEATURES);
  const packets = s.packets ?? 1;
  row[featureIndex('src2dst_packets')] = packets;
  row[featureIndex('bidirectional_packets')] = packets + 1;
  row[featureIndex('ip_fragments')] = s.fragments ?? 0;
  for (const [flag, n] of Object.entries(s.s2d ?? {})) row[featureIndex(`src2dst_${flag}_packets`)] = n;
  return {
    flow: {
      src_ip: s.src ?? '10.0.0.66', src_port: s.sport ?? 40000, dst_ip: s.dst ?? '10.0.0.10', dst_port: s.dport, proto: s.proto ?? 6, vlan: 0,
      first_seen_ms: s.t - 1, last_seen_ms: s.t, end_reason: 'rst',
      src2dst_packets: packets, src2dst_bytes: 40 * packets, dst2src_packets: 1, dst2src_bytes: 40,
    },
    interim: false, row, alertClass: undefined, score: 0, classThreshold: 0.5, anomaly: 0.1, top: [],
  };
}

const candidate = (v: FlowVerdict) => ruleCandidate(v.flow.proto, v.flow.src_port, v.flow.dst_port, v.flow.src2dst_packets,
  v.flow.src2dst_bytes, v.flow.dst2src_packets, v.flow.dst2src_bytes, v.flow.last_seen_ms - v.flow.first_seen_ms, v.row, v.hiddenOptions ?? false);

test('probe shapes: FIN, Xmas, SYN+FIN, NULL, URG-only, ICMP 13/15/17 are probes; real connections, fragments and other ICMP are not', () => {
  const probes: Array<[string, Spec]> = [
    ['FIN', { dport: 1, t: T0, s2d: { fin: 1 } }],
    ['Xmas', { dport: 2, t: T0, s2d: { fin: 1, psh: 1, urg: 1 } }],
    ['SYN+FIN', { dport: 3, t: T0, s2d: { syn: 1, fin: 1 } }],
    ['NULL', { dport: 4, t: T0, s2d: {} }],
    ['URG only', { dport: 5, t: T0, s2d: { urg: 1 } }],
    ['ICMP timestamp', { proto: 1, dport: 13 * 256, t: T0 }],
    ['ICMP information', { proto: 1, dport: 15 * 256, t: T0 }],
    ['ICMP address mask', { proto: 1, dport: 17 * 256, t: T0 }],
  ];
  for (const [name, s] of probes) assert.ok(candidate(flow(s)), name);
  const ordinary: Array<[string, Spec]> = [
    ['connection closed with FIN', { dport: 80, t: T0, packets: 6, s2d: { syn: 1, ack: 5, fin: 1, psh: 2 } }],
    ['picked up mid-stream', { dport: 443, t: T0, packets: 9, s2d: { ack: 9, psh: 4, fin: 1 } }],
    ['a lone SYN', { dport: 22, t: T0, s2d: { syn: 1 } }],
    ['a SYN answered and reset', { dport: 22, t: T0, packets: 2, s2d: { syn: 1, rst: 1 } }],
    ['a RST without ACK', { dport: 8080, t: T0, s2d: { rst: 1 } }],
    ['an ACK probe (answered by RST: the ACK scan is the model\'s)', { dport: 80, t: T0, s2d: { ack: 1 } }],
    ['a fragmented flow (flags unknown)', { dport: 80, t: T0, s2d: {}, fragments: 2 }],
    ['fragments without a TCP header (ports 0/0)', { sport: 0, dport: 0, t: T0, s2d: {} }],
    ['ICMP echo', { proto: 1, dport: 8 * 256, t: T0 }],
    ['ICMP port unreachable', { proto: 1, dport: 3 * 256 + 3, t: T0 }],
    ['ICMPv6 type 13 (not a timestamp request)', { proto: 58, dport: 13 * 256, t: T0 }],
  ];
  for (const [name, s] of ordinary) assert.not.ok(candidate(flow(s)), name);
});

test('one probe is no episode; two from one source open a scan episode (two ports of one host); two from two sources open nothing', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out: EpisodeChange[] = [];
  out.push(...tr.observe(flow({ src: '10.0.0.66', dport: 3390, t: T0, s2d: { fin: 1 } })));
  out.push(...tr.observe(flow({ src: '10.0.0.77', dport: 3391, t: T0 + 5_000, s2d: {} })));
  out.push(...tr.observe(flow({ src: '10.0.0.88', proto: 1, dport: 13 * 256, t: T0 + 6_000 })));
  // ordinary traffic between them changes nothing
  for (let i = 0; i < 20; i++) out.push(...tr.observe(flow({ src: '10.0.0.66', dport: 443, t: T0 + 7_000 + i, packets: 8, s2d: { syn: 1, ack: 7, fin: 1 } })));
  assert.equal(out, [], 'a single probe per source');
  // the first source's second probe, 40 s after its first (nmap -O spreads its probes over seconds)
  out.push(...tr.observe(flow({ src: '10.0.0.66', dport: 3392, t: T0 + 40_000, s2d: { fin: 1, psh: 1, urg: 1 } })));
  assert.is(out.length, 1);
  const open = out[0]!;
  assert.is(`${open.state}:${open.track.family}:${open.track.role}:${open.track.actor}`, 'open:scan:src:10.0.0.66');
  assert.is(open.track.probes, 2);
  assert.is(open.track.flows, 2);
  assert.equal([...open.track.ports].sort(), [3390, 3392]);
  // the other sources stay below: their single probes were not merged into anyone's
  const closed = tr.closeAll();
  assert.equal(closed.map((c) => c.track.actor), ['10.0.0.66']);
});

test('two probes far apart (the track forgotten in between) are two single probes', () => {
  const tr = new EpisodeTracker({ newId: ids });
  const out = [...tr.observe(flow({ dport: 1, t: T0, s2d: { fin: 1 } }))];
  // a scan track is forgotten after 4 half-lives (4 min) of quiet; an hour later the second probe starts afresh
  out.push(...tr.expire(T0 + 3_600_000, true));
  out.push(...tr.observe(flow({ dport: 2, t: T0 + 3_600_000, s2d: { fin: 1 } })));
  assert.equal(out, []);
});

// ---- hidden options, at the core's boundary ----------------------------------------------------------------------

/** A destination options header (next = ICMPv6) holding `options` (type, data) and padded to 8-byte units. */
function dstOpts(options: Array<[number, Uint8Array]>): Uint8Array {
  const body = concat(...options.map(([t, d]) => (t === 0 ? Uint8Array.of(0) : concat(Uint8Array.of(t, d.length), d))));
  const total = Math.ceil((2 + body.length) / 8) * 8;
  const pad = total - 2 - body.length;
  const padding = pad === 0 ? new Uint8Array(0) : pad === 1 ? Uint8Array.of(0) : concat(Uint8Array.of(1, pad - 2), new Uint8Array(pad - 2));
  return concat(Uint8Array.of(58, total / 8 - 1), body, padding);
}
const echo6 = (src: string, ext: Uint8Array | undefined, seq: number) => {
  const msg = icmp(128, 0, Uint8Array.of(0, 7, seq >> 8, seq & 255, 1, 2, 3, 4));
  return ethernet(0x86dd, ext ? ipv6({ src, dst: '2001:db8::1', next: 60 }, concat(ext, msg)) : ipv6({ src, dst: '2001:db8::1', next: 58 }, msg));
};

/** Hidden-options flag of each finished flow, by initiator. */
async function hiddenBySource(frames: Uint8Array[]): Promise<Map<string, boolean>> {
  const core = await FlowCore.load({ maxFlows: 1024, maxHosts: 1024, ringBytes: 1 << 16, maxOut: 64 });
  const out = new Map<string, boolean>();
  core.onBatch((b: FlowBatch) => {
    const k = new KeyRows(b.keyBytes);
    for (let r = 0; r < b.rows; r++) out.set(b.keys[r]!.src_ip, k.hiddenOptions(r));
  });
  frames.forEach((f, i) => core.push(f, 0, f.length, f.length, T0 + i, 1));
  core.flush('end_of_input');
  return out;
}

test('hidden options: unassigned option types with data in HIDDEN_OPTION_PACKETS packets flag the flow; assigned types, too few packets and malformed lists do not', async () => {
  const data = new Uint8Array(40).fill(0x41);
  const n = HIDDEN_OPTION_PACKETS;
  const cases: Array<[string, Uint8Array | undefined, number, boolean]> = [
    ['2001:db8::a', dstOpts([[0x13, data]]), n, true], // covert_send6's types
    ['2001:db8::b', dstOpts([[0x10, Uint8Array.of(1, 2, 3, 4)], [0x12, data]]), n, true], // AltMark beside an unassigned one
    ['2001:db8::c', dstOpts([[0x13, data]]), n - 1, false], // fewer packets than the minimum
    ['2001:db8::d', dstOpts([[0x01, data]]), n, false], // PadN: assigned
    ['2001:db8::e', dstOpts([[0x04, Uint8Array.of(4)], [0x1e, data], [0xc9, new Uint8Array(16)]]), n, false], // tunnel limit, RFC 3692 experiment, home address
    ['2001:db8::f', dstOpts([[0x13, new Uint8Array(0)]]), n, false], // an unassigned type without data
    ['2001:db8::10', undefined, n, false], // plain pings
  ];
  const frames: Uint8Array[] = [];
  for (const [src, ext, count] of cases) for (let i = 0; i < count; i++) frames.push(echo6(src, ext, i));
  // malformed: an option whose length runs past its header (the walk stops there), in as many packets
  const bad = dstOpts([[0x13, data]]);
  bad[2 + 1] = 250;
  for (let i = 0; i < n; i++) frames.push(echo6('2001:db8::11', bad, i));
  const flagged = await hiddenBySource(frames);
  for (const [src, , , want] of cases) assert.is(flagged.get(src), want, src);
  assert.is(flagged.get('2001:db8::11'), false, 'malformed option list');
});

test('hidden options: a flagged flow is tunnel evidence that opens an episode on its own; the same flow unflagged is nothing', () => {
  const v = flow({ src: '2001:db8::a', dst: '2001:db8::1', proto: 58, dport: 128 * 256, t: T0, packets: 18 });
  const tr = new EpisodeTracker({ newId: ids });
  assert.equal(tr.observe(v), []);
  v.hiddenOptions = true;
  const opened = tr.observe({ ...v, flow: { ...v.flow, src_ip: '2001:db8::b' } });
  assert.equal(opened.map((c) => `${c.state}:${c.track.family}:${c.track.actor}`), ['open:tunnel:2001:db8::b']);
});

// ---- real tools in namespaces of this test's own (nsprb-*) -------------------------------------------------------

const NET = netnsNames('nsprb', 236);
/** Source addresses of the second namespace: one actor per case, so each case is its own (source, class) alert. */
const SRC = { xmas: '10.236.0.11', icmp: '10.236.0.12', single: '10.236.0.13', web: '10.236.0.14' };

withTools(test, ['tcpdump', 'nmap', 'hping3', 'curl', 'ping', 'atk6-covert_send6', 'ip', 'ethtool'], { root: true })(
  'namespaces: nmap -sX on two ports and hping3 timestamp + address mask requests raise scan alerts, covert_send6 a tunnel alert, each from its source; one NULL probe, web traffic and pings raise nothing', async () => {
    const pcap = join(dir, 'probes.pcap');
    const ns = createNetnsPair(NET);
    try {
      for (const a of Object.values(SRC)) ns.exec(NET.nsB, 'ip', ['addr', 'add', `${a}/24`, 'dev', NET.vethB]);
      // node itself in the namespace (ip netns exec execs it), so destroy()'s kill reaches the server and its pipes close;
      // it also ends by itself after 60 s
      const web = ns.spawn(NET.nsA, process.execPath, ['-e',
        `setTimeout(() => process.exit(0), 60000); require('http').createServer((q, s) => s.end('ok')).listen(8080, '${NET.ipA}', () => process.stderr.write('listening'))`]);
      await waitForOutput(web, /listening/, 10_000);
      const stopCapture = await ns.capture(NET.nsA, NET.vethA, pcap);
      // bounded: two ports, no retries; one packet per hping3 run
      ns.exec(NET.nsB, 'nmap', ['-n', '-Pn', '-sX', '--max-retries', '0', '-S', SRC.xmas, '-e', NET.vethB, '-p', '80,443', NET.ipA], 30_000);
      // hping3 exits 1 when its request went unanswered (Linux does not answer address mask requests): the capture counts
      for (const type of [13, 17]) {
        ns.exec(NET.nsB, 'sh', ['-c', `timeout 10 hping3 -q -c 1 --icmp --icmptype ${type} -a ${SRC.icmp} ${NET.ipA} >/dev/null 2>&1; exit 0`], 15_000);
      }
      ns.exec(NET.nsB, 'nmap', ['-n', '-Pn', '-sN', '--max-retries', '0', '-S', SRC.single, '-e', NET.vethB, '-p', '22', NET.ipA], 30_000);
      // THC's covert channel: a file hidden in destination options of ICMPv6 echo requests (≈ 1.3 kB per packet)
      const secret = join(dir, 'secret.txt');
      writeFileSync(secret, 'netsensor test file, hidden in IPv6 destination options\n'.repeat(200));
      ns.exec(NET.nsB, 'timeout', ['20', 'atk6-covert_send6', NET.vethB, NET.ip6A, secret], 30_000);
      ns.exec(NET.nsA, 'ping', ['-6', '-n', '-c', '4', '-i', '0.2', NET.ip6B], 15_000);
      for (let i = 0; i < 5; i++) ns.exec(NET.nsB, 'curl', ['-s', '--max-time', '5', '--interface', SRC.web, `http://${NET.ipA}:8080/`], 10_000);
      await finishCapture(stopCapture);
    } finally {
      ns.destroy();
    }
    const alerts = detectAlerts(pcap);
    const by = (src: string) => alerts.filter((a) => a.src_ip === src).map((a) => a.netsensor.class);
    console.log(`  alerts by source: covert ${by(NET.ip6B)}, ${Object.entries(SRC).map(([k, s]) => `${k} [${[...new Set(by(s))].join(',')}]`).join(', ')}`);
    assert.ok(by(SRC.xmas).length > 0 && by(SRC.xmas).every((c) => c === 'scan'), `Xmas probes: ${by(SRC.xmas)}`);
    assert.ok(by(SRC.icmp).length > 0 && by(SRC.icmp).every((c) => c === 'scan'), `ICMP probes: ${by(SRC.icmp)}`);
    assert.ok(by(NET.ip6B).length > 0 && by(NET.ip6B).every((c) => c === 'tunnel'), `covert_send6: ${by(NET.ip6B)}`);
    assert.equal(by(NET.ip6A), [], 'ordinary pings');
    assert.equal(by(SRC.single), [], 'a single NULL probe');
    assert.equal(by(SRC.web), [], 'ordinary HTTP');
    assert.equal(alerts.filter((a) => ![...Object.values(SRC), NET.ip6B].includes(a.src_ip)).map((a) => `${a.src_ip} ${a.netsensor.class}`), [], 'nobody else');
  });

test.run();
