/**
 * Packet decoders (assembly/decode/*) and the packet ring (assembly/ring.ts): hand-built frames per layer and
 * per malformation, decoded values read back through a probe module built from the same sources, event and
 * stat counters read from build/netsensor.wasm, and every public capture processed without a trap.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDecodeProbe, type DecodeProbe } from './helpers/decode-probe-build.ts';
import { RawCore, STAT_PACKETS, STAT_BYTES, STAT_IP_PACKETS, RECORD_HEADER_BYTES } from './helpers/raw-core.ts';
import { sharedCaptureFiles, captureFrames } from './helpers/capture-frames.ts';
import { sharedPcap, withTools } from './helpers/tools.ts';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  concat, hex, ethernet, vlanTag, ipv4, ipv6, ipv6Ext, ipv6Frag, tcp, udp, icmp, dnsQuery, shannon,
} from './helpers/frames.ts';
import type { CoreCounterName } from '../core/decoder-events.ts';
import { END_REASONS } from '../core/schema.ts';

let probe: DecodeProbe;
const ETH = 1;

test.before(async () => {
  probe = await buildDecodeProbe();
});

/** Decodes one frame and returns the fields plus the events it raised (counter deltas). */
function decode(data: Uint8Array, linktype = ETH, wirelen?: number) {
  const before = probe.counters();
  const d = probe.decode(data, linktype, wirelen);
  const after = probe.counters();
  const raised: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) raised[k] = v - (before[k] ?? 0);
  return { ...d, raised };
}

function rejects(data: Uint8Array, event: CoreCounterName, linktype = ETH, wirelen?: number): void {
  const d = decode(data, linktype, wirelen);
  assert.is(d.ok, false, `expected rejection with ${event}`);
  assert.equal(d.raised, { [event]: 1 });
}

const MSS_WS_OPTIONS = hex('020405b4 01 030307 00 000000'); // MSS 1460, NOP, WS 7, EOL, pad → 12 bytes

test('Ethernet / IPv4 / TCP SYN: addresses, ports, flags, window, MSS and window scale', () => {
  const seg = tcp({ sport: 40000, dport: 443, flags: 0x02, window: 29200, options: MSS_WS_OPTIONS });
  const d = decode(ethernet(0x0800, ipv4({ proto: 6, src: '192.168.1.10', dst: '93.184.216.34' }, seg)));
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.src, '192.168.1.10');
  assert.is(d.dst, '93.184.216.34');
  assert.is(d.ipVersion, 4);
  assert.is(d.ipTotalLen, 52);
  assert.is(d.ipHeaderLen, 20);
  assert.is(d.protocol, 6);
  assert.is(d.srcPort, 40000);
  assert.is(d.dstPort, 443);
  assert.is(d.tcpFlags, 0x02);
  assert.is(d.tcpWindow, 29200);
  assert.is(d.tcpMss, 1460);
  assert.is(d.tcpWscale, 7);
  assert.is(d.l4HeaderLen, 32);
  assert.is(d.payloadLen, 0);
});

test('TCP without options reports MSS 0 and window scale -1; payload length comes from IP', () => {
  const d = decode(ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2, flags: 0x18 }, new Uint8Array(100)))));
  assert.ok(d.ok);
  assert.is(d.tcpMss, 0);
  assert.is(d.tcpWscale, -1);
  assert.is(d.tcpFlags, 0x18);
  assert.is(d.payloadLen, 100);
});

test('IPv4 header errors: too small, wrong version, IHL 4, header beyond capture, total length < header', () => {
  rejects(ethernet(0x0800, new Uint8Array(19)), 'decoder.ipv4.too_small');
  rejects(ethernet(0x0800, ipv4({ proto: 6, version: 5 }, tcp({ sport: 1, dport: 2 }))), 'decoder.ipv4.wrong_version');
  rejects(ethernet(0x0800, ipv4({ proto: 6, ihl: 4 }, tcp({ sport: 1, dport: 2 }))), 'decoder.ipv4.hlen_too_small');
  rejects(ethernet(0x0800, ipv4({ proto: 6, ihl: 15 }, new Uint8Array(8))), 'decoder.ipv4.hlen_too_big');
  rejects(ethernet(0x0800, ipv4({ proto: 6, totalLength: 19 }, tcp({ sport: 1, dport: 2 }))), 'decoder.ipv4.tlen_too_small');
});

test('IPv4 total length beyond the wire is trunc_pkt; beyond the capture only (snap length) is fine', () => {
  const frame = ethernet(0x0800, ipv4({ proto: 6, totalLength: 1500 }, tcp({ sport: 5, dport: 80, flags: 0x10 })));
  rejects(frame, 'decoder.ipv4.trunc_pkt'); // wirelen = caplen = 54
  const d = decode(frame, ETH, 1514); // 54 bytes captured of a 1514-byte frame
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.ipTotalLen, 1500);
  assert.is(d.dstPort, 80);
  assert.is(d.payloadLen, 1460);
});

