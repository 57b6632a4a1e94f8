/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): the flow hash Suricata, Zeek, Elastic and
 * Wireshark share, so one flow can be followed across their logs. SHA-1 over seed (2 bytes), the two addresses,
 * the protocol, one zero byte and, for protocols with ports, the two ports — ordered so both directions hash
 * alike — then "1:" + base64.
 *
 * ICMP has no ports: its type and code stand in, and a request/reply pair (echo, timestamp, …) maps both ends to
 * (type, counterpart type) so the request and its reply share an id; other types are one-way (type, code) and
 * are not reordered.
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

export interface CommunityTuple {
  proto: number;
  srcIp: string;
  dstIp: string;
  /** Transport ports; for ICMP/ICMPv6 the type (src) and code (dst). Ignored for protocols without ports. */
  srcPort: number;
  dstPort: number;
}

/** Protocols whose ports (or ICMP type/code) go into the hash. */
const PORTED = new Set([1, 6, 17, 58, 132]);

/** The spec's counterpart tables (from Zeek's ICMP4_counterpart / ICMP6_counterpart). */
const ICMP4_PAIRS: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 17: 18, 18: 17 };
const ICMP6_PAIRS: Record<number, number> = {
  128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144,
};

/** An IPv4 dotted quad or any textual IPv6 form (with ::, or a dotted IPv4 tail) to its network-order bytes. */
export function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IP address: ${ip}`);
  const [head, tail] = halves as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head), t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new Error(`not an IP address: ${ip}`);
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The reply type of an ICMP/ICMPv6 request type (and the request of a reply), or undefined for one-way types. */
export function icmpCounterpart(proto: number, type: number): number | undefined {
  return (proto === 1 ? ICMP4_PAIRS : proto === 58 ? ICMP6_PAIRS : {})[type];
}

/** 2-byte seed || addresses || proto || 0 || ports, ordered; the whole input the spec hashes. */
function hashInput(t: CommunityTuple, seed: number): Buffer {
  let src = ipBytes(t.srcIp), dst = ipBytes(t.dstIp);
  const ported = PORTED.has(t.proto);
  let sp = ported ? t.srcPort : 0, dp = ported ? t.dstPort : 0;
  let oneWay = false;
  if (t.proto === 1 || t.proto === 58) {
    const pair = icmpCounterpart(t.proto, sp);
    if (pair === undefined) oneWay = true;
    else dp = pair;
  }
  const order = Buffer.compare(src, dst);
  if (!oneWay && (order > 0 || (order === 0 && sp > dp))) {
    [src, dst] = [dst, src];
    [sp, dp] = [dp, sp];
  }
  const head = Buffer.alloc(2);
  head.writeUInt16BE(seed);
  const tail = Buffer.alloc(ported ? 6 : 2);
  tail[0] = t.proto;
  if (ported) { tail.writeUInt16BE(sp, 2); tail.writeUInt16BE(dp, 4); }
  return Buffer.concat([head, src, dst, tail]);
}

/** SHA-1 digest of the Community ID input (flow_id is derived from it too). */
export function communityDigest(t: CommunityTuple, seed = 0): Buffer {
  return createHash('sha1').update(hashInput(t, seed)).digest();
}

/** "1:" + base64(SHA-1): the `community_id` field of Suricata's EVE. */
export function communityId(t: CommunityTuple, seed = 0): string {
  return `1:${communityDigest(t, seed).toString('base64')}`;
}
