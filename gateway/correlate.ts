/**
 * Correlation: turns stored risk events into alerts. Pure and synchronous (no I/O, clock injected) so the
 * rules are tested directly; the ingest path persists what it returns inside the batch's transaction.
 *
 * Rules
 *  1. Same source + class within `windowMs` (by flow time) → one alert; counts, first/last seen, hosts, ports.
 *  2. The same source + class reported by ≥ `multiSensor` sensors → severity raised one step (3→2→1).
 *  3. One source touching ≥ `scanPorts` ports of one host → a 'port_scan' alert; ≥ `sweepHosts` hosts →
 *     a 'host_sweep' alert (scanning or lateral movement), whatever the events' classes.
 * Memory is bounded: per-source tracking sets and the number of tracked sources are capped.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Alert, AlertKind } from './alert-types.js';
import type { GatewayConfig } from './config.js';
import type { StoredEvent } from './store.js';

export interface AlertChange {
  alert: Alert;
  created: boolean;
  /** Severity got higher (numerically lower) with this batch. */
  escalated: boolean;
  /** The sensor whose event caused the change (topic of the published alert). */
  sensor: string;
}

export interface CorrelationResult {
  changes: AlertChange[];
  /** [alertId, eventSeq] pairs to persist. */
  links: Array<[string, number]>;
}

const LIST_CAP = 100;
const TRACK_CAP = 4096;
const MAX_SOURCES = 100_000;
const RECENT_CAP = 512;

interface SourceTrack {
  /** dst host → (port → flow time last seen) */
  hosts: Map<string, { last: number; ports: Map<number, number> }>;
  /** Recent event seqs, linked to a scan alert when one is created. */
  recent: Array<{ seq: number; t: number }>;
  /** Flow time of the last expiry pass: expiry runs every 1/8 window, not per event (bounded work). */
  prunedAt: number;
}

type Rules = GatewayConfig['correlation'];

export class Correlator {
  private readonly open = new Map<string, Alert>();
  private readonly sources = new Map<string, SourceTrack>();
  private readonly hostSets = new Map<string, Set<string>>();
  private readonly portSets = new Map<string, Set<number>>();
  /** Per alert: summed feature contributions; `alert.top` is derived once per batch, not per event. */
  private readonly topSums = new Map<string, Map<string, number>>();

  constructor(private readonly rules: Rules, private readonly now: () => number = Date.now) {}

  /** Resumes after a restart from the open alerts the store kept. */
  resume(alerts: Alert[]): void {
    for (const a of alerts) {
      this.open.set(keyOf(a.kind, a.src_ip, a.class), a);
      this.hostSets.set(a.id, new Set(a.hosts));
      this.portSets.set(a.id, new Set(a.ports));
    }
  }

  openCount(): number {
    return this.open.size;
  }

  openAlerts(): Alert[] {
    return [...this.open.values()];
  }

  ingest(events: StoredEvent[]): CorrelationResult {
    const touched = new Map<string, AlertChange>();
    const before = new Map<string, number>();
    const links: Array<[string, number]> = [];
    const wall = this.now();
    for (const e of events) {
      const t = e.flow.last_seen_ms > 0 ? e.flow.last_seen_ms : e.ts;
      const classAlert = this.join('class', e.class, e, t, wall, touched, before);
      links.push([classAlert.id, e.seq]);
      for (const scan of this.trackSource(e, t, wall, touched, before, links)) links.push([scan.id, e.seq]);
    }
    for (const c of touched.values()) {
      this.refreshTop(c.alert);
      const prev = before.get(c.alert.id);
      c.escalated = !c.created && prev !== undefined && c.alert.severity < prev;
    }
    return { changes: [...touched.values()], links };
  }