test('IPv4 options are skipped (IHL 6) and bad option framing is counted but the packet kept', () => {
  const good = decode(ethernet(0x0800, ipv4({ proto: 17, options: hex('01010100') }, udp(1000, 2000, new Uint8Array(4)))));
  assert.ok(good.ok);
  assert.equal(good.raised, {});
  assert.is(good.ipHeaderLen, 24);
  assert.is(good.srcPort, 1000);
  assert.is(good.dstPort, 2000);
  const bad = decode(ethernet(0x0800, ipv4({ proto: 17, options: hex('07090000') }, udp(1000, 2000, new Uint8Array(4)))));
  assert.ok(bad.ok);
  assert.equal(bad.raised, { 'decoder.ipv4.opt_invalid': 1 });
  assert.is(bad.dstPort, 2000);
});

test('IPv4 fragments: the first carries ports, later ones have none', () => {
  const first = decode(ethernet(0x0800, ipv4({ proto: 17, flagsFrag: 0x2000, totalLength: 1500 }, udp(53, 5353, new Uint8Array(1472), 3000)).subarray(0, 1514)));
  assert.ok(first.ok);
  assert.equal(first.raised, { 'decoder.ipv4.frag': 1 });
  assert.is(first.isFragment, 1);
  assert.is(first.isLaterFragment, 0);
  assert.is(first.srcPort, 53);
  assert.is(first.dstPort, 5353);
  const later = decode(ethernet(0x0800, ipv4({ proto: 17, flagsFrag: 185 }, new Uint8Array(200))));
  assert.ok(later.ok);
  assert.equal(later.raised, { 'decoder.ipv4.frag': 1 });
  assert.is(later.isLaterFragment, 1);
  assert.is(later.protocol, 17);
  assert.is(later.srcPort, 0);
  assert.is(later.dstPort, 0);
  assert.is(later.payloadLen, 200);
});

test('a tiny first fragment (transport header split across fragments) is kept, with ports, and counted', () => {
  const head = tcp({ sport: 12345, dport: 8080 }).subarray(0, 8);
  const d = decode(ethernet(0x0800, ipv4({ proto: 6, flagsFrag: 0x2000 }, head)));
  assert.ok(d.ok);
  assert.equal(d.raised, { 'decoder.ipv4.frag': 1, 'decoder.tcp.pkt_too_small': 1 });
  assert.is(d.srcPort, 12345);
  assert.is(d.dstPort, 8080);
  assert.is(d.payloadLen, 8);
  // Not a fragment: the same short segment is rejected.
  rejects(ethernet(0x0800, ipv4({ proto: 6 }, head)), 'decoder.tcp.pkt_too_small');
});

test('IPv4 total length 0 (TSO capture) takes the frame length', () => {
  const d = decode(ethernet(0x0800, ipv4({ proto: 6, totalLength: 0 }, tcp({ sport: 1, dport: 25, flags: 0x18 }, new Uint8Array(4000)))));
  assert.ok(d.ok);
  assert.equal(d.raised, { 'decoder.ipv4.tlen_zero_tso': 1 });
  assert.is(d.ipTotalLen, 4040);
  assert.is(d.payloadLen, 4000);
});

test('Ethernet padding is not read as payload', () => {
  const d = decode(concat(ethernet(0x0800, ipv4({ proto: 17 }, udp(53, 1024, new Uint8Array(0)))), new Uint8Array(18)));
  assert.ok(d.ok);
  assert.is(d.ipTotalLen, 28);
  assert.is(d.payloadLen, 0);
  assert.is(d.isDns, 0); // 0 DNS bytes, not 18 bytes of padding
});

test('TCP errors: header not captured, data offset < 5, data offset beyond the segment, bad option', () => {
  rejects(ethernet(0x0800, ipv4({ proto: 6, totalLength: 60 }, tcp({ sport: 1, dport: 2 }).subarray(0, 12))), 'decoder.tcp.pkt_too_small', ETH, 74);
  rejects(ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2, dataOffset: 4 }))), 'decoder.tcp.hlen_too_small');
  rejects(ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2, dataOffset: 8 }))), 'decoder.tcp.hlen_too_big');
  const d = decode(ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2, options: hex('02ff0000') }))));
  assert.ok(d.ok);
  assert.equal(d.raised, { 'decoder.tcp.opt_invalid': 1 });
  assert.is(d.tcpMss, 0);
});

