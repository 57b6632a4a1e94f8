/**
 * Builds capture files byte by byte for tests: classic pcap (µs/ns, little/big endian) and pcapng (sections in
 * either byte order, interfaces with if_tsresol/if_tsoffset, EPB, SPB, obsolete PB, unknown blocks), plus small
 * Ethernet/IPv4/IPv6/TCP/UDP frames. Independent of the readers it tests: it only uses Buffer writes.
 */

export interface Packet {
  /** timestamp in seconds since the epoch, as a decimal string or number (string keeps ns exact) */
  ts: number | bigint;
  data: Uint8Array;
  /** original length; defaults to data.length */
  wirelen?: number;
  /** pcapng: interface index (default 0) */
  iface?: number;
}

function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0); else b.writeUInt32BE(v >>> 0);
  return b;
}
function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v); else b.writeUInt16BE(v);
  return b;
}

/** Timestamps as bigint nanoseconds since the epoch (numbers are seconds). */
export function tsNs(ts: number | bigint): bigint {
  return typeof ts === 'bigint' ? ts : BigInt(Math.round(ts * 1e6)) * 1000n;
}

export function pcapFile(packets: Packet[], opts: { le?: boolean; nanos?: boolean; linktype?: number; snaplen?: number } = {}): Buffer {
  const le = opts.le ?? true;
  const nanos = opts.nanos ?? false;
  const parts: Buffer[] = [
    u32(nanos ? 0xa1b23c4d : 0xa1b2c3d4, le), u16(2, le), u16(4, le), u32(0, le), u32(0, le),
    u32(opts.snaplen ?? 262144, le), u32(opts.linktype ?? 1, le),
  ];
  for (const p of packets) {
    const ns = tsNs(p.ts);
    const sec = Number(ns / 1_000_000_000n);
    const frac = Number(ns % 1_000_000_000n);
    parts.push(u32(sec, le), u32(nanos ? frac : Math.floor(frac / 1000), le), u32(p.data.length, le), u32(p.wirelen ?? p.data.length, le), Buffer.from(p.data));
  }
  return Buffer.concat(parts);
}

function pad4(b: Buffer): Buffer {
  const r = b.length % 4;
  return r === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - r)]);
}

function block(type: number, body: Buffer, le: boolean): Buffer {
  const b = pad4(body);
  const len = b.length + 12;
  return Buffer.concat([u32(type, le), u32(len, le), b, u32(len, le)]);
}

export interface Interface {
  linktype: number;
  snaplen?: number;
  /** raw if_tsresol byte: 6 = µs (default), 9 = ns, 0x80|n = 2^-n s */
  tsresol?: number;
  /** if_tsoffset in seconds */
  tsoffset?: number;
}

/** Timestamp in units of the interface's resolution. */
function units(ns: bigint, tsresol: number): bigint {
  if (tsresol & 0x80) {
    // 2^-n seconds: ns * 2^n / 1e9 (exact for the test values used)
    return (ns << BigInt(tsresol & 0x7f)) / 1_000_000_000n;
  }
  const p = tsresol;
  return p >= 9 ? ns * 10n ** BigInt(p - 9) : ns / 10n ** BigInt(9 - p);
}

export interface Section {
  le?: boolean;
  interfaces: Interface[];
  packets: Packet[];
  /** also write the packets of interface 0 as Simple Packet Blocks */
  simple?: boolean;
  /** add an unknown (custom) block before the packets */
  unknownBlock?: boolean;
}

