/**
 * An ICMP tunnel's traffic (ptunnel/icmptunnel shape): sustained echo requests with high-entropy payloads of
 * hundreds of bytes; the peer's kernel answers each with an echo reply carrying the same bytes back, so both
 * directions carry the payload. Node has no raw sockets and hping3 can neither vary the size within a run nor
 * keep one echo identifier across runs (it uses its pid), so the requests are written as a capture — one echo
 * identifier per session, a size per packet, the pacing in the timestamps — and sent with tcpreplay.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Rng } from '../train/rng.js';

export interface IcmpTunnelParams {
  host: string;
  /** The peer's MAC (tcpreplay sends whole frames: no ARP of its own). */
  peerMac: string;
  /** Tunnel connections, one after another with a pause between them; `count` requests in all. */
  sessions: number;
  count: number;
  /** Mean gap between requests (jittered ±50 %). */
  gapMs: number;
  sizeMin: number;
  sizeMax: number;
  /** Requests scheduled later than this are left out, so the replay ends before the actor's deadline. */
  maxMs: number;
}

export interface TimedFrame { atMs: number; frame: Buffer }

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const macBytes = (mac: string): Buffer => Buffer.from(mac.replaceAll(':', ''), 'hex');
const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** Ethernet + IPv4 + ICMP echo request, checksums filled in. */
export function echoRequestFrame(src: { mac: string; ip: string }, dst: { mac: string; ip: string }, ident: number, seq: number, ipId: number, payload: Buffer): Buffer {
  const icmp = Buffer.concat([Buffer.from([8, 0, 0, 0, ident >> 8, ident & 0xff, seq >> 8, seq & 0xff]), payload]);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip.writeUInt16BE(ipId, 4);
  ip.writeUInt16BE(0x4000, 6); // DF, as Linux sets it
  ip[8] = 64;
  ip[9] = 1;
  ipBytes(src.ip).copy(ip, 12);
  ipBytes(dst.ip).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([macBytes(dst.mac), macBytes(src.mac), Buffer.from([0x08, 0x00]), ip, icmp]);
}

/** The whole tunnel's requests on a timeline: sessions in turn, each with its own identifier. */
export function tunnelSchedule(p: IcmpTunnelParams, self: { mac: string; ip: string }, rng: Rng, randomBytes: (n: number) => Buffer): TimedFrame[] {
  const out: TimedFrame[] = [];
  const sessions = Math.max(1, p.sessions), perSession = Math.floor(p.count / sessions);
  const peer = { mac: p.peerMac, ip: p.host };
  let t = 0;
  for (let s = 0; s < sessions; s++) {
    const ident = rng.int(0x10000);
    for (let seq = 0; seq < perSession; seq++) {
      if (t > p.maxMs) return out;
      const size = p.sizeMin + rng.int(p.sizeMax - p.sizeMin + 1);
      out.push({ atMs: t, frame: echoRequestFrame(self, peer, ident, seq, rng.int(0x10000), randomBytes(size)) });
      t += p.gapMs * (0.5 + rng.next());
    }
    t += 500 + rng.int(1000);
  }
  return out;
}

/** Classic pcap, Ethernet, microsecond timestamps from `startMs`. */
export function pcapOf(frames: TimedFrame[], startMs: number): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0); head.writeUInt16LE(2, 4); head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16); head.writeUInt32LE(1, 20);
  return Buffer.concat([head, ...frames.flatMap(({ atMs, frame }) => {
    const us = Math.round((startMs + atMs) * 1000);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(us / 1e6), 0); rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8); rec.writeUInt32LE(frame.length, 12);
    return [rec, frame];
  })]);
}

/** The namespace's one link (the lab gives each host a single veth) and its MAC. */
function ownLink(): { dev: string; mac: string } {
  const dev = readdirSync('/sys/class/net').find((d) => d !== 'lo');
  if (!dev) throw new Error('no network interface in this namespace');
  return { dev, mac: readFileSync(`/sys/class/net/${dev}/address`, 'utf8').trim() };
}

export async function icmpTunnel(p: IcmpTunnelParams, selfIp: string, rng: Rng, randomBytes: (n: number) => Buffer): Promise<void> {
  const link = ownLink();
  const dir = mkdtempSync(join(tmpdir(), 'lab-icmptunnel-'));
  try {
    const file = join(dir, 'requests.pcap');
    writeFileSync(file, pcapOf(tunnelSchedule(p, { mac: link.mac, ip: selfIp }, rng, randomBytes), 0));
    // tcpreplay keeps the capture's timing, so the pacing above is what goes on the wire.
    await new Promise<void>((resolve, reject) => {
      const c = spawn('tcpreplay', ['-q', '-i', link.dev, file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      c.once('error', reject);
      c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tcpreplay exited ${code}: ${err.trim().slice(0, 300)}`))));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
