/**
 * Writes a large synthetic pcap for the flow benchmark, fast (a few seconds for millions of packets; see
 * pcap-writer.ts).
 *
 * `slots` flows are live at any time (the concurrency): packets visit the slots round-robin, and when a slot's
 * flow has sent all its packets a new flow takes the slot. 3 of 4 flows are TCP (SYN, SYN-ACK, ACK, data both
 * ways, FIN both ways, last ACK), 1 of 4 UDP request/response; 10–30 packets per flow. Timestamps advance
 * `stepUs` per packet, so each flow's packets are `slots × stepUs` apart (≤ 0.5 s by default) — inside every
 * timeout and the FIN linger, so every generated flow is exactly one record.
 */
import { PcapWriter } from './pcap-writer.ts';

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
  const out = new PcapWriter(path);

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

    const host = f % CLIENT_HOSTS;
    const client = (10 << 24) | (1 << 16) | host;
    const server = (192 << 24) | (168 << 16) | (1 + (f % SERVERS));
    const cport = 1024 + (Math.floor(f / CLIENT_HOSTS) % 64000);
    const sport = udp ? 5000 : 443;
    out.write({
      tsUs: t0 + p * stepUs, udp, flags, seq: k, payload, fromClient,
      src: fromClient ? client : server, dst: fromClient ? server : client,
      sport: fromClient ? cport : sport, dport: fromClient ? sport : cport,
    });
  }
  out.close();
  return { packets: o.packets, flows: nextFlow, bytes: out.bytes };
}
