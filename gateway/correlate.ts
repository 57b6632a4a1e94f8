/**
 * Correlation: turns stored risk events into alerts. Pure and synchronous (no I/O, clock injected) so the
 * rules are tested directly; the ingest path persists what it returns inside the batch's transaction.
 *
 * Rules
 *  1. Same source + class within `windowMs` (by flow time) → one alert; counts, first/last seen, hosts, ports.
 *  2. The same source + class reported by ≥ `multiSensor` sensors → severity raised one step (3→2→1).
 *  3. One source touching ≥ `scanPorts` ports of one host → a 'port_scan' alert; ≥ `sweepHosts` hosts →
 *     a 'host_sweep' alert (scanning or lateral movement), whatever the events' classes.
 *  4. Fan-in (Suricata's `detection_filter … track by_dst` + `threshold type limit`): an event is "one-shot" when
 *     its source has no other event inside the window so far, nor in the same batch. ≥ `fanInSources` distinct one-shot sources against one
 *     destination host inside the window → ONE 'fan_in' alert for that host; from then on one-shot events fold
 *     into it instead of opening one alert per (spoofed) source, and the one-event alerts opened before the
 *     threshold are merged into it (closed, `merged_into`). A source with a second event of its own inside the
 *     window is no longer one-shot: it gets (or keeps) its own alert, which takes its earlier folded events of
 *     the same class along.
 *  5. Episodes (protocol/episode.ts): an event that carries an episode already stands for many flows that passed
 *     the sensor's evidence threshold. A source episode joins the (source, class) alert of rule 1; a destination
 *     episode (a flood against one victim from many sources) joins that host's fan_in alert. Rules 3 and 4 do not
 *     apply to them (the sensor aggregated already; applying them again would announce one attack twice). The
 *     alert's flow, host, port and source counts come from the episodes' own counts.
 * Memory is bounded: per-source / per-destination tracking sets and the number of tracked keys are capped.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Alert, AlertFlow, AlertKind } from './alert-types.js';
import type { GatewayConfig } from './config.js';
import type { StoredEvent } from './store.js';

export interface AlertChange {
  alert: Alert;
  created: boolean;
  /** Severity got higher (numerically lower) with this batch. */
  escalated: boolean;
  /** The sensor whose event caused the change (topic of the published alert). */
  sensor: string;
  /** Nothing to announce: opened and merged into a fan_in alert within the same batch. */
  silent?: boolean;
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
const MAX_DESTS = 100_000;
/** Distinct one-shot sources remembered per destination (and per fan_in alert); counts saturate there. */
const SOURCE_CAP = 65_536;
const DOS_CLASSES = new Set(['dos', 'ddos']);

interface RecentEvent { seq: number; t: number; cls: string; port: number }

interface SourceTrack {
  /** dst host → (port → flow time last seen) */
  hosts: Map<string, { last: number; ports: Map<number, number> }>;
  /** Recent event seqs, linked to a scan alert when one is created. */
  recent: RecentEvent[];
  /** Flow time of the last expiry pass: expiry runs every 1/8 window, not per event (bounded work). */
  prunedAt: number;
  /** Some of its events were folded into a fan_in alert (its own alert, once it has one, takes them along). */
  folded: boolean;
  /** Its alert keys by kind/class, built once: a fresh key string per event was a measurable share of ingest. */
  keys: Map<string, string>;
}

interface AlertAux {
  hosts: Set<string>;
  ports: Set<number>;
  /** fan_in: distinct folded sources. */
  sources: Set<string>;
  /** Summed feature contributions; `alert.top` is derived once per batch, not per event. */
  top: Map<string, number> | undefined;
  /** Latest flow count per episode that joined (an alert's flows = their sum). */
  episodes?: Map<string, number>;
}

/** Per destination host: the one-shot sources that hit it inside the window (rule 4). */
interface DestTrack {
  singles: Map<string, RecentEvent>;
  prunedAt: number;
}

type Rules = GatewayConfig['correlation'];