test('TCP options cut by the snap length are read as far as captured', () => {
  const full = ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 9, dport: 22, options: MSS_WS_OPTIONS })));
  const d = decode(full.subarray(0, 14 + 20 + 20 + 4), ETH, full.length); // MSS captured, window scale not
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.tcpMss, 1460);
  assert.is(d.tcpWscale, -1);
  assert.is(d.l4HeaderLen, 32);
});

test('UDP errors: header not captured, length field invalid', () => {
  rejects(ethernet(0x0800, ipv4({ proto: 17 }, new Uint8Array(6))), 'decoder.udp.pkt_too_small');
  rejects(ethernet(0x0800, ipv4({ proto: 17 }, udp(1, 2, new Uint8Array(4), 7))), 'decoder.udp.hlen_invalid');
  rejects(ethernet(0x0800, ipv4({ proto: 17 }, udp(1, 2, new Uint8Array(4), 40))), 'decoder.udp.hlen_invalid');
});

test('VLAN: 802.1Q id, QinQ (0x88a8 and 0x9100) keeps the innermost id, too many layers rejected', () => {
  const inner = ipv4({ proto: 17 }, udp(1, 2, new Uint8Array(0)));
  const one = decode(ethernet(0x8100, concat(vlanTag(100, 0x0800), inner)));
  assert.ok(one.ok);
  assert.is(one.vlanId, 100);
  assert.is(one.vlanCount, 1);
  for (const outer of [0x88a8, 0x9100]) {
    const q = decode(ethernet(outer, concat(vlanTag(10, 0x8100), vlanTag(20, 0x0800), inner)));
    assert.ok(q.ok);
    assert.is(q.vlanId, 20);
    assert.is(q.vlanCount, 2);
  }
  const untagged = decode(ethernet(0x0800, inner));
  assert.is(untagged.vlanId, 0, 'VLAN id is reset between packets');
  rejects(ethernet(0x8100, concat(vlanTag(1, 0x8100), vlanTag(2, 0x8100), vlanTag(3, 0x8100), vlanTag(4, 0x0800), inner)), 'decoder.vlan.too_many_layers');
  rejects(ethernet(0x8100, hex('0064')), 'decoder.vlan.too_small');
});

test('Ethernet: too small, non-IP (ARP) and unsupported IP carriers are counted apart', () => {
  rejects(hex('0200000000010200000000'), 'decoder.ethernet.too_small');
  rejects(ethernet(0x0806, new Uint8Array(28)), 'decoder.non_ip');
  rejects(ethernet(0x88be, new Uint8Array(40)), 'decoder.ethernet.unsupported_type');
});

test('PPPoE session and MPLS stacks reach the IP layer', () => {
  const inner = ipv4({ proto: 6 }, tcp({ sport: 3333, dport: 80 }));
  const pppoe = decode(ethernet(0x8864, concat(hex('1100 0001'), Uint8Array.of(0, inner.length + 2), hex('0021'), inner)));
  assert.ok(pppoe.ok);
  assert.is(pppoe.dstPort, 80);
  rejects(ethernet(0x8864, concat(hex('1100 0001 0004 c021'), new Uint8Array(2))), 'decoder.non_ip');
  const mpls = decode(ethernet(0x8847, concat(hex('00010040'), hex('00020140'), inner)));
  assert.ok(mpls.ok);
  assert.is(mpls.srcPort, 3333);
  rejects(ethernet(0x8847, hex('00010040 00020040')), 'decoder.mpls.too_small');
});

test('IPv6 / TCP, with flow bytes = 40 + payload length', () => {
  const d = decode(ethernet(0x86dd, ipv6({ next: 6, src: '2001:db8::a', dst: 'fe80::1' }, tcp({ sport: 5555, dport: 22, options: MSS_WS_OPTIONS }))));
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.ipVersion, 6);
  assert.is(d.src, '2001:db8:0:0:0:0:0:a');
  assert.is(d.dst, 'fe80:0:0:0:0:0:0:1');
  assert.is(d.ipTotalLen, 72);
  assert.is(d.ipHeaderLen, 40);
  assert.is(d.tcpMss, 1460);
  assert.is(d.dstPort, 22);
});

test('IPv6 extension headers: hop-by-hop, routing, destination options and AH are skipped', () => {
  const ah = concat(Uint8Array.of(17, 4), new Uint8Array(22)); // (4 + 2) * 4 = 24 bytes
  const chain = concat(ipv6Ext(43), ipv6Ext(60, 2), ipv6Ext(51), ah, udp(4000, 4001, new Uint8Array(10)));
  const d = decode(ethernet(0x86dd, ipv6({ next: 0 }, chain)));
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.ipHeaderLen, 40 + 8 + 16 + 8 + 24);
  assert.is(d.protocol, 17);
  assert.is(d.srcPort, 4000);
  assert.is(d.payloadLen, 10);
});

