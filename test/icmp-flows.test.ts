/**
 * ICMP flow keys (assembly/decode/icmp.ts, docs/flows.md): a request and its reply are one bidirectional flow,
 * keyed by the identifier where the pair has one (echo, timestamp, …; ICMPv6 echo), other types by type/code.
 * First on hand-built captures (every key shape, a reply seen first, errors, malformed headers), then on traffic
 * made by real tools between network namespaces — an hping3 echo flood, two pings in parallel, an ICMPv6 ping,
 * an nmap ping sweep over a /28 — with packets and IP bytes per flow and direction checked against tshark's
 * own reading of the identifier (icmp.ident / icmpv6.echo.identifier).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernet, ipv4, ipv6, icmp, concat } from './helpers/frames.ts';
import { pcapFile, type Packet } from './helpers/pcap-writer.ts';
import { createNetnsPair, netnsNames } from './helpers/netns.ts';
import { withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-icmp-'));

interface Rec {
  src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: number;
  src2dst_packets: number; src2dst_bytes: number; dst2src_packets: number; dst2src_bytes: number;
  icmp_type: number; icmp_code: number; end_reason: string;
}

function flows(file: string): { records: Rec[]; summary: Record<string, any> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  const records = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { records, summary: JSON.parse(r.stderr.trim().split('\n').pop()!) };
}

let n = 0;
function capture(frames: Uint8Array[]): string {
  const packets: Packet[] = frames.map((data, i) => ({ ts: 1_700_000_000 + i * 0.01, data }));
  const file = join(dir, `c${n++}.pcap`);
  writeFileSync(file, pcapFile(packets));
  return file;
}

const be16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
/** Identifier + sequence (bytes 4–7 of the header) and a payload. */
const idSeq = (id: number, seq: number, payload = 56) => concat(be16(id), be16(seq), new Uint8Array(payload));
const v4 = (src: string, dst: string, type: number, code: number, rest: Uint8Array) =>
  ethernet(0x0800, ipv4({ src, dst, proto: 1 }, icmp(type, code, rest)));
const v6 = (src: string, dst: string, type: number, code: number, rest: Uint8Array) =>
  ethernet(0x86dd, ipv6({ src, dst, next: 58 }, icmp(type, code, rest)));
const echo = (src: string, dst: string, id: number, seq: number) => v4(src, dst, 8, 0, idSeq(id, seq));
const reply = (src: string, dst: string, id: number, seq: number) => v4(src, dst, 0, 0, idSeq(id, seq));
const IP_LEN_ECHO = 20 + 8 + 56;

const A = '10.7.0.1', B = '10.7.0.2';
const find = (rs: Rec[], src: string, sport: number, dport: number) => rs.filter((r) => r.src_ip === src && r.src_port === sport && r.dst_port === dport);

test('echo: request and reply share one flow per identifier; the other direction and other ids are their own flows', () => {
  const { records } = flows(capture([
    echo(A, B, 0x1111, 1), reply(B, A, 0x1111, 1), echo(A, B, 0x2222, 1), echo(A, B, 0x1111, 2), reply(B, A, 0x2222, 1),
    reply(B, A, 0x1111, 2), echo(A, B, 0x1111, 3), reply(B, A, 0x1111, 3), echo(B, A, 0x1111, 1), reply(A, B, 0x1111, 1),
  ]));
  assert.is(records.length, 3, JSON.stringify(records));
  const [one] = find(records, A, 0x1111, 2048);
  assert.equal([one.dst_ip, one.src2dst_packets, one.dst2src_packets], [B, 3, 3]);
  assert.equal([one.src2dst_bytes, one.dst2src_bytes], [3 * IP_LEN_ECHO, 3 * IP_LEN_ECHO]);
  assert.equal([one.icmp_type, one.icmp_code], [8, 0]);
  const [two] = find(records, A, 0x2222, 2048);
  assert.equal([two.src2dst_packets, two.dst2src_packets], [1, 1]);
  const [back] = find(records, B, 0x1111, 2048); // B pings A with the same identifier: B's own conversation
  assert.equal([back.dst_ip, back.src2dst_packets, back.dst2src_packets], [A, 1, 1]);
});