export class Correlator {
  private readonly open = new Map<string, Alert>();
  private readonly sources = new Map<string, SourceTrack>();
  private readonly dests = new Map<string, DestTrack>();
  /** fan_in alert id → its distinct sources. */
  /** Per open alert: its tracking sets, in one object so an event costs one lookup. */
  private readonly aux = new Map<string, AlertAux>();

  constructor(private readonly rules: Rules, private readonly now: () => number = Date.now) {}

  /** Resumes after a restart from the open alerts the store kept. */
  resume(alerts: Alert[]): void {
    for (const a of alerts) {
      this.open.set(a.kind === 'fan_in' ? fanInKey(a.dest_ip) : keyOf(a.kind, a.src_ip, a.class), a);
      this.aux.set(a.id, { hosts: new Set(a.hosts), ports: new Set(a.ports), sources: new Set(a.sources ?? []), top: undefined });
    }
  }

  /**
   * Rebuilds per-source tracking (rule 3's hosts and ports, the recent events a new scan alert takes along) from
   * events already correlated elsewhere, without touching any alert: a worker taking over correlation calls it
   * with the window's stored events so a scan that was building up is recognised as the previous leader would have.
   */
  warm(events: StoredEvent[]): void {
    for (const e of events) if (!e.episode) this.touchSource(e, e.flow.last_seen_ms > 0 ? e.flow.last_seen_ms : e.ts);
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
    // Look-ahead inside the batch: a source with several events in it is not one-shot, even at its first event.
    const inBatch = new Map<string, number>();
    for (const e of events) inBatch.set(e.flow.src_ip, (inBatch.get(e.flow.src_ip) ?? 0) + 1);
    for (const e of events) {
      if (e.episode) {
        this.joinEpisode(e, wall, touched, before, links);
        continue;
      }
      const t = e.flow.last_seen_ms > 0 ? e.flow.last_seen_ms : e.ts;
      const s = this.touchSource(e, t);
      const oneShot = inBatch.get(e.flow.src_ip) === 1 && isOneShot(s, t, this.rules.windowMs);
      const folded = oneShot && this.foldFanIn(e, s, t, wall, touched, before, links);
      if (!folded) {
        const classAlert = this.join('class', e.class, e, t, wall, touched, before, sourceKey(s, 'class', e.flow.src_ip, e.class));
        links.push([classAlert.id, e.seq]);
        if (s.folded && classAlert.event_count === 1) this.takeFolded(classAlert, s, e, t, links);
      }
      for (const scan of this.scanAlerts(e, s, t, wall, touched, before, links)) links.push([scan.id, e.seq]);
    }
    for (const c of touched.values()) {
      c.alert.version = (c.alert.version ?? 0) + 1;
      this.refreshTop(c.alert);
      const prev = before.get(c.alert.id);
      c.escalated = !c.created && prev !== undefined && c.alert.severity < prev;
    }
    return { changes: [...touched.values()], links };
  }

  /** Rule 5: an episode's event joins its actor's alert, with the episode's counts. */
  private joinEpisode(e: StoredEvent, wall: number, touched: Map<string, AlertChange>, before: Map<string, number>,
    links: Array<[string, number]>): void {
    const ep = e.episode!;
    const t = ep.last_seen_ms > 0 ? ep.last_seen_ms : e.ts;
    const dst = ep.role === 'dst';
    const a = dst
      ? this.join('fan_in', e.class, e, t, wall, touched, before, fanInKey(ep.actor))
      : this.join('class', e.class, e, t, wall, touched, before, keyOf('class', ep.actor, e.class));
    links.push([a.id, e.seq]);
    a.first_seen = Math.min(a.first_seen, ep.first_seen_ms);
    const aux = this.aux.get(a.id)!;
    const flows = (aux.episodes ??= new Map());
    if (flows.has(ep.id) || flows.size < TRACK_CAP) flows.set(ep.id, ep.flows);
    let sum = 0;
    for (const n of flows.values()) sum += n;
    a.flow_count = sum;
    if (dst) {
      a.dest_ip = ep.actor;
      for (const p of ep.peers) this.addFanInEvent(a, p, e.class, e.severity);
      a.source_count = Math.max(a.source_count ?? 0, ep.peer_count);
    } else {
      for (const h of ep.peers) if (!aux.hosts.has(h) && aux.hosts.size < TRACK_CAP) { aux.hosts.add(h); if (a.hosts.length < LIST_CAP) a.hosts.push(h); }
      a.host_count = Math.max(a.host_count, aux.hosts.size, ep.peer_count);
    }
    for (const p of ep.ports) if (!aux.ports.has(p) && aux.ports.size < TRACK_CAP) { aux.ports.add(p); if (a.ports.length < LIST_CAP) a.ports.push(p); }
    a.port_count = Math.max(a.port_count, aux.ports.size, ep.port_count);
  }