test('IPv6 fragment header: first fragment has ports, a later one has none; atomic fragment is whole', () => {
  const first = decode(ethernet(0x86dd, ipv6({ next: 44 }, concat(ipv6Frag(6, 0, true), tcp({ sport: 7, dport: 8 })))));
  assert.ok(first.ok);
  assert.equal(first.raised, { 'decoder.ipv6.frag': 1 });
  assert.is(first.isFragment, 1);
  assert.is(first.dstPort, 8);
  const later = decode(ethernet(0x86dd, ipv6({ next: 44 }, concat(ipv6Frag(17, 100, false), new Uint8Array(64)))));
  assert.ok(later.ok);
  assert.is(later.isLaterFragment, 1);
  assert.is(later.protocol, 17);
  assert.is(later.srcPort, 0);
  assert.is(later.payloadLen, 64);
  const atomic = decode(ethernet(0x86dd, ipv6({ next: 44 }, concat(ipv6Frag(17, 0, false), udp(1, 2, new Uint8Array(0))))));
  assert.ok(atomic.ok);
  assert.equal(atomic.raised, {});
  assert.is(atomic.isFragment, 0);
  assert.is(atomic.dstPort, 2);
});

test('IPv6 errors: too small, wrong version, payload beyond the wire, chain too long, header past the packet', () => {
  rejects(ethernet(0x86dd, new Uint8Array(39)), 'decoder.ipv6.too_small');
  const bad = ipv6({ next: 59 }, new Uint8Array(0));
  bad[0] = 0x40;
  rejects(ethernet(0x86dd, bad), 'decoder.ipv6.wrong_version');
  rejects(ethernet(0x86dd, ipv6({ next: 59, payloadLength: 100 }, new Uint8Array(10))), 'decoder.ipv6.trunc_pkt');
  const nine = concat(...Array.from({ length: 9 }, (_, i) => ipv6Ext(i === 8 ? 59 : 60)));
  rejects(ethernet(0x86dd, ipv6({ next: 60 }, nine)), 'decoder.ipv6.exthdr_too_many');
  const overlong = ipv6Ext(59, 1);
  overlong[1] = 10; // claims 88 bytes in an 8-byte payload
  rejects(ethernet(0x86dd, ipv6({ next: 0 }, overlong)), 'decoder.ipv6.exthdr_invalid');
});

test('ICMP and ICMPv6 type/code; short headers rejected', () => {
  const echo = decode(ethernet(0x0800, ipv4({ proto: 1 }, icmp(8, 0, new Uint8Array(60)))));
  assert.ok(echo.ok);
  assert.is(echo.icmpType, 8);
  assert.is(echo.icmpCode, 0);
  assert.is(echo.srcPort, 0);
  assert.is(echo.payloadLen, 56); // 64 bytes of ICMP minus its 8-byte header
  const v6 = decode(ethernet(0x86dd, ipv6({ next: 58 }, icmp(1, 4))));
  assert.ok(v6.ok);
  assert.is(v6.icmpType, 1);
  assert.is(v6.icmpCode, 4);
  rejects(ethernet(0x0800, ipv4({ proto: 1 }, hex('0800'))), 'decoder.icmpv4.pkt_too_small');
  rejects(ethernet(0x86dd, ipv6({ next: 58 }, hex('8000'))), 'decoder.icmpv6.pkt_too_small');
});

test('portless protocols (GRE) still make flows; unknown ones are counted', () => {
  const d = decode(ethernet(0x0800, ipv4({ proto: 47 }, new Uint8Array(24))));
  assert.ok(d.ok);
  assert.equal(d.raised, { 'decoder.ip.unsupported_proto': 1 });
  assert.is(d.protocol, 47);
  assert.is(d.srcPort, 0);
});

