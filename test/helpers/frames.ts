/**
 * Hand-built packets for decoder tests: each builder returns the bytes of one layer wrapped around a payload,
 * with correct lengths unless a test overrides a field to make it malformed.
 */
export type Bytes = Uint8Array;

export function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function hex(s: string): Bytes {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function u16(v: number): Bytes { return Uint8Array.of((v >> 8) & 0xff, v & 0xff); }

export function ipv4Addr(s: string): Bytes { return Uint8Array.from(s.split('.').map(Number)); }

export function ipv6Addr(s: string): Bytes {
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return concat(...groups.map((g) => u16(parseInt(g, 16))));
}

export const MAC_A = hex('020000000001');
export const MAC_B = hex('020000000002');

export function ethernet(type: number, payload: Bytes): Bytes {
  return concat(MAC_B, MAC_A, u16(type), payload);
}

/** One 802.1Q-style tag: TCI (VLAN id) then the next ethertype; `tpid` goes in the header before it. */
export function vlanTag(id: number, nextType: number): Bytes {
  return concat(u16(id & 0x0fff), u16(nextType));
}

export interface Ipv4Opts {
  src?: string; dst?: string; proto: number; ihl?: number; totalLength?: number; flagsFrag?: number;
  options?: Bytes; version?: number;
}

export function ipv4(o: Ipv4Opts, payload: Bytes): Bytes {
  const opts = o.options ?? new Uint8Array(0);
  const ihl = o.ihl ?? 5 + opts.length / 4;
  const h = new Uint8Array(20);
  h[0] = ((o.version ?? 4) << 4) | ihl;
  h.set(u16(o.totalLength ?? 20 + opts.length + payload.length), 2);
  h.set(u16(0x1234), 4);
  h.set(u16(o.flagsFrag ?? 0x4000), 6);
  h[8] = 64;
  h[9] = o.proto;
  h.set(ipv4Addr(o.src ?? '10.0.0.1'), 12);
  h.set(ipv4Addr(o.dst ?? '10.0.0.2'), 16);
  return concat(h, opts, payload);
}

export interface Ipv6Opts { src?: string; dst?: string; next: number; payloadLength?: number }

export function ipv6(o: Ipv6Opts, payload: Bytes): Bytes {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h.set(u16(o.payloadLength ?? payload.length), 4);
  h[6] = o.next;
  h[7] = 64;
  h.set(ipv6Addr(o.src ?? '2001:db8::1'), 8);
  h.set(ipv6Addr(o.dst ?? '2001:db8::2'), 24);
  return concat(h, payload);
}

/** Generic IPv6 extension header ((len+1)*8 bytes) with `next` and zero padding. */
export function ipv6Ext(next: number, units8 = 1): Bytes {
  const h = new Uint8Array(units8 * 8);
  h[0] = next;
  h[1] = units8 - 1;
  return h;
}

export function ipv6Frag(next: number, offset8: number, more: boolean): Bytes {
  const h = new Uint8Array(8);
  h[0] = next;
  h.set(u16((offset8 << 3) | (more ? 1 : 0)), 2);
  h.set([0, 0, 0xab, 0xcd], 4);
  return h;
}

export interface TcpOpts { sport: number; dport: number; flags?: number; window?: number; dataOffset?: number; options?: Bytes }

export function tcp(o: TcpOpts, payload: Bytes = new Uint8Array(0)): Bytes {
  const opts = o.options ?? new Uint8Array(0);
  const h = new Uint8Array(20);
  h.set(u16(o.sport), 0);
  h.set(u16(o.dport), 2);
  h[12] = (o.dataOffset ?? 5 + opts.length / 4) << 4;
  h[13] = o.flags ?? 0x02;
  h.set(u16(o.window ?? 64240), 14);
  return concat(h, opts, payload);
}

export function udp(sport: number, dport: number, payload: Bytes, length?: number): Bytes {
  return concat(u16(sport), u16(dport), u16(length ?? 8 + payload.length), u16(0), payload);
}

export function icmp(type: number, code: number, rest: Bytes = new Uint8Array(4)): Bytes {
  return concat(Uint8Array.of(type, code, 0, 0), rest);
}

/** DNS message with one question (labels from a dotted name) and optional raw answer bytes. */
export function dnsQuery(name: string, qtype: number, o: { response?: boolean; rcode?: number; ancount?: number } = {}): Bytes {
  const flags = (o.response ? 0x8000 : 0) | 0x0100 | (o.rcode ?? 0);
  const header = concat(u16(0xbeef), u16(flags), u16(1), u16(o.ancount ?? 0), u16(0), u16(0));
  const labels = name === '' ? [] : name.split('.');
  const qname = concat(...labels.map((l) => concat(Uint8Array.of(l.length), new TextEncoder().encode(l))), Uint8Array.of(0));
  return concat(header, qname, u16(qtype), u16(1));
}

/** Shannon entropy (bits per character) of a string: the reference for the core's DNS name entropy. */
export function shannon(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) { const p = n / s.length; h -= p * Math.log2(p); }
  return h;
}