test('a reply seen first: its receiver (the requester) is the initiator, the reply counted responder → initiator', () => {
  const { records } = flows(capture([reply(B, A, 7, 1), echo(A, B, 7, 2), reply(B, A, 7, 2)]));
  assert.is(records.length, 1);
  const [r] = records;
  assert.equal([r.src_ip, r.src_port, r.dst_ip, r.dst_port], [A, 7, B, 2048]);
  assert.equal([r.src2dst_packets, r.dst2src_packets], [1, 2]);
  assert.is(r.icmp_type, 0, 'the first packet seen was the reply');
});

test('timestamp pairs key by identifier; errors by their own type/code, one flow per direction', () => {
  const quoted = concat(new Uint8Array(4), new Uint8Array(28)); // unused word + quoted IP header and 8 bytes
  const { records } = flows(capture([
    v4(A, B, 13, 0, idSeq(5, 1, 12)), v4(B, A, 14, 0, idSeq(5, 1, 12)),
    v4(B, A, 3, 3, quoted), v4(B, A, 3, 3, quoted), v4(B, A, 3, 1, quoted), v4(A, B, 3, 3, quoted),
    v4(B, A, 11, 0, quoted),
  ]));
  assert.is(records.length, 5, JSON.stringify(records));
  const [ts] = find(records, A, 5, 13 * 256);
  assert.equal([ts.src2dst_packets, ts.dst2src_packets], [1, 1]);
  assert.equal(find(records, B, 0, 3 * 256 + 3).map((r) => [r.src2dst_packets, r.dst2src_packets]), [[2, 0]]);
  assert.equal(find(records, B, 0, 3 * 256 + 1).map((r) => r.src2dst_packets), [1]);
  assert.equal(find(records, A, 0, 3 * 256 + 3).map((r) => r.src2dst_packets), [1]);
  assert.equal(find(records, B, 0, 11 * 256).map((r) => r.src2dst_packets), [1]);
});

test('ICMPv6: echo keyed by identifier (dst_port 32768); solicitation and advertisement one flow', () => {
  const X = 'fd00::1', Y = 'fd00::2';
  const { records } = flows(capture([
    v6(X, Y, 128, 0, idSeq(0xabcd, 1)), v6(Y, X, 129, 0, idSeq(0xabcd, 1)), v6(X, Y, 128, 0, idSeq(0xabce, 1)),
    v6(X, Y, 135, 0, new Uint8Array(20)), v6(Y, X, 136, 0, new Uint8Array(20)),
  ]));
  assert.is(records.length, 3, JSON.stringify(records));
  assert.equal(find(records, X, 0xabcd, 32768).map((r) => [r.src2dst_packets, r.dst2src_packets]), [[1, 1]]);
  assert.equal(find(records, X, 0xabce, 32768).map((r) => [r.src2dst_packets, r.dst2src_packets]), [[1, 0]]);
  assert.equal(find(records, X, 0, 135 * 256).map((r) => [r.src2dst_packets, r.dst2src_packets]), [[1, 1]]);
});

test('malformed: an ICMP header cut short is counted and makes no flow; its neighbours are unaffected', () => {
  const short4 = ethernet(0x0800, ipv4({ src: A, dst: B, proto: 1 }, Uint8Array.of(8, 0, 0, 0)));
  const short6 = ethernet(0x86dd, ipv6({ src: 'fd00::1', dst: 'fd00::2', next: 58 }, Uint8Array.of(128, 0)));
  const { records, summary } = flows(capture([short4, echo(A, B, 9, 1), short6, reply(B, A, 9, 1)]));
  assert.is(summary.events['decoder.icmpv4.pkt_too_small'], 1);
  assert.is(summary.events['decoder.icmpv6.pkt_too_small'], 1);
  assert.is(records.length, 1);
  assert.equal([records[0].src2dst_packets, records[0].dst2src_packets], [1, 1]);
});