test('GRE is opened: the flow is the packet inside (plain, key + sequence + checksum, Ethernet bridging, ERSPAN II and III, PPTP PPP, nested); what it cannot open stays a GRE flow', () => {
  const inner = ipv4({ proto: 6, src: '172.16.0.5', dst: '172.16.0.9' }, tcp({ sport: 51000, dport: 22, flags: 0x02 }));
  const gre = (flags: number, type: number, extra: Uint8Array, payload: Uint8Array) =>
    concat(Uint8Array.of(flags >> 8, flags & 0xff, type >> 8, type & 0xff), extra, payload);
  const outer = (payload: Uint8Array) => ethernet(0x0800, ipv4({ proto: 47, src: '198.51.100.1', dst: '198.51.100.2' }, payload));
  const innerOf = (d: ReturnType<typeof decode>, what: string) => {
    assert.ok(d.ok, what);
    assert.equal(d.raised, {}, what);
    assert.equal([d.src, d.dst, d.protocol, d.srcPort, d.dstPort, d.tcpFlags, d.ipTotalLen], ['172.16.0.5', '172.16.0.9', 6, 51000, 22, 0x02, 40], what);
  };
  innerOf(decode(outer(gre(0x0000, 0x0800, new Uint8Array(0), inner))), 'plain GRE, IPv4');
  innerOf(decode(outer(gre(0xb000, 0x0800, new Uint8Array(12), inner))), 'checksum, key and sequence (12 bytes more)');
  innerOf(decode(outer(gre(0x0000, 0x6558, new Uint8Array(0), ethernet(0x0800, inner)))), 'transparent Ethernet bridging');
  innerOf(decode(outer(gre(0x1000, 0x88be, new Uint8Array(4 + 8), ethernet(0x0800, inner)))), 'ERSPAN II: sequence, 8-byte header');
  innerOf(decode(outer(gre(0x0000, 0x88be, new Uint8Array(0), ethernet(0x0800, inner)))), 'ERSPAN I: no header');
  innerOf(decode(outer(gre(0x0000, 0x22eb, new Uint8Array(12), ethernet(0x0800, inner)))), 'ERSPAN III');
  const o3 = new Uint8Array(20); o3[11] = 1; // O flag: 8-byte platform sub-header
  innerOf(decode(outer(gre(0x0000, 0x22eb, o3, ethernet(0x0800, inner)))), 'ERSPAN III with sub-header');
  innerOf(decode(outer(gre(0x3081, 0x880b, new Uint8Array(12), concat(hex('ff030021'), inner)))), 'PPTP: key, sequence, ack, PPP');
  innerOf(decode(outer(gre(0x0000, 0x0800, new Uint8Array(0), ipv4({ proto: 47 }, gre(0x0000, 0x0800, new Uint8Array(0), inner))))), 'GRE in GRE');
  const v6 = decode(outer(gre(0x0000, 0x86dd, new Uint8Array(0), ipv6({ next: 17, src: '2001:db8::1', dst: '2001:db8::2' }, udp(5353, 5353, new Uint8Array(4))))));
  assert.equal([v6.ok, v6.src, v6.dst, v6.protocol, v6.srcPort], [true, '2001:db8:0:0:0:0:0:1', '2001:db8:0:0:0:0:0:2', 17, 5353]);
  // not opened: the tunnel is the flow, as for any portless protocol
  const kept = (d: ReturnType<typeof decode>, raised: Record<string, number>, what: string) => {
    assert.ok(d.ok, what);
    assert.equal([d.src, d.dst, d.protocol, d.srcPort], ['198.51.100.1', '198.51.100.2', 47, 0], what);
    assert.equal(d.raised, raised, what);
  };
  kept(decode(outer(gre(0x0000, 0x8200, new Uint8Array(0), new Uint8Array(40)))), { 'decoder.ip.unsupported_proto': 1 }, 'Aruba WLAN (802.11 inside)');
  kept(decode(outer(gre(0x4000, 0x0800, new Uint8Array(0), inner))), { 'decoder.ip.unsupported_proto': 1 }, 'RFC 1701 routing');
  kept(decode(outer(gre(0x3000, 0x0800, new Uint8Array(2), new Uint8Array(0)))), { 'decoder.gre.too_small': 1, 'decoder.ip.unsupported_proto': 1 }, 'header cut short');
  let deep = inner;
  for (let i = 0; i < 4; i++) deep = ipv4({ proto: 47, src: '198.51.100.1', dst: '198.51.100.2' }, gre(0x0000, 0x0800, new Uint8Array(0), deep));
  kept(decode(ethernet(0x0800, deep)), { 'decoder.tunnel.too_deep': 1, 'decoder.ip.unsupported_proto': 1 }, 'four tunnels deep: the third is the flow');
  // a malformed packet inside is counted by its own decoder and skipped
  rejects(outer(gre(0x0000, 0x0800, new Uint8Array(0), new Uint8Array(12))), 'decoder.ipv4.too_small');
});