  /** Closes alerts that nothing joined for a whole window (wall clock); returns them for persisting. */
  closeIdle(): Alert[] {
    const cutoff = this.now() - this.rules.windowMs;
    const closed: Alert[] = [];
    for (const [k, a] of this.open) {
      if (a.updated_at < cutoff) {
        a.status = 'closed';
        a.version = (a.version ?? 0) + 1;
        this.forget(k, a);
        closed.push(a);
      }
    }
    return closed;
  }

  private forget(key: string, a: Alert): void {
    this.open.delete(key);
    this.aux.delete(a.id);
  }

  private inWindow(a: Alert | undefined, t: number): boolean {
    return a !== undefined && t <= a.last_seen + this.rules.windowMs && t >= a.first_seen - this.rules.windowMs;
  }

  private join(kind: AlertKind, cls: string, e: StoredEvent, t: number, wall: number,
    touched: Map<string, AlertChange>, before: Map<string, number>, key = keyOf(kind, e.flow.src_ip, cls)): Alert {
    let a = this.open.get(key);
    if (a && !this.inWindow(a, t)) {
      // Outside the window: the old alert is finished; a new one starts.
      a.status = 'closed';
      a.updated_at = wall;
      touched.set(a.id, touched.get(a.id) ?? { alert: a, created: false, escalated: false, sensor: e.sensor });
      this.forget(key, a);
      a = undefined;
    }
    let created = false;
    if (!a) {
      a = newAlert(kind, cls, e, t, wall, kind === 'class' || kind === 'fan_in' ? e.severity : 2);
      if (kind === 'fan_in') {
        a.source_count = 0;
        a.sources = [];
        a.class_counts = {};
      }
      this.open.set(key, a);
      this.aux.set(a.id, { hosts: new Set(), ports: new Set(), sources: new Set(), top: undefined });
      created = true;
    } else if (!before.has(a.id)) {
      before.set(a.id, a.severity);
    }
    this.addEvent(a, e, t, wall);
    const prior = touched.get(a.id);
    if (prior) { prior.sensor = e.sensor; prior.created ||= created; } else touched.set(a.id, { alert: a, created, escalated: false, sensor: e.sensor });
    return a;
  }

  private addEvent(a: Alert, e: StoredEvent, t: number, wall: number): void {
    a.event_count += 1;
    if (!e.episode) a.flow_count = (a.flow_count ?? 0) + 1;
    a.first_seen = Math.min(a.first_seen, e.flow.first_seen_ms > 0 ? e.flow.first_seen_ms : t);
    a.last_seen = Math.max(a.last_seen, t);
    a.updated_at = wall;
    a.score_max = Math.max(a.score_max, e.score);
    a.anomaly_max = Math.max(a.anomaly_max, e.anomaly);
    if (!a.sensors.includes(e.sensor)) a.sensors.push(e.sensor);
    const aux = this.aux.get(a.id)!;
    const hosts = aux.hosts;
    if (!hosts.has(e.flow.dst_ip) && hosts.size < TRACK_CAP) {
      hosts.add(e.flow.dst_ip);
      if (a.hosts.length < LIST_CAP) a.hosts.push(e.flow.dst_ip);
    }
    a.host_count = Math.max(a.host_count, hosts.size);
    const ports = aux.ports;
    if (!ports.has(e.flow.dst_port) && ports.size < TRACK_CAP) {
      ports.add(e.flow.dst_port);
      if (a.ports.length < LIST_CAP) a.ports.push(e.flow.dst_port);
    }
    a.port_count = Math.max(a.port_count, ports.size);
    if (a.kind === 'class') a.base_severity = Math.min(a.base_severity, e.severity) as 1 | 2 | 3;
    else if (a.kind === 'fan_in') this.addFanInEvent(a, e.flow.src_ip, e.class, e.severity);
    const raise = a.sensors.length >= this.rules.multiSensor ? 1 : 0;
    a.severity = Math.max(1, a.base_severity - raise) as 1 | 2 | 3;
    let sums = aux.top;
    if (!sums) { sums = new Map(a.top); aux.top = sums; }
    for (const [k, v] of e.top) sums.set(k, (sums.get(k) ?? 0) + Math.abs(v));
  }

