/**
 * Writes a large synthetic pcap for the flow benchmark, fast (a few seconds for millions of packets): every
 * packet is patched into a reused output buffer with DataView stores — no object per packet.
 *
 * `slots` flows are live at any time (the concurrency): packets visit the slots round-robin, and when a slot's
 * flow has sent all its packets a new flow takes the slot. 3 of 4 flows are TCP (SYN, SYN-ACK, ACK, data both
 * ways, FIN both ways, last ACK), 1 of 4 UDP request/response; 10–30 packets per flow. Timestamps advance
 * `stepUs` per packet, so each flow's packets are `slots × stepUs` apart (≤ 0.5 s by default) — inside every
 * timeout and the FIN linger, so every generated flow is exactly one record.
 */
import { openSync, writeSync, closeSync } from 'node:fs';

export interface GenerateOptions {
  packets: number;
  slots: number;
  stepUs?: number;
}

export interface Generated { packets: number; flows: number; bytes: number }

const CLIENT_HOSTS = 50_000;
const SERVERS = 64;

export function generatePcap(path: string, o: GenerateOptions): Generated {
  // keep each flow's packets ≤ 0.5 s apart: inside every timeout and the 1 s FIN linger, so records = flows
  const stepUs = o.stepUs ?? Math.max(1, Math.floor(500_000 / o.slots));
  const fd = openSync(path, 'w');
  const buf = new Uint8Array(8 << 20);
  const dv = new DataView(buf.buffer);
  let pos = 0;
  const hdr = new DataView(new ArrayBuffer(24));
  hdr.setUint32(0, 0xa1b2c3d4, true);
  hdr.setUint16(4, 2, true);
  hdr.setUint16(6, 4, true);
  hdr.setUint32(16, 65535, true);
  hdr.setUint32(20, 1, true);
  buf.set(new Uint8Array(hdr.buffer), 0);
  pos = 24;
  let bytes = 0;

  // per-slot state
  const seq = new Int32Array(o.slots); // flow number in the slot
  const step = new Int32Array(o.slots);
  const len = new Int32Array(o.slots);
  let nextFlow = 0;
  const startFlow = (s: number) => { seq[s] = nextFlow++; step[s] = 0; len[s] = 10 + (seq[s] % 21); };
  for (let s = 0; s < o.slots; s++) startFlow(s);

  const t0 = 1_700_000_000 * 1e6;
  for (let p = 0; p < o.packets; p++) {
    const s = p % o.slots;
    if (step[s] >= len[s]) startFlow(s);
    const f = seq[s];
    const k = step[s]++;
    const n = len[s];
    const udp = (f & 3) === 3;
    let fromClient: boolean;
    let flags = 0;
    let payload: number;
    if (udp) {
      fromClient = (k & 1) === 0;
      payload = fromClient ? 40 : 160;
    } else if (k === 0) { fromClient = true; flags = 0x02; payload = 0; }
    else if (k === 1) { fromClient = false; flags = 0x12; payload = 0; }
    else if (k === 2) { fromClient = true; flags = 0x10; payload = 0; }
    else if (k === n - 3) { fromClient = true; flags = 0x11; payload = 0; }
    else if (k === n - 2) { fromClient = false; flags = 0x11; payload = 0; }
    else if (k === n - 1) { fromClient = true; flags = 0x10; payload = 0; }
    else { fromClient = (k & 1) === 1; flags = 0x18; payload = fromClient ? 40 : 160; }

    const l4 = udp ? 8 : 20;
    const ipLen = 20 + l4 + payload;
    const caplen = 14 + ipLen;
    if (pos + 16 + caplen > buf.length) { writeSync(fd, buf, 0, pos); pos = 0; }
    const ts = t0 + p * stepUs;
    dv.setUint32(pos, Math.floor(ts / 1e6), true);
    dv.setUint32(pos + 4, ts % 1e6, true);
    dv.setUint32(pos + 8, caplen, true);
    dv.setUint32(pos + 12, caplen, true);
    const e = pos + 16;
    // Ethernet
    dv.setUint32(e, 0x02000000, false); dv.setUint16(e + 4, fromClient ? 1 : 2, false);
    dv.setUint32(e + 6, 0x02000000, false); dv.setUint16(e + 10, fromClient ? 2 : 1, false);
    dv.setUint16(e + 12, 0x0800, false);
    // IPv4 (header checksum left 0: the core does not verify it)
    const ip = e + 14;
    dv.setUint32(ip, 0x45000000 | ipLen, false);
    dv.setUint32(ip + 4, 0x4000, false);
    dv.setUint32(ip + 8, (64 << 24) | ((udp ? 17 : 6) << 16), false);
    const host = f % CLIENT_HOSTS;
    const client = (10 << 24) | (1 << 16) | host;
    const server = (192 << 24) | (168 << 16) | (1 + (f % SERVERS));
    dv.setUint32(ip + 12, fromClient ? client : server, false);
    dv.setUint32(ip + 16, fromClient ? server : client, false);
    const cport = 1024 + (Math.floor(f / CLIENT_HOSTS) % 64000);
    const sport = udp ? 5000 : 443;
    const t = ip + 20;
    dv.setUint16(t, fromClient ? cport : sport, false);
    dv.setUint16(t + 2, fromClient ? sport : cport, false);
    if (udp) {
      dv.setUint32(t + 4, (8 + payload) << 16, false);
    } else {
      dv.setUint32(t + 4, k, false);
      dv.setUint32(t + 8, k, false);
      dv.setUint32(t + 12, (5 << 28) | (flags << 16) | 64240, false);
      dv.setUint32(t + 16, 0, false);
    }
    pos = e + caplen; // payload bytes: whatever the reused buffer holds
    bytes += caplen;
  }
  writeSync(fd, buf, 0, pos);
  closeSync(fd);
  return { packets: o.packets, flows: nextFlow, bytes };
}