test('DNS query: qname dotted length, labels, longest label, entropy, qtype', () => {
  const name = 'www.Example.com';
  const d = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(40000, 53, dnsQuery(name, 28)))));
  assert.ok(d.ok);
  assert.equal(d.raised, {});
  assert.is(d.isDns, 1);
  assert.is(d.dnsQr, 0);
  assert.is(d.dnsQtype, 28);
  assert.is(d.dnsQnameLen, 15);
  assert.is(d.dnsQnameLabels, 3);
  assert.is(d.dnsQnameMaxLabel, 7);
  assert.ok(Math.abs(d.dnsQnameEntropy - shannon(name.toLowerCase())) < 1e-5, `${d.dnsQnameEntropy} vs ${shannon(name.toLowerCase())}`);
  const tunnel = 'aGVsbG8gd29ybGQgdGhpcyBpcyBhIHR1bm5lbA.t.example.org';
  const t = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(40000, 53, dnsQuery(tunnel, 16)))));
  assert.is(t.dnsQnameMaxLabel, 38);
  assert.ok(t.dnsQnameEntropy > d.dnsQnameEntropy);
  assert.ok(Math.abs(t.dnsQnameEntropy - shannon(tunnel.toLowerCase())) < 1e-5);
});

test('DNS response: QR, rcode, answer count; root name has zero length', () => {
  const d = decode(ethernet(0x86dd, ipv6({ next: 17 }, udp(53, 40000, dnsQuery('', 2, { response: true, rcode: 3, ancount: 2 })))));
  assert.ok(d.ok);
  assert.is(d.isDns, 1);
  assert.is(d.dnsQr, 1);
  assert.is(d.dnsRcode, 3);
  assert.is(d.dnsAncount, 2);
  assert.is(d.dnsQtype, 2);
  assert.is(d.dnsQnameLen, 0);
  assert.is(d.dnsQnameLabels, 0);
});

test('DNS malformed: short header, label past the end, compression pointer loop — UDP packet still kept', () => {
  const short = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, hex('beef0100')))));
  assert.ok(short.ok);
  assert.is(short.isDns, 0);
  assert.equal(short.raised, { 'decoder.dns.malformed': 1 });
  const cut = dnsQuery('abcdefgh.example', 1).subarray(0, 16);
  const c = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, cut))));
  assert.ok(c.ok);
  assert.is(c.isDns, 1);
  assert.is(c.dnsQnameLen, 0);
  assert.equal(c.raised, { 'decoder.dns.malformed': 1 });
  const loop = concat(hex('beef 0100 0001 0000 0000 0000'), hex('c00c'), hex('0001 0001'));
  const l = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, loop))));
  assert.ok(l.ok);
  assert.equal(l.raised, { 'decoder.dns.malformed': 1 });
  const long = Array.from({ length: 5 }, (_, i) => String.fromCharCode(97 + i).repeat(63)).join('.'); // 319 > 255
  const g = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, dnsQuery(long, 1)))));
  assert.ok(g.ok);
  assert.is(g.dnsQnameLen, 0);
  assert.equal(g.raised, { 'decoder.dns.malformed': 1 });
  const after = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, dnsQuery('ab.ab', 1)))));
  assert.ok(Math.abs(after.dnsQnameEntropy - shannon('ab.ab')) < 1e-5, 'histogram cleared after a rejected name');
  // A pointer to an earlier name is followed: qtype is read after the pointer, in the question.
  const ptr = concat(hex('beef 0100 0001 0000 0000 0000'), hex('c012'), hex('0010 0001'), hex('03 616263 00'));
  const p = decode(ethernet(0x0800, ipv4({ proto: 17 }, udp(1234, 53, ptr))));
  assert.equal(p.raised, {});
  assert.is(p.dnsQnameLen, 3);
  assert.is(p.dnsQtype, 16);
});

test('link types: BSD loopback both byte orders and all AF_INET6 values, SLL, SLL2, raw IP 101/228/229', () => {
  const v4 = ipv4({ proto: 17 }, udp(1, 2, new Uint8Array(0)));
  const v6 = ipv6({ next: 17 }, udp(3, 4, new Uint8Array(0)));
  assert.ok(decode(concat(hex('02000000'), v4), 0).ok);
  assert.ok(decode(concat(hex('00000002'), v4), 0).ok);
  for (const af of ['18000000', '1c000000', '1e000000', '0000001e']) {
    const d = decode(concat(hex(af), v6), 0);
    assert.ok(d.ok, af);
    assert.is(d.dstPort, 4);
  }
  assert.ok(decode(concat(hex('00000002'), v4), 108).ok);
  rejects(concat(hex('07000000'), v4), 'decoder.null.unsupported_family', 0);
  rejects(hex('0200'), 'decoder.null.too_small', 0);
  const sll = decode(concat(hex('0000 0001 0006 020000000001 0000'), hex('0800'), v4), 113);
  assert.ok(sll.ok);
  assert.is(sll.dstPort, 2);
  rejects(hex('0000000100060200'), 'decoder.sll.too_small', 113);
  const sll2 = decode(concat(hex('86dd 0000 00000002 0001 00 06 0200000000010000'), v6), 276);
  assert.ok(sll2.ok);
  assert.is(sll2.dstPort, 4);
  rejects(hex('86dd0000'), 'decoder.sll2.too_small', 276);
  assert.ok(decode(v4, 101).ok);
  assert.ok(decode(v6, 101).ok);
  assert.ok(decode(v4, 228).ok);
  assert.ok(decode(v6, 229).ok);
  rejects(v6, 'decoder.ipv4.wrong_version', 228);
  rejects(hex('5000'), 'decoder.raw.invalid_ip_version', 101);
  rejects(v4, 'decoder.link.unsupported', 147);
  rejects(new Uint8Array(0), 'decoder.pkt.too_small', 1);
});