// ---- real tools in namespaces of this test's own (nsicmp-*) ------------------------------------------------

const NET = netnsNames('nsicmp', 233);
/** The /28 the sweep probes: every address is the second namespace's, so each probe is answered. */
const SWEEP = Array.from({ length: 16 }, (_, i) => `10.233.0.${16 + i}`);
const FLOOD = 500;

type Dir = [packets: number, bytes: number];
/** Per echo-like conversation (requester|responder|identifier|request type): [requests, replies] as tshark reads them. */
function tsharkEcho(pcap: string): Map<string, [Dir, Dir]> {
  const out = execFileSync('tshark', [
    '-r', pcap, '-n', '-Y', '(icmp.type == 8 or icmp.type == 0 or icmp.type == 13 or icmp.type == 14) or icmpv6.type == 128 or icmpv6.type == 129',
    '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=/t',
    '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'ip.len', '-e', 'ipv6.plen',
    '-e', 'icmp.type', '-e', 'icmp.ident', '-e', 'icmpv6.type', '-e', 'icmpv6.echo.identifier',
  ], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
  const m = new Map<string, [Dir, Dir]>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [s4, d4, s6, d6, len4, plen6, t4, id4, t6, id6] = line.split('\t');
    const isV4 = s4 !== '';
    const type = Number(isV4 ? t4 : t6);
    const request = isV4 ? (type === 0 ? 8 : type === 14 ? 13 : type) : 128;
    const isReply = type !== request;
    const [src, dst] = isV4 ? [s4, d4] : [s6, d6];
    const key = [isReply ? dst : src, isReply ? src : dst, Number(isV4 ? id4 : id6), request].join('|');
    if (!m.has(key)) m.set(key, [[0, 0], [0, 0]]);
    const d = m.get(key)![isReply ? 1 : 0];
    d[0]++;
    d[1] += isV4 ? Number(len4) : 40 + Number(plen6);
  }
  return m;
}

