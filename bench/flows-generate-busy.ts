/**
 * The busy-gateway capture: many hosts, every flow open at once, packets in random order — the shape that
 * defeats caches and small host tables (bench/flows.ts runs it beside the round-robin capture of
 * flows-generate.ts). Deterministic: a fixed-seed PRNG, so the same options give the same bytes.
 *
 * `flows` flows (default 200,000) share `packets` packets (default 2,000,000; 10 per flow on average), and their
 * packets are shuffled together, so nearly every flow is open from the start of the capture to its end.
 * Clients come from 10.16.0.0/12 (one address per flow, scattered over the /12), servers from 172.16.0.0/16
 * (flows spread over all 65,536: ≈ 265,000 hosts in all). 80 % of flows are TCP (SYN, SYN-ACK, ACK, data both
 * ways; half close with FIN both ways and a last ACK), 20 % UDP (request/response). Arrivals are Poisson at
 * `rate` packets/s (default 200,000: exponential gaps, microsecond timestamps).
 */
import { PcapWriter } from './pcap-writer.ts';
import type { Generated } from './flows-generate.ts';

export interface BusyOptions { packets: number; flows: number; rate?: number; seed?: number }

/** xorshift32: fast, deterministic, good enough to shuffle and draw gaps. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

const CLIENT_NET = (10 << 24) | (16 << 16); // 10.16.0.0/12
const SERVER_NET = (172 << 24) | (16 << 16); // 172.16.0.0/16

export function generateBusyPcap(path: string, o: BusyOptions): Generated {
  const rand = prng(o.seed ?? 0x5eed1234);
  const rate = o.rate ?? 200_000;
  const n = o.flows;
  // Per flow: protocol, FIN or not, number of data packets; then adjusted so the total is exactly `packets`.
  const udp = new Uint8Array(n);
  const fin = new Uint8Array(n);
  const data = new Int32Array(n);
  const fixed = (f: number) => (udp[f] ? 1 : 3 + (fin[f] ? 3 : 0)); // packets besides the data packets
  let total = 0;
  for (let f = 0; f < n; f++) {
    udp[f] = rand() % 5 === 0 ? 1 : 0;
    fin[f] = !udp[f] && (rand() & 1) ? 1 : 0;
    data[f] = udp[f] ? 1 + (rand() % 17) : fin[f] ? 1 + (rand() % 8) : 4 + (rand() % 7);
    total += fixed(f) + data[f];
  }
  if (n * 7 > o.packets) throw new Error(`${o.packets} packets are too few for ${n} flows (at least 7 each)`);
  while (total > o.packets) { const f = rand() % n; if (data[f] > 1) { data[f]--; total--; } }
  while (total < o.packets) { data[rand() % n]++; total++; }

  // Every packet names its flow; a Fisher-Yates shuffle interleaves them; the k-th appearance is the k-th packet.
  const order = new Int32Array(o.packets);
  let p = 0;
  for (let f = 0; f < n; f++) for (let k = fixed(f) + data[f]; k > 0; k--) order[p++] = f;
  for (let i = o.packets - 1; i > 0; i--) {
    const j = rand() % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }

  const step = new Int32Array(n);
  const out = new PcapWriter(path);
  let tsUs = 1_700_000_000 * 1e6;
  let clock = 0; // exact Poisson time in µs; the file keeps whole microseconds
  for (let i = 0; i < o.packets; i++) {
    const f = order[i];
    const k = step[f]++;
    const len = fixed(f) + data[f];
    clock += -Math.log((rand() + 1) / 4294967297) * (1e6 / rate);
    let fromClient: boolean;
    let flags = 0;
    let payload = 0;
    if (udp[f]) { fromClient = (k & 1) === 0; payload = fromClient ? 60 : 300; }
    else if (k === 0) { fromClient = true; flags = 0x02; }
    else if (k === 1) { fromClient = false; flags = 0x12; }
    else if (k === 2) { fromClient = true; flags = 0x10; }
    else if (fin[f] && k === len - 3) { fromClient = true; flags = 0x11; }
    else if (fin[f] && k === len - 2) { fromClient = false; flags = 0x11; }
    else if (fin[f] && k === len - 1) { fromClient = true; flags = 0x10; }
    else { fromClient = (k & 1) === 1; flags = 0x18; payload = fromClient ? 100 : 600; }
    // One client address per flow, scattered over the /12 (times an odd number is a bijection mod 2^20); the
    // servers likewise over the /16, every one of them used by ≈ flows / 65,536 flows.
    const client = CLIENT_NET | (Math.imul(f, 0x9e3779b1) & 0xfffff);
    const server = SERVER_NET | (Math.imul(f, 0x85ebca6b) & 0xffff);
    const cport = 1024 + (f % 64_000);
    const sport = udp[f] ? 5000 : 443;
    out.write({
      tsUs: tsUs + Math.floor(clock), udp: udp[f] === 1, flags, seq: k, payload, fromClient,
      src: fromClient ? client : server, dst: fromClient ? server : client,
      sport: fromClient ? cport : sport, dport: fromClient ? sport : cport,
    });
  }
  out.close();
  return { packets: o.packets, flows: n, bytes: out.bytes };
}