  private refreshTop(a: Alert): void {
    const sums = this.aux.get(a.id)?.top;
    if (!sums || sums.size === 0) return;
    a.top = [...sums.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]);
  }

  /** Per-source destination tracking inside the window (rules 3 and 4). */
  private touchSource(e: StoredEvent, t: number): SourceTrack {
    const src = e.flow.src_ip;
    let s = this.sources.get(src);
    if (!s) {
      if (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value as string);
      s = { hosts: new Map(), recent: [], prunedAt: t, folded: false, keys: new Map() };
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
      if (s.recent.length === 0) s.folded = false;
    }
    let hv = s.hosts.get(e.flow.dst_ip);
    if (!hv && s.hosts.size < TRACK_CAP) { hv = { last: t, ports: new Map() }; s.hosts.set(e.flow.dst_ip, hv); }
    if (hv) {
      hv.last = Math.max(hv.last, t);
      if (hv.ports.size < TRACK_CAP || hv.ports.has(e.flow.dst_port)) hv.ports.set(e.flow.dst_port, t);
    }
    if (s.recent.length >= RECENT_CAP) s.recent.shift();
    s.recent.push({ seq: e.seq, t, cls: e.class, port: e.flow.dst_port });
    return s;
  }

  /** Rule 3: returns the scan alerts this event joins. */
  private scanAlerts(e: StoredEvent, s: SourceTrack, t: number, wall: number, touched: Map<string, AlertChange>,
    before: Map<string, number>, links: Array<[string, number]>): Alert[] {
    const src = e.flow.src_ip;
    const hv = s.hosts.get(e.flow.dst_ip);
    const joined: Alert[] = [];
    const want: Array<[AlertKind, boolean]> = [
      ['port_scan', (hv?.ports.size ?? 0) >= this.rules.scanPorts],
      ['host_sweep', s.hosts.size >= this.rules.sweepHosts],
    ];
    for (const [kind, triggered] of want) {
      const key = sourceKey(s, kind, src, kind);
      const inWindow = this.inWindow(this.open.get(key), t);
      if (!triggered && !inWindow) continue;
      const isNew = !inWindow;
      const a = this.join(kind, 'scan', e, t, wall, touched, before, key);
      if (isNew) {
        // The events that built up to the threshold belong to the new alert too.
        for (const r of s.recent) if (r.seq !== e.seq) links.push([a.id, r.seq]);
        a.event_count += s.recent.length - 1;
        a.first_seen = Math.min(a.first_seen, s.recent[0].t);
        for (const [h, v] of s.hosts) {
          const hs = this.aux.get(a.id)!.hosts;
          if (!hs.has(h)) { hs.add(h); if (a.hosts.length < LIST_CAP) a.hosts.push(h); }
          if (kind === 'port_scan' && h !== e.flow.dst_ip) continue;
          const ps = this.aux.get(a.id)!.ports;
          for (const p of v.ports.keys()) if (!ps.has(p)) { ps.add(p); if (a.ports.length < LIST_CAP) a.ports.push(p); }
        }
        a.ports.sort((x, y) => x - y);
        a.host_count = this.aux.get(a.id)!.hosts.size;
        a.port_count = this.aux.get(a.id)!.ports.size;
      }
      joined.push(a);
    }
    return joined;
  }

  /**
   * Rule 4 for a one-shot event: remembers its source against the destination host and folds the event into
   * the host's fan_in alert when there is one or this source reaches the threshold. Returns whether it folded.
   */
  private foldFanIn(e: StoredEvent, s: SourceTrack, t: number, wall: number, touched: Map<string, AlertChange>,
    before: Map<string, number>, links: Array<[string, number]>): boolean {
    const dst = e.flow.dst_ip;
    const d = this.destTrack(dst, t);
    if (d.singles.size < SOURCE_CAP) d.singles.set(e.flow.src_ip, { seq: e.seq, t, cls: e.class, port: e.flow.dst_port });
    const key = fanInKey(dst);
    const existing = this.open.get(key);
    const open = this.inWindow(existing, t);
    if (!open && d.singles.size < this.rules.fanInSources) return false;
    if (!open) {
      // Only sources that are still one-shot count: one that sent more since is alerted on its own.
      for (const [src, r] of d.singles) {
        const st = this.sources.get(src);
        if (st && st.recent.length > 0 && st.recent[st.recent.length - 1].seq !== r.seq) d.singles.delete(src);
      }
      if (d.singles.size < this.rules.fanInSources) return false;
    }
    const a = this.join('fan_in', e.class, e, t, wall, touched, before, key);
    links.push([a.id, e.seq]);
    s.folded = true;
    if (!open) this.absorbSingles(a, d, e, t, wall, touched, links);
    return true;
  }

  private destTrack(dst: string, t: number): DestTrack {
    let d = this.dests.get(dst);
    if (!d) {
      if (this.dests.size >= MAX_DESTS) this.dests.delete(this.dests.keys().next().value as string);
      d = { singles: new Map(), prunedAt: t };
    } else {
      this.dests.delete(dst);
    }
    this.dests.set(dst, d);
    if (t - d.prunedAt > this.rules.windowMs / 8) {
      d.prunedAt = t;
      const horizon = t - this.rules.windowMs;
      for (const [src, r] of d.singles) if (r.t < horizon) d.singles.delete(src);
    }
    return d;
  }

  /**
   * A new fan_in alert takes the one-shot events that reached the threshold; the one-event alerts they opened
   * before it existed are merged into it (closed, `merged_into`) so one alert stands for the whole fan-in.
   */
  private absorbSingles(a: Alert, d: DestTrack, e: StoredEvent, t: number, wall: number,
    touched: Map<string, AlertChange>, links: Array<[string, number]>): void {
    for (const [src, r] of d.singles) {
      if (src === e.flow.src_ip || r.t < t - this.rules.windowMs) continue;
      links.push([a.id, r.seq]);
      a.event_count += 1;
      a.first_seen = Math.min(a.first_seen, r.t);
      this.addFanInEvent(a, src, r.cls, undefined);
      const ports = this.aux.get(a.id)!.ports;
      if (!ports.has(r.port) && ports.size < TRACK_CAP) {
        ports.add(r.port);
        if (a.ports.length < LIST_CAP) a.ports.push(r.port);
        a.port_count = ports.size;
      }
      const st = this.sources.get(src);
      if (st) st.folded = true;
      const key = keyOf('class', src, r.cls);
      const own = this.open.get(key);
      if (own && own.event_count === 1 && own.dest_ip === a.dest_ip) {
        own.status = 'closed';
        own.merged_into = a.id;
        own.updated_at = wall;
        // Stored as merged; announced as an update only if its creation was (opened and merged in one batch: not).
        const silent = touched.get(own.id)?.created === true;
        touched.set(own.id, { alert: own, created: false, escalated: false, sensor: own.sensors[0] ?? e.sensor, silent });
        this.forget(key, own);
      }
    }
    this.refreshFanIn(a);
  }

  /** Counts one folded event into a fan_in alert: its source, its class (majority → `class`), its severity. */
  private addFanInEvent(a: Alert, src: string, cls: string, severity: 1 | 2 | 3 | undefined): void {
    const set = this.aux.get(a.id)!.sources;
    if (!set.has(src) && set.size < SOURCE_CAP) {
      set.add(src);
      if (a.sources!.length < LIST_CAP) a.sources!.push(src);
    }
    a.source_count = Math.max(a.source_count ?? 0, set.size);
    const counts = a.class_counts!;
    counts[cls] = (counts[cls] ?? 0) + 1;
    if (counts[cls] > (counts[a.class] ?? 0)) a.class = cls;
    // A flood from many one-shot sources is a denial of service: high as soon as any of it is classed so.
    const sev = DOS_CLASSES.has(cls) ? 1 : severity ?? a.base_severity;
    a.base_severity = Math.min(a.base_severity, sev) as 1 | 2 | 3;
    this.refreshFanIn(a);
  }

  private refreshFanIn(a: Alert): void {
    const raise = a.sensors.length >= this.rules.multiSensor ? 1 : 0;
    a.severity = Math.max(1, a.base_severity - raise) as 1 | 2 | 3;
  }

  /** A source's own new alert takes its earlier (folded) events of the same class inside the window along. */
  private takeFolded(a: Alert, s: SourceTrack, e: StoredEvent, t: number, links: Array<[string, number]>): void {
    for (const r of s.recent) {
      if (r.seq === e.seq || r.cls !== a.class || r.t < t - this.rules.windowMs) continue;
      links.push([a.id, r.seq]);
      a.event_count += 1;
      a.first_seen = Math.min(a.first_seen, r.t);
    }
  }
}