  /** Closes alerts that nothing joined for a whole window (wall clock); returns them for persisting. */
  closeIdle(): Alert[] {
    const cutoff = this.now() - this.rules.windowMs;
    const closed: Alert[] = [];
    for (const [k, a] of this.open) {
      if (a.updated_at < cutoff) {
        a.status = 'closed';
        this.open.delete(k);
        this.hostSets.delete(a.id);
        this.portSets.delete(a.id);
        this.topSums.delete(a.id);
        closed.push(a);
      }
    }
    return closed;
  }

  private join(kind: AlertKind, cls: string, e: StoredEvent, t: number, wall: number,
    touched: Map<string, AlertChange>, before: Map<string, number>): Alert {
    const key = keyOf(kind, e.flow.src_ip, cls);
    let a = this.open.get(key);
    if (a && (t > a.last_seen + this.rules.windowMs || t < a.first_seen - this.rules.windowMs)) {
      // Outside the window: the old alert is finished; a new one starts.
      a.status = 'closed';
      a.updated_at = wall;
      touched.set(a.id, touched.get(a.id) ?? { alert: a, created: false, escalated: false, sensor: e.sensor });
      this.open.delete(key);
      this.hostSets.delete(a.id);
      this.portSets.delete(a.id);
      this.topSums.delete(a.id);
      a = undefined;
    }
    let created = false;
    if (!a) {
      a = newAlert(kind, cls, e, t, wall, kind === 'class' ? e.severity : 2);
      this.open.set(key, a);
      this.hostSets.set(a.id, new Set());
      this.portSets.set(a.id, new Set());
      created = true;
    } else if (!before.has(a.id)) {
      before.set(a.id, a.severity);
    }
    this.addEvent(a, e, t, wall);
    const prior = touched.get(a.id);
    touched.set(a.id, { alert: a, created: created || (prior?.created ?? false), escalated: false, sensor: e.sensor });
    return a;
  }

  private addEvent(a: Alert, e: StoredEvent, t: number, wall: number): void {
    a.event_count += 1;
    a.first_seen = Math.min(a.first_seen, e.flow.first_seen_ms > 0 ? e.flow.first_seen_ms : t);
    a.last_seen = Math.max(a.last_seen, t);
    a.updated_at = wall;
    a.score_max = Math.max(a.score_max, e.score);
    a.anomaly_max = Math.max(a.anomaly_max, e.anomaly);
    if (!a.sensors.includes(e.sensor)) a.sensors.push(e.sensor);
    const hosts = this.hostSets.get(a.id)!;
    if (!hosts.has(e.flow.dst_ip) && hosts.size < TRACK_CAP) {
      hosts.add(e.flow.dst_ip);
      if (a.hosts.length < LIST_CAP) a.hosts.push(e.flow.dst_ip);
    }
    a.host_count = Math.max(a.host_count, hosts.size);
    const ports = this.portSets.get(a.id)!;
    if (!ports.has(e.flow.dst_port) && ports.size < TRACK_CAP) {
      ports.add(e.flow.dst_port);
      if (a.ports.length < LIST_CAP) a.ports.push(e.flow.dst_port);
    }
    a.port_count = Math.max(a.port_count, ports.size);
    if (a.kind === 'class') a.base_severity = Math.min(a.base_severity, e.severity) as 1 | 2 | 3;
    const raise = a.sensors.length >= this.rules.multiSensor ? 1 : 0;
    a.severity = Math.max(1, a.base_severity - raise) as 1 | 2 | 3;
    let sums = this.topSums.get(a.id);
    if (!sums) { sums = new Map(a.top); this.topSums.set(a.id, sums); }
    for (const [k, v] of e.top) sums.set(k, (sums.get(k) ?? 0) + Math.abs(v));
  }