withTools(test, ['tshark', 'tcpdump', 'hping3', 'nmap', 'ping', 'ip', 'ethtool'], { root: true })(
  'namespaces: hping3 --icmp flood, two parallel pings, ping -6, nmap -sn sweep — flows per identifier = tshark', async () => {
    const pcap = join(dir, 'icmp.pcap');
    const ns = createNetnsPair(NET);
    try {
      for (const a of SWEEP) ns.exec(NET.nsB, 'ip', ['addr', 'add', `${a}/32`, 'dev', NET.vethB]);
      const stopCapture = await ns.capture(NET.nsA, NET.vethA, pcap);
      // hping3 exits 1 when it missed replies: the capture is what counts
      ns.exec(NET.nsA, 'sh', ['-c', `timeout 30 hping3 --icmp -c ${FLOOD} -i u1000 ${NET.ipB} >/dev/null 2>&1; exit 0`], 40_000);
      ns.exec(NET.nsA, 'sh', ['-c', `ping -n -c 3 -i 0.2 ${NET.ipB} >/dev/null & ping -n -c 3 -i 0.2 ${NET.ipB} >/dev/null & wait`], 15_000);
      ns.exec(NET.nsA, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', NET.ip6B], 15_000);
      // --send-ip: on a directly connected subnet nmap would otherwise sweep with ARP, which is not IP traffic
      ns.exec(NET.nsA, 'nmap', ['-sn', '-n', '--send-ip', '-T4', `${SWEEP[0]}/28`], 60_000);
      await new Promise((r) => setTimeout(r, 1000)); // the last replies reach the capture
      const dumpLog = await stopCapture();
      assert.match(dumpLog, /\b0 packets dropped by kernel/, dumpLog);
    } finally {
      ns.destroy();
    }

    const { records } = flows(pcap);
    const icmpRecs = records.filter((r) => r.protocol === 1 || r.protocol === 58);
    const truth = tsharkEcho(pcap);

    // every echo/timestamp conversation tshark sees is exactly one record, both directions counted, same bytes
    const echoRecs = icmpRecs.filter((r) => [8 * 256, 13 * 256, 128 * 256].includes(r.dst_port));
    const mine = new Map<string, [Dir, Dir]>();
    for (const r of echoRecs) {
      const key = [r.src_ip, r.dst_ip, r.src_port, r.dst_port >> 8].join('|');
      assert.not.ok(mine.has(key), `two records for ${key}`);
      mine.set(key, [[r.src2dst_packets, r.src2dst_bytes], [r.dst2src_packets, r.dst2src_bytes]]);
    }
    const sorted = (m: Map<string, [Dir, Dir]>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    assert.equal(sorted(mine), sorted(truth));
    assert.ok(truth.size >= SWEEP.length + 4, `${truth.size} conversations`);

    // the flood: hping3 uses one identifier for its run, so it is ONE flow of FLOOD requests and their replies
    const toB = echoRecs.filter((r) => r.dst_ip === NET.ipB && r.dst_port === 2048);
    const flood = toB.filter((r) => r.src2dst_packets === FLOOD);
    assert.is(flood.length, 1, JSON.stringify(toB.map((r) => [r.src_port, r.src2dst_packets, r.dst2src_packets])));
    assert.ok(flood[0].dst2src_packets >= FLOOD * 0.9, `${flood[0].dst2src_packets} replies`);
    // the two parallel pings: two identifiers, two flows of 3 + 3
    const pings = toB.filter((r) => r.src2dst_packets === 3);
    assert.is(pings.length, 2, JSON.stringify(toB));
    assert.ok(pings.every((r) => r.dst2src_packets === 3));
    assert.is.not(pings[0].src_port, pings[1].src_port);
    assert.is(toB.length, 3, 'nothing else pinged the second namespace');
    // ping -6: one flow keyed by its identifier
    const six = echoRecs.filter((r) => r.dst_ip === NET.ip6B && r.dst_port === 32768);
    assert.equal(six.map((r) => [r.src2dst_packets, r.dst2src_packets]), [[3, 3]]);
    // the sweep: one echo flow per probed address, each answered; nmap sends its timestamp probe only to hosts
    // that have not answered yet, so those are fewer — at most one per host, each its own flow (checked above)
    const swept = (type: number) => echoRecs.filter((r) => r.src_ip === NET.ipA && SWEEP.includes(r.dst_ip) && r.dst_port === type * 256);
    const echoes = swept(8);
    assert.equal(echoes.map((r) => r.dst_ip).sort(), [...SWEEP].sort(), 'one echo flow per probed host');
    assert.ok(echoes.every((r) => r.src2dst_packets >= 1 && r.dst2src_packets >= 1), 'every echo probe answered');
    const stamps = swept(13).map((r) => r.dst_ip);
    assert.is(new Set(stamps).size, stamps.length, 'at most one timestamp flow per probed host');

    // nothing lost or counted twice: all ICMP packets and bytes = tshark's
    const all = execFileSync('tshark', ['-r', pcap, '-n', '-Y', 'icmp or icmpv6', '-T', 'fields', '-E', 'occurrence=f', '-e', 'ip.len', '-e', 'ipv6.plen'],
      { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter(Boolean).map((l) => { const [a, b] = l.split('\t'); return a ? Number(a) : 40 + Number(b); }); // no trim: an IPv6 line starts with a tab
    assert.is(icmpRecs.reduce((s, r) => s + r.src2dst_packets + r.dst2src_packets, 0), all.length);
    assert.is(icmpRecs.reduce((s, r) => s + r.src2dst_bytes + r.dst2src_bytes, 0), all.reduce((s, b) => s + b, 0));
  });

test.run();
