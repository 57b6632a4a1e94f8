/**
 * Generated traffic for benchmarks: flow number i is one bidirectional UDP conversation between one of 4,096
 * client hosts (10.0.x.y, source port from i) and one of 16 servers (192.168.0.x:5000), written into a reusable
 * 60-byte Ethernet frame — no allocation per packet, so what a benchmark measures is the core, not garbage.
 */
export const FRAME_BYTES = 60;
export const LINKTYPE_ETHERNET = 1;
export const MAX_GENERATED_FLOWS = 4096 * 64_000;

const CLIENT_HOSTS = 4096;
const SERVERS = 16;
// An application port no decoder interprets (53 would make the payload a malformed DNS message).
const SERVER_PORT = 5000;

function ipv4Checksum(f: Uint8Array, off: number): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += (f[off + i] << 8) | f[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const TEMPLATE = new Uint8Array([
  0x02, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0x08, 0x00, // Ethernet: locally administered MACs, IPv4
  0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // IPv4: 20 bytes, total 46, DF, TTL 64, UDP
  0, 0, 0, 0, 0, 26, 0, 0, // UDP: length 26, checksum 0 (allowed over IPv4)
  ...new Array(18).fill(0x51), // payload
]);

/** Writes packet `reply ? server→client : client→server` of flow `i` into `f` (FRAME_BYTES long). */
export function buildFlowPacket(f: Uint8Array, i: number, reply: boolean): void {
  if (i < 0 || i >= MAX_GENERATED_FLOWS) throw new RangeError(`flow index ${i}`);
  const host = i % CLIENT_HOSTS;
  const port = 1024 + Math.floor(i / CLIENT_HOSTS);
  const server = 1 + (i % SERVERS);
  f.set(TEMPLATE, 0);
  f[5] = reply ? 1 : 2;
  f[11] = reply ? 2 : 1;
  f[18] = (i >>> 8) & 255; // IP id
  f[19] = i & 255;
  const c = reply ? 30 : 26; // client address goes to dst when replying
  const s = reply ? 26 : 30;
  f[c] = 10; f[c + 1] = 0; f[c + 2] = host >>> 8; f[c + 3] = host & 255;
  f[s] = 192; f[s + 1] = 168; f[s + 2] = 0; f[s + 3] = server;
  const ck = ipv4Checksum(f, 14);
  f[24] = ck >>> 8;
  f[25] = ck & 255;
  const cp = reply ? 36 : 34; // client port: source on the request, destination on the reply
  const sp = reply ? 34 : 36;
  f[cp] = port >>> 8; f[cp + 1] = port & 255;
  f[sp] = SERVER_PORT >>> 8; f[sp + 1] = SERVER_PORT & 255;
  if (reply) f.fill(0x52, 42, 60);
}

const SYN_TEMPLATE = new Uint8Array([
  0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, // Ethernet, IPv4
  0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 0, 0, 0, 0, 192, 168, 0, 200, // IPv4: total 40, TCP, to the victim
  0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0, // TCP: to port 80, SYN, window 8192
  0, 0, 0, 0, 0, 0, // Ethernet padding to 60 bytes
]);

/**
 * Packet `i` of a spoofed SYN flood: a SYN to 192.168.0.200:80 from a pseudo-random source address and port (as
 * hping3 --rand-source sends), so every packet is a flow of its own. The TCP checksum is left 0: the core does not
 * verify it.
 */
export function buildSynFloodPacket(f: Uint8Array, i: number): void {
  f.set(SYN_TEMPLATE, 0);
  const h = Math.imul(i + 1, 0x9e3779b1) >>> 0; // spread consecutive indices over the address space
  f[18] = (i >>> 8) & 255;
  f[19] = i & 255;
  f[26] = 11 + (h % 200); f[27] = (h >>> 8) & 255; f[28] = (h >>> 16) & 255; f[29] = 1 + ((h >>> 24) % 254);
  const ck = ipv4Checksum(f, 14);
  f[24] = ck >>> 8;
  f[25] = ck & 255;
  const port = 1024 + (Math.imul(h, 31) >>> 0) % 64_000;
  f[34] = port >>> 8; f[35] = port & 255;
  f[38] = h >>> 24; f[39] = (h >>> 16) & 255; f[40] = (h >>> 8) & 255; f[41] = h & 255; // sequence number
}