  private refreshTop(a: Alert): void {
    const sums = this.topSums.get(a.id);
    if (!sums || sums.size === 0) return;
    a.top = [...sums.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]);
  }

  /** Rule 3: per-source destination tracking inside the window; returns the scan alerts this event joins. */
  private trackSource(e: StoredEvent, t: number, wall: number, touched: Map<string, AlertChange>,
    before: Map<string, number>, links: Array<[string, number]>): Alert[] {
    const src = e.flow.src_ip;
    let s = this.sources.get(src);
    if (!s) {
      if (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value as string);
      s = { hosts: new Map(), recent: [], prunedAt: t };
    } else {
      this.sources.delete(src); // re-insert: Map order doubles as least-recently-used order
    }
    this.sources.set(src, s);
    const horizon = t - this.rules.windowMs;
    if (t - s.prunedAt > this.rules.windowMs / 8) {
      s.prunedAt = t;
      for (const [h, hv] of s.hosts) {
        if (hv.last < horizon) { s.hosts.delete(h); continue; }
        for (const [p, pt] of hv.ports) if (pt < horizon) hv.ports.delete(p);
      }
      s.recent = s.recent.filter((r) => r.t >= horizon);
    }
    let hv = s.hosts.get(e.flow.dst_ip);
    if (!hv && s.hosts.size < TRACK_CAP) { hv = { last: t, ports: new Map() }; s.hosts.set(e.flow.dst_ip, hv); }
    if (hv) {
      hv.last = Math.max(hv.last, t);
      if (hv.ports.size < TRACK_CAP || hv.ports.has(e.flow.dst_port)) hv.ports.set(e.flow.dst_port, t);
    }
    if (s.recent.length >= RECENT_CAP) s.recent.shift();
    s.recent.push({ seq: e.seq, t });

    const joined: Alert[] = [];
    const want: Array<[AlertKind, boolean]> = [
      ['port_scan', (hv?.ports.size ?? 0) >= this.rules.scanPorts],
      ['host_sweep', s.hosts.size >= this.rules.sweepHosts],
    ];
    for (const [kind, triggered] of want) {
      const existing = this.open.get(keyOf(kind, src, kind));
      const inWindow = existing && t <= existing.last_seen + this.rules.windowMs && t >= existing.first_seen - this.rules.windowMs;
      if (!triggered && !inWindow) continue;
      const isNew = !inWindow;
      const a = this.join(kind, kind, e, t, wall, touched, before);
      if (isNew) {
        // The events that built up to the threshold belong to the new alert too.
        for (const r of s.recent) if (r.seq !== e.seq) links.push([a.id, r.seq]);
        a.event_count += s.recent.length - 1;
        a.first_seen = Math.min(a.first_seen, s.recent[0].t);
        for (const [h, v] of s.hosts) {
          const hs = this.hostSets.get(a.id)!;
          if (!hs.has(h)) { hs.add(h); if (a.hosts.length < LIST_CAP) a.hosts.push(h); }
          if (kind === 'port_scan' && h !== e.flow.dst_ip) continue;
          const ps = this.portSets.get(a.id)!;
          for (const p of v.ports.keys()) if (!ps.has(p)) { ps.add(p); if (a.ports.length < LIST_CAP) a.ports.push(p); }
        }
        a.ports.sort((x, y) => x - y);
        a.host_count = this.hostSets.get(a.id)!.size;
        a.port_count = this.portSets.get(a.id)!.size;
      }
      joined.push(a);
    }
    return joined;
  }
}

function keyOf(kind: AlertKind, src: string, cls: string): string {
  return `${kind}\u0000${src}\u0000${cls}`;
}

function newAlert(kind: AlertKind, cls: string, e: StoredEvent, t: number, wall: number, severity: 1 | 2 | 3): Alert {
  return {
    id: uuidv7(), kind, class: cls, src_ip: e.flow.src_ip, severity, base_severity: severity, status: 'open',
    first_seen: t, last_seen: t, created_at: wall, updated_at: wall, event_count: 0, sensors: [],
    hosts: [], host_count: 0, ports: [], port_count: 0,
    src_port: e.flow.src_port, dest_ip: e.flow.dst_ip, dest_port: e.flow.dst_port, proto: e.flow.proto,
    score_max: 0, anomaly_max: 0, model: e.model, top: [],
  };
}
