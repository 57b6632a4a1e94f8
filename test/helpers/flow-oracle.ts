/**
 * Independent per-flow packet/byte counts from tshark, and the same aggregation over `netsensor flows` records,
 * so test/tshark-oracle.test.ts can compare them.
 *
 * Where the two definitions of a "flow" differ, the comparison is made where they agree:
 *  - tshark's conversations never split; netsensor ends a record on FIN/RST (+ linger), idle/active timeouts
 *    and eviction, and a SYN reusing a closed connection's ports starts a new record. Records with the same
 *    5-tuple are therefore summed before comparing — their totals must still match exactly, per direction.
 *  - bytes are the IP total length (IPv4 ip.len; IPv6 40 + payload length), not tshark's frame bytes.
 *  - only plain TCP/UDP over IPv4/IPv6 is compared: ICMP errors quoting a TCP/UDP header, IP fragments and
 *    tunnels are keyed differently by design (netsensor keys the outer header; later fragments have no ports).
 *  - VLAN ids are not part of the compared key (tshark's first occurrence is the outer tag, netsensor's the inner).
 */
import { execFileSync } from 'node:child_process';

export interface DirCounts { aToB: [number, number]; bToA: [number, number] }
export type FlowTotals = Map<string, DirCounts>;

/** Canonical key: protocol and the two endpoints in sorted order; `forward` says whether (src → dst) is A → B. */
export function canonical(proto: number, src: string, sport: number, dst: string, dport: number): { key: string; forward: boolean } {
  const a = `${src}|${sport}`;
  const b = `${dst}|${dport}`;
  return a <= b ? { key: `${proto} ${a} ${b}`, forward: true } : { key: `${proto} ${b} ${a}`, forward: false };
}

function add(m: FlowTotals, proto: number, src: string, sport: number, dst: string, dport: number, packets: number, bytes: number): void {
  const { key, forward } = canonical(proto, src, sport, dst, dport);
  let e = m.get(key);
  if (!e) m.set(key, (e = { aToB: [0, 0], bToA: [0, 0] }));
  const d = forward ? e.aToB : e.bToA;
  d[0] += packets;
  d[1] += bytes;
}

const FILTER = '(tcp or udp) and not count(ip) > 1 and not count(ipv6) > 1 and not (ip and ipv6) and not icmp and not icmpv6 and not gre and not vxlan and not gtp and not ip.flags.mf == 1 and not ip.frag_offset > 0 and not ipv6.fragment';
/** For GRE tunnels netsensor opens: any number of IP layers, compared on the innermost. */
const FILTER_INNER = '(tcp or udp) and not icmp and not icmpv6 and not vxlan and not gtp and not ip.flags.mf == 1 and not ip.frag_offset > 0 and not ipv6.fragment';

/** Per-5-tuple totals computed by tshark from the frames themselves (no reassembly). */
export function tsharkTotals(file: string, layer: 'outer' | 'inner' = 'outer'): { totals: FlowTotals; synSenders: Map<string, string> } {
  // `inner`: the innermost IP header of a tunnelled packet (what netsensor keys an opened GRE tunnel's packets by)
  const out = execFileSync('tshark', [
    '-r', file, '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-Y', layer === 'inner' ? FILTER_INNER : FILTER,
    '-T', 'fields', '-E', `occurrence=${layer === 'inner' ? 'l' : 'f'}`, '-E', 'separator=/t',
    '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'ip.len', '-e', 'ipv6.plen',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.flags',
  ], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  const totals: FlowTotals = new Map();
  const synSenders = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [s4, d4, s6, d6, len4, plen6, ts, td, us, ud, flags] = line.split('\t');
    const v4 = s4 !== '';
    const src = v4 ? s4 : s6;
    const dst = v4 ? d4 : d6;
    const bytes = v4 ? Number(len4) : 40 + Number(plen6);
    const isTcp = ts !== '';
    const proto = isTcp ? 6 : 17;
    const sport = Number(isTcp ? ts : us);
    const dport = Number(isTcp ? td : ud);
    add(totals, proto, src, sport, dst, dport, 1, bytes);
    if (isTcp && (parseInt(flags, 16) & 0x12) === 0x02) {
      const { key } = canonical(proto, src, sport, dst, dport);
      if (!synSenders.has(key)) synSenders.set(key, `${src}|${sport}`);
    }
  }
  return { totals, synSenders };
}

export interface FlowRecordLike {
  src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: number;
  src2dst_packets: number; src2dst_bytes: number; dst2src_packets: number; dst2src_bytes: number;
  first_seen_ms: number;
}

/** The same totals from netsensor records (records of one 5-tuple summed). */
export function recordTotals(records: FlowRecordLike[]): { totals: FlowTotals; initiators: Map<string, string> } {
  const totals: FlowTotals = new Map();
  const initiators = new Map<string, string>();
  const sorted = [...records].sort((a, b) => a.first_seen_ms - b.first_seen_ms);
  for (const r of sorted) {
    if (r.protocol !== 6 && r.protocol !== 17) continue;
    add(totals, r.protocol, r.src_ip, r.src_port, r.dst_ip, r.dst_port, r.src2dst_packets, r.src2dst_bytes);
    add(totals, r.protocol, r.dst_ip, r.dst_port, r.src_ip, r.src_port, r.dst2src_packets, r.dst2src_bytes);
    const { key } = canonical(r.protocol, r.src_ip, r.src_port, r.dst_ip, r.dst_port);
    if (!initiators.has(key)) initiators.set(key, `${r.src_ip}|${r.src_port}`);
  }
  return { totals, initiators };
}

/** Differences between the two, as readable lines (empty = agreement). */
export function diffTotals(expected: FlowTotals, actual: FlowTotals, limit = 20): string[] {
  const out: string[] = [];
  for (const [k, e] of expected) {
    const a = actual.get(k);
    if (!a) out.push(`missing in netsensor: ${k} ${JSON.stringify(e)}`);
    else if (JSON.stringify(a) !== JSON.stringify(e)) out.push(`${k}: tshark ${JSON.stringify(e)} netsensor ${JSON.stringify(a)}`);
  }
  for (const [k, a] of actual) if (!expected.has(k)) out.push(`only in netsensor: ${k} ${JSON.stringify(a)}`);
  return out.slice(0, limit);
}