function keyOf(kind: AlertKind, src: string, cls: string): string {
  return `${kind}\u0000${src}\u0000${cls}`;
}

const KIND_SLOTS: Record<AlertKind, string> = { class: '\u0000class', port_scan: '\u0000port_scan', host_sweep: '\u0000host_sweep', fan_in: '\u0000fan_in' };

function sourceKey(s: SourceTrack, kind: AlertKind, src: string, cls: string): string {
  const k = kind === 'class' ? cls : KIND_SLOTS[kind]; // never equal to a class name
  let key = s.keys.get(k);
  if (key === undefined) { key = keyOf(kind, src, cls); s.keys.set(k, key); }
  return key;
}

/** One fan_in alert per destination host, whatever its (majority) class. */
function fanInKey(dst: string): string {
  return keyOf('fan_in', dst, '');
}

/** No other event of this source inside the window (the current one is the last of `recent`). */
function isOneShot(s: SourceTrack, t: number, windowMs: number): boolean {
  return s.recent.length < 2 || s.recent[s.recent.length - 2].t < t - windowMs;
}

function alertFlow(e: StoredEvent): AlertFlow {
  const f = e.flow;
  return {
    vlan: f.vlan, first_seen_ms: f.first_seen_ms, last_seen_ms: f.last_seen_ms,
    src2dst_packets: f.src2dst_packets, src2dst_bytes: f.src2dst_bytes, dst2src_packets: f.dst2src_packets, dst2src_bytes: f.dst2src_bytes,
    ...((e.features.dns_qname_entropy ?? 0) > 0 ? { app_proto: 'dns' } : {}),
  };
}

function newAlert(kind: AlertKind, cls: string, e: StoredEvent, t: number, wall: number, severity: 1 | 2 | 3): Alert {
  return {
    id: uuidv7(), kind, class: cls, src_ip: e.flow.src_ip, severity, base_severity: severity, status: 'open',
    first_seen: t, last_seen: t, created_at: wall, updated_at: wall, event_count: 0, sensors: [],
    hosts: [], host_count: 0, ports: [], port_count: 0,
    src_port: e.flow.src_port, dest_ip: e.flow.dst_ip, dest_port: e.flow.dst_port, proto: e.flow.proto, flow: alertFlow(e),
    score_max: 0, anomaly_max: 0, model: e.model, top: [], flow_count: 0,
  };
}
