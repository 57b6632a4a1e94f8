/**
 * Site baseline: each network's own normal, learned per device (the local initiator of a flow) as the endpoints it
 * talks to — (peer, port, protocol) with how often and since when. During the learning period (capture clock) the
 * sensor records endpoints; afterwards evidence on a learned endpoint is down-weighted (`factor`) and counted.
 *
 * What keeps learning from absorbing an attack:
 *  - a flow whose evidence is strong (the model confident: weight ≥ STRONG_WEIGHT) or that feeds an episode at or near
 *    its threshold is never learned, during learning or after;
 *  - tunnels, scans and exfiltration are never suppressed (they are new by their content or their fan-out, not their
 *    endpoint), so only endpoint-shaped families are down-weighted: c2, anomaly, dos, bruteforce;
 *  - after the learning period only flows without any evidence are learned, at most `driftPerHour` new endpoints per
 *    device per hour: the baseline drifts slowly and boundedly, so an attacker who ramps up slowly is not absorbed;
 *  - down-weighting is multiplicative, not a whitelist: a flood or a brute force against a usual endpoint still
 *    passes its threshold, only later.
 * Bounded: at most `maxDevices` devices (1,024), `maxEndpoints` endpoints per device (256) and `maxTotal` in all
 * (50,000, ≈ 8 MB); further ones are not learned.
 */
import { ANOMALY_WEIGHT } from './families.js';
import type { DeviceSummary } from '../protocol/baseline.js';
import type { FlowVerdict } from './evidence.js';

export type { DeviceSummary };

export const SUPPRESSIBLE = new Set(['c2', 'anomaly', 'dos', 'bruteforce']);
/** Per-flow evidence at or above this (a confident verdict) is "evidence that would alert": never learned. */
export const STRONG_CONFIDENCE = 0.8;

export interface Endpoint {
  device: string;
  peer: string;
  port: number;
  proto: number;
  flows: number;
  firstMs: number;
  lastMs: number;
}

export interface BaselineOptions {
  /** Capture-clock time the learning period started (first flow seen when undefined) and its length. */
  learnStartMs?: number;
  learnMs: number;
  /** Weight kept by evidence on a learned endpoint. */
  suppressFactor?: number;
  driftPerHour?: number;
  maxDevices?: number;
  maxEndpoints?: number;
  /** Endpoints over all devices (memory bound: ≈ 150 B each). */
  maxTotal?: number;
}

/** Where the baseline persists (sensor/baseline-store.ts: the sensor's SQLite database). */
export interface BaselinePersistence {
  saveStart(startMs: number): void;
  upsert(e: Endpoint): void;
  /** Forgets everything (reset from the gateway). */
  clear(): void;
}


export class Baseline {
  private readonly devices = new Map<string, Map<string, Endpoint>>();
  private readonly drift = new Map<string, { hour: number; added: number }>();
  private startMs: number | undefined;
  private total = 0;
  readonly counters = { learned: 0, refused: 0, suppressed: 0 };

  constructor(private readonly o: BaselineOptions, private readonly store?: BaselinePersistence, restored?: { startMs?: number; endpoints: Endpoint[] }) {
    this.startMs = restored?.startMs ?? o.learnStartMs;
    for (const e of restored?.endpoints ?? []) this.put(e);
  }

  /** Whether `now` is inside the learning period. */
  learning(now: number): boolean {
    return this.startMs === undefined || now < this.startMs + this.o.learnMs;
  }

  get learnStartMs(): number | undefined { return this.startMs; }

  /** Weight multiplier for evidence of `family` carried by this flow (1 = not suppressed). */
  factor(v: FlowVerdict, family: string): number {
    if (!SUPPRESSIBLE.has(family) || this.learning(v.flow.last_seen_ms)) return 1;
    if (!this.devices.get(v.flow.src_ip)?.has(endpointKey(v))) return 1;
    this.counters.suppressed += 1;
    return this.o.suppressFactor ?? 0.05;
  }