test('ring: packets, bytes and IP packets are counted; events reach the exported counters', async () => {
  const core = await RawCore.load();
  const frames = [
    ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2 }))),
    ethernet(0x0806, new Uint8Array(28)),
    ethernet(0x0800, ipv4({ proto: 6, ihl: 4 }, tcp({ sport: 1, dport: 2 }))),
    concat(hex('00000002'), ipv4({ proto: 17 }, udp(1, 53, dnsQuery('a.b', 1)))),
  ];
  const n = core.pushPackets(frames.map((data, i) => ({ ts: 1000 + i, data, linktype: i === 3 ? 0 : 1 })));
  assert.is(n, 4);
  assert.is(core.stat(STAT_PACKETS), 4);
  assert.is(core.stat(STAT_BYTES), frames.reduce((s, f) => s + f.length, 0));
  assert.is(core.stat(STAT_IP_PACKETS), 2);
  assert.is(core.counter('decoder.non_ip'), 1);
  assert.is(core.counter('decoder.ipv4.hlen_too_small'), 1);
  assert.is(core.counter('decoder.dns.malformed'), 0);
});

test('ring: a record whose caplen runs past the ring is counted, and the batch ends without a trap', async () => {
  const core = await RawCore.load({ ringBytes: 4096 });
  const x = core.exports;
  const view = new DataView(core.memory.buffer, x.ringPtr(), core.ringBytes);
  const good = ethernet(0x0800, ipv4({ proto: 6 }, tcp({ sport: 1, dport: 2 })));
  view.setFloat64(0, 1, true);
  view.setUint32(8, good.length, true);
  view.setUint32(12, good.length, true);
  view.setUint16(16, 1, true);
  new Uint8Array(core.memory.buffer, x.ringPtr() + RECORD_HEADER_BYTES, good.length).set(good);
  const second = RECORD_HEADER_BYTES + ((good.length + 7) & ~7);
  view.setUint32(second + 8, 1 << 20, true); // 1 MiB caplen in a 4 KiB ring
  view.setUint16(second + 16, 1, true);
  assert.is(x.process(0, 3), 3, 'nothing is left to retry');
  assert.is(x.lastOffset(), second);
  assert.is(core.stat(STAT_PACKETS), 1);
  assert.is(core.counter('decoder.ring.record_invalid'), 1);
  assert.is(x.process(4, 1), 1, 'misaligned offset');
  assert.is(x.process(4096, 1), 1, 'offset at the end');
  assert.is(x.process(-8, 1), 1, 'negative offset');
  assert.is(core.counter('decoder.ring.record_invalid'), 4);
  // A record that ends exactly at the ring's end is fine.
  const last = core.ringBytes - RECORD_HEADER_BYTES - 64;
  view.setUint32(last + 8, 64, true);
  view.setUint32(last + 12, 64, true);
  view.setUint16(last + 16, 1, true);
  assert.is(x.process(last, 1), 1);
  assert.is(x.lastOffset(), core.ringBytes);
  assert.is(core.counter('decoder.ring.record_invalid'), 4);
  assert.is(core.stat(STAT_PACKETS), 2);
});