export function pcapngSection(s: Section): Buffer {
  const le = s.le ?? true;
  const parts: Buffer[] = [];
  // SHB: byte-order magic, version 1.0, section length unknown (-1)
  parts.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), u32(0xffffffff, le), u32(0xffffffff, le)]), le));
  for (const i of s.interfaces) {
    const opts: Buffer[] = [];
    if (i.tsresol !== undefined) opts.push(u16(9, le), u16(1, le), Buffer.from([i.tsresol, 0, 0, 0]));
    if (i.tsoffset !== undefined) {
      const b = Buffer.alloc(8);
      if (le) b.writeBigInt64LE(BigInt(i.tsoffset)); else b.writeBigInt64BE(BigInt(i.tsoffset));
      opts.push(u16(14, le), u16(8, le), b);
    }
    if (opts.length) opts.push(u16(0, le), u16(0, le));
    parts.push(block(1, Buffer.concat([u16(i.linktype, le), u16(0, le), u32(i.snaplen ?? 0, le), ...opts]), le));
  }
  if (s.unknownBlock) parts.push(block(0x0badcafe, Buffer.from('ignore me, I am not a packet'), le));
  for (const p of s.packets) {
    const iface = p.iface ?? 0;
    if (s.simple && iface === 0) {
      parts.push(block(3, Buffer.concat([u32(p.wirelen ?? p.data.length, le), Buffer.from(p.data)]), le));
      continue;
    }
    const resol = s.interfaces[iface].tsresol ?? 6;
    const off = BigInt(s.interfaces[iface].tsoffset ?? 0) * 1_000_000_000n;
    const t = units(tsNs(p.ts) - off, resol);
    parts.push(block(6, Buffer.concat([
      u32(iface, le), u32(Number(t >> 32n), le), u32(Number(t & 0xffffffffn), le),
      u32(p.data.length, le), u32(p.wirelen ?? p.data.length, le), Buffer.from(p.data),
    ]), le));
  }
  return Buffer.concat(parts);
}

export function pcapngFile(sections: Section[]): Buffer {
  return Buffer.concat(sections.map(pcapngSection));
}

// ---- frames -------------------------------------------------------------------------------------------

function ipv4Bytes(a: string): number[] { return a.split('.').map(Number); }

function ipv6Bytes(a: string): number[] {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => { const v = parseInt(g, 16); return [v >> 8, v & 0xff]; });
}

function csum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export interface FrameSpec {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp';
  sport: number;
  dport: number;
  /** TCP flags byte (SYN 0x02, ACK 0x10, FIN 0x01, RST 0x04, PSH 0x08) */
  flags?: number;
  payload?: number;
  vlan?: number;
}

/** An Ethernet frame (optionally 802.1Q-tagged) with an IPv4 or IPv6 header and a TCP or UDP header. */
export function frame(f: FrameSpec): Buffer {
  const v6 = f.src.includes(':');
  const payload = Buffer.alloc(f.payload ?? 0, 0x61);
  const l4 = f.proto === 'tcp' ? Buffer.alloc(20) : Buffer.alloc(8);
  l4.writeUInt16BE(f.sport, 0);
  l4.writeUInt16BE(f.dport, 2);
  if (f.proto === 'tcp') {
    l4.writeUInt32BE(1000, 4);
    l4[12] = 5 << 4;
    l4[13] = f.flags ?? 0x10;
    l4.writeUInt16BE(64240, 14);
  } else {
    l4.writeUInt16BE(8 + payload.length, 4);
  }
  const seg = Buffer.concat([l4, payload]);
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(seg.length, 4);
    ip[6] = f.proto === 'tcp' ? 6 : 17;
    ip[7] = 64;
    Buffer.from(ipv6Bytes(f.src)).copy(ip, 8);
    Buffer.from(ipv6Bytes(f.dst)).copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + seg.length, 2);
    ip[8] = 64;
    ip[9] = f.proto === 'tcp' ? 6 : 17;
    Buffer.from(ipv4Bytes(f.src)).copy(ip, 12);
    Buffer.from(ipv4Bytes(f.dst)).copy(ip, 16);
    ip.writeUInt16BE(csum(ip), 10);
  }
  const eth = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  const ethertype = v6 ? 0x86dd : 0x0800;
  const tag = f.vlan !== undefined ? Buffer.from([0x81, 0x00, (f.vlan >> 8) & 0x0f, f.vlan & 0xff]) : Buffer.alloc(0);
  const et = Buffer.alloc(2);
  et.writeUInt16BE(ethertype);
  return Buffer.concat([eth, tag, et, ip, seg]);
}

/** The same packet without its Ethernet header (raw IP link types 101/228/229). */
export function rawIp(f: FrameSpec): Buffer {
  return frame({ ...f, vlan: undefined }).subarray(14);
}