  /** Offers a scored flow for learning; `nearAlert` = it fed an episode at or near its threshold. */
  learn(v: FlowVerdict, nearAlert: boolean): void {
    const f = v.flow;
    const now = f.last_seen_ms;
    if (this.startMs === undefined) {
      this.startMs = f.first_seen_ms;
      this.store?.saveStart(this.startMs);
    }
    if (nearAlert || strong(v)) { if (v.alertClass) this.counters.refused += 1; return; }
    const learning = this.learning(now);
    if (!learning && v.alertClass) return; // after learning, only flows without evidence are learned
    let eps = this.devices.get(f.src_ip);
    // a new device while the device table is full is not learned (below): say so before building its key (a spoofed
    // flood brings a new source address per flow)
    if (!eps && learning && this.devices.size >= (this.o.maxDevices ?? 1024)) return;
    const key = endpointKey(v);
    const known = eps?.get(key);
    if (known) {
      known.flows += 1;
      known.lastMs = Math.max(known.lastMs, now);
      this.store?.upsert(known); // the store batches its writes
      return;
    }
    if (!learning && !this.driftAllows(f.src_ip, now)) return;
    if (this.total >= (this.o.maxTotal ?? 50_000)) return;
    if (!eps) {
      if (this.devices.size >= (this.o.maxDevices ?? 1024)) return;
      eps = new Map();
      this.devices.set(f.src_ip, eps);
    }
    if (eps.size >= (this.o.maxEndpoints ?? 256)) return;
    const e: Endpoint = { device: f.src_ip, peer: f.dst_ip, port: f.dst_port, proto: f.proto, flows: 1, firstMs: f.first_seen_ms, lastMs: now };
    eps.set(key, e);
    this.total += 1;
    this.counters.learned += 1;
    this.store?.upsert(e);
  }

  /** Forgets what was learned; learning starts again with the next flow. */
  reset(): void {
    this.devices.clear();
    this.drift.clear();
    this.total = 0;
    this.startMs = undefined;
    this.store?.clear();
  }

  get learnMs(): number { return this.o.learnMs; }

  /** The inventory: devices, their usual peers and ports. */
  summary(maxDevices = 256): DeviceSummary[] {
    const out: DeviceSummary[] = [];
    for (const [device, eps] of this.devices) {
      if (out.length >= maxDevices) break;
      const peers = new Map<string, number>(), ports = new Map<number, number>();
      let flows = 0, firstMs = Infinity, lastMs = 0;
      for (const e of eps.values()) {
        flows += e.flows;
        peers.set(e.peer, (peers.get(e.peer) ?? 0) + e.flows);
        ports.set(e.port, (ports.get(e.port) ?? 0) + e.flows);
        firstMs = Math.min(firstMs, e.firstMs);
        lastMs = Math.max(lastMs, e.lastMs);
      }
      const top = <K>(m: Map<K, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k]) => k);
      out.push({ device, endpoints: eps.size, flows, peers: top(peers), ports: top(ports), firstMs, lastMs });
    }
    return out;
  }

  endpointCount(): number { return this.total; }

  private put(e: Endpoint): void {
    let eps = this.devices.get(e.device);
    if (!eps) { eps = new Map(); this.devices.set(e.device, eps); }
    const key = `${e.peer}|${e.port}|${e.proto}`;
    if (!eps.has(key)) this.total += 1;
    eps.set(key, { ...e });
  }

  private driftAllows(device: string, now: number): boolean {
    const hour = Math.floor(now / 3_600_000);
    let d = this.drift.get(device);
    if (!d || d.hour !== hour) { d = { hour, added: 0 }; this.drift.set(device, d); }
    if (d.added >= (this.o.driftPerHour ?? 4)) return false;
    d.added += 1;
    return true;
  }
}

function endpointKey(v: FlowVerdict): string {
  return `${v.flow.dst_ip}|${v.flow.dst_port}|${v.flow.proto}`;
}

/** A confident attack verdict (anomaly-only verdicts are weak by construction, unless far past the threshold). */
function strong(v: FlowVerdict): boolean {
  if (!v.alertClass) return false;
  if (v.alertClass === 'anomaly') return v.anomaly >= 3 / ANOMALY_WEIGHT;
  const t = v.classThreshold;
  const confidence = t < 1 ? (v.score - t) / (1 - t) : 1;
  return confidence >= STRONG_CONFIDENCE;
}