test('decoded fields reach the flow record: innermost VLAN, ports, bytes = IP total length under snap length', async () => {
  const core = await RawCore.load();
  core.keepRecords = true;
  const wrap = (ip: Uint8Array) => ethernet(0x88a8, concat(vlanTag(10, 0x8100), vlanTag(20, 0x0800), ip));
  const syn = wrap(ipv4({ proto: 6, src: '10.1.1.1', dst: '10.2.2.2' }, tcp({ sport: 50000, dport: 80, flags: 0x02 })));
  const synAck = wrap(ipv4({ proto: 6, src: '10.2.2.2', dst: '10.1.1.1' }, tcp({ sport: 80, dport: 50000, flags: 0x12 })));
  const data = wrap(ipv4({ proto: 6, src: '10.1.1.1', dst: '10.2.2.2', totalLength: 1500 }, tcp({ sport: 50000, dport: 80, flags: 0x18 })));
  core.pushPackets([
    { ts: 1000, data: syn, linktype: 1 },
    { ts: 1001, data: synAck, linktype: 1 },
    { ts: 1002, data, linktype: 1, wirelen: 1522 }, // 62 bytes captured of a 1522-byte frame
  ]);
  core.flushAll(END_REASONS.indexOf('end_of_input'));
  assert.is(core.records.length, 1);
  const r = core.records[0];
  assert.is(r.src, '10.1.1.1');
  assert.is(r.dst, '10.2.2.2');
  assert.is(r.srcPort, 50000);
  assert.is(r.dstPort, 80);
  assert.is(r.protocol, 6);
  assert.is(r.vlanId, 20);
  assert.is(r.srcToDstPackets, 2);
  assert.is(r.srcToDstBytes, 40 + 1500);
  assert.is(r.dstToSrcPackets, 1);
  assert.is(r.dstToSrcBytes, 40);
});

/** Classic little-endian pcap records, read directly (the product reader does not hand these link types on). */
function classicPcapFrames(path: string): { linktype: number; frames: { data: Uint8Array; wirelen: number }[] } {
  const b = readFileSync(path);
  assert.is(b.readUInt32LE(0), 0xa1b2c3d4, `${path} is little-endian µs pcap`);
  const linktype = b.readUInt32LE(20);
  const frames: { data: Uint8Array; wirelen: number }[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const caplen = b.readUInt32LE(off + 8);
    frames.push({ data: new Uint8Array(b.subarray(off + 16, off + 16 + caplen)), wirelen: b.readUInt32LE(off + 12) });
    off += 16 + caplen;
  }
  return { linktype, frames };
}

withTools(test, ['tshark'])('PPP, Cisco HDLC and NFLOG captures: the same IP packets and ports as tshark', () => {
  const files = [
    'suricata-verify/tests/decode-chdlc-01/hdlc-http_1tx.pcap',
    'suricata-verify/tests/defrag/bug-6887-defrag-ppp-ipv4-tcp-syn/frag-ppp-ip-tcp-syn.pcap',
    'suricata-verify/tests/defrag/bug-6887-defrag-ppp-ipv6-tcp/frag-ppp-ipv6-tcp.pcap',
    'ndpi/dlt_ppp.pcap',
    'zeek/Traces/nflog-http.pcap',
  ];
  for (const rel of files) {
    const path = sharedPcap(rel);
    const { linktype, frames } = classicPcapFrames(path);
    const ours = frames.map((f) => decode(f.data, linktype, f.wirelen)).map((d) => d.ok ? `${d.srcPort},${d.dstPort}` : 'x');
    const out = execFileSync('tshark', [
      '-r', path, '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
      '-T', 'fields', '-E', 'separator=,', '-e', 'ip.version', '-e', 'ipv6.version', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'tcp.dstport', '-e', 'udp.dstport',
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const theirs = out.trim().split('\n').map((line) => {
      const [v4, v6, ts, us, td, ud] = line.split(',');
      if (!v4 && !v6) return 'x';
      return `${Number(ts || us || 0)},${Number(td || ud || 0)}`;
    });
    assert.equal(ours, theirs, rel);
  }
  const bad = classicPcapFrames(sharedPcap('zeek/Traces/nflog-bad-tlv-len.pcap'));
  for (const f of bad.frames) assert.is(decode(f.data, bad.linktype, f.wirelen).ok, false);
});

test('every public capture decodes without a trap; IP packets and events are accounted for', async () => {
  const files = sharedCaptureFiles();
  assert.ok(files.length > 100, `found ${files.length} captures`);
  const core = await RawCore.load();
  let frames = 0;
  for (const file of files) {
    const cap = await captureFrames(file);
    frames += cap.frames.length;
    try {
      assert.is(core.pushPackets(cap.frames), cap.frames.length, file);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }
  assert.is(core.stat(STAT_PACKETS), frames);
  assert.ok(core.stat(STAT_IP_PACKETS) > frames * 0.9, 'most packets in the captures are IP');
  const ev = core.nonZeroCounters();
  // The captures were chosen for their variety: each of these must have been seen somewhere.
  for (const name of ['decoder.ipv4.frag', 'decoder.ipv6.frag', 'decoder.non_ip', 'decoder.ipv4.trunc_pkt', 'decoder.ipv4.tlen_zero_tso', 'decoder.ipv6.exthdr_too_many']) {
    assert.ok(ev[name] > 0, `${name} never counted: ${JSON.stringify(ev)}`);
  }
  assert.is(core.memory.buffer.byteLength, core.memoryBytesAfterInit, 'memory did not grow');
});

test.run();
