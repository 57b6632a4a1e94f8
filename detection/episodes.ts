/**
 * Evidence → episodes. Evidence accumulates per (family, role, actor) with exponential decay in flow time; an
 * episode opens when the decayed evidence reaches the family's threshold AND the support minima hold (families.ts),
 * is updated while evidence keeps coming (at most once per `updateIntervalMs`, the latest state, never lost), and
 * closes when its actor has been quiet for `closeAfter`. Below the threshold nothing is published: the flow stays a
 * local observation (the caller counts and stores it).
 *
 * Pure and deterministic: no I/O, no wall clock (time is the capture clock passed in), bounded memory (tracks capped,
 * least recently touched quiet track evicted first; distinct sets capped).
 */
import { v7 as uuidv7 } from 'uuid';
import type { EpisodeState } from '../protocol/episode.js';
import type { Baseline } from './baseline.js';
import { EvidenceBuffer, evidenceOf, type Evidence, type FlowVerdict } from './evidence.js';
import { FirstSightings, type Sighting } from './first-sightings.js';
import { addFlow, copyTally, type Tally } from './tally.js';
import { policyOf, thresholdsWith, type FamilyPolicy, type Role } from './families.js';
import { TrackIndex } from './track-index.js';

const SET_CAP = 4096;
/** What observe() returns when nothing is to be published (shared: callers only read it). */
const NOTHING: readonly EpisodeChange[] = Object.freeze([]);
const TOP_CAP = 64;

export interface TrackerOptions {
  /** Calibrated thresholds by family (model metadata); floors from families.ts apply. */
  thresholds?: Readonly<Record<string, number>>;
  /** Minimum flow time between two published updates of one episode. */
  updateIntervalMs?: number;
  /** Tracks kept at most (memory bound). */
  maxTracks?: number;
  baseline?: Baseline;
  /** Episode ids (default UUIDv7); injected for deterministic tests. */
  newId?: () => string;
  /** Called after every evidence update (calibration watches peaks with it). */
  observer?: (track: Track, v: FlowVerdict) => void;
  /** A flow that gave evidence but fed no episode: a local observation (the sensor stores them, bounded). Like
   *  every verdict handed to the tracker, `v` may be reused by the caller after the call: copy what is kept. */
  onObservation?: (v: FlowVerdict) => void;
}

/** One actor doing one family, with or without an episode yet. */
export interface Track extends Tally {
  family: string;
  role: Role;
  actor: string;
  /** The actor, or for per-peer families actor|peer: the track's key within its family and role. */
  indexKey: string;
  policy: FamilyPolicy;
  threshold: number;
  peers: Set<string>;
  ports: Set<number>;
  targets: Set<string>;
  /** Summed |contribution| per feature over its flows. */
  top: Map<string, number>;
  /** The latest flow that gave the most weight so far: the event's flow. */
  rep: FlowVerdict;
  repWeight: number;
  episode?: { id: string; publishedAt: number; dirty: boolean; evidenceAtOpen: number };
}

export interface EpisodeChange {
  state: EpisodeState;
  track: Track;
  id: string;
}

export interface TrackerCounters {
  /** Flows with evidence that did not (yet) open an episode. */
  observations: number;
  /** Evidence items down-weighted because they matched the site baseline. */
  suppressed: number;
  opened: number;
  updates: number;
  closed: number;
  evicted: number;
  /** First sightings (first-sightings.ts) displaced by another actor's before their actor's second flow. */
  sightingsOverwritten: number;
}

export class EpisodeTracker {
  private readonly tracks = new TrackIndex<Track>();
  private readonly sightings = new FirstSightings();
  private readonly evidence = new EvidenceBuffer();
  private thresholds: Record<string, number>;
  private readonly updateIntervalMs: number;
  private readonly maxTracks: number;
  private readonly newId: () => string;
  private lastExpiry = -Infinity;
  /** Capture clock: the latest flow time seen (never goes back). */
  private clock = 0;
  readonly counters: TrackerCounters = { observations: 0, suppressed: 0, opened: 0, updates: 0, closed: 0, evicted: 0, sightingsOverwritten: 0 };

  constructor(private readonly o: TrackerOptions = {}) {
    this.thresholds = thresholdsWith(o.thresholds);
    this.updateIntervalMs = o.updateIntervalMs ?? 1000;
    this.maxTracks = o.maxTracks ?? 20_000;
    this.newId = o.newId ?? uuidv7;
  }

  get now(): number { return this.clock; }
  /** Whether benign flows are worth handing over (the baseline learns from them). */
  get learnsBenign(): boolean { return this.o.baseline !== undefined; }
  get size(): number { return this.tracks.size; }
  /** thresholdOf, bound once: handed to the evidence rules for every flow. */
  private readonly thresholdFn = (family: string): number => this.thresholdOf(family);
  thresholdOf(family: string): number { return this.thresholds[family] ?? policyOf(family).threshold; }

  /**
   * Thresholds calibrated with a new model (OTA): they apply to new evidence at once, and to every track that has no
   * episode yet; an open episode keeps the threshold it opened with (its events say so).
   */
  setThresholds(calibrated: Readonly<Record<string, number>> | undefined): void {
    this.thresholds = thresholdsWith(calibrated);
    this.tracks.forEach((tr) => { if (!tr.episode) tr.threshold = this.thresholdOf(tr.family); });
  }

  /**
   * Takes one scored flow; returns the episodes to publish now (opened, or updated after the interval). The verdict is
   * read during the call only (the sensor reuses one object for every row): what a track keeps is copied (ownRow).
   */
  observe(v: FlowVerdict): readonly EpisodeChange[] {
    const f = v.flow;
    const t = Math.max(this.clock, f.last_seen_ms);
    this.clock = t;
    const items = this.evidence;
    evidenceOf(v, items, this.thresholdFn);
    if (items.length === 0) {
      this.o.baseline?.learn(v, false);
      return NOTHING;
    }
    let out: EpisodeChange[] | undefined; // most flows publish nothing: no array for them
    let inEpisode = false;
    const flows = 1 + (v.folded ?? 0);
    for (let i = 0; i < items.length; i++) {
      const ev = items.items[i]!;
      const policy = policyOf(ev.family);
      const indexKey = policy.perPeer ? `${ev.actor}|${ev.peer}` : ev.actor;
      // a folded record's flows are all its target's; its initiator's only when they all came from it
      const n = ev.role === 'src' && v.mixedSources ? 1 : flows;
      let tr = this.tracks.get(ev.family, ev.role, indexKey);
      if (!tr) {
        const made = this.trackOrSighting(ev, policy, indexKey, v, t, n);
        if (typeof made === 'number') { // a first sighting: its evidence so far
          if (made >= 0.5 * this.thresholdOf(ev.family)) inEpisode = true;
          continue;
        }
        tr = made;
      }
      decay(tr, t);
      const w = this.weightOf(tr, ev, v);
      addFlow(tr, v, ev.family, w, n, ev.probe);
      if (tr.peers.size < SET_CAP) tr.peers.add(ev.peer);
      if (tr.ports.size < SET_CAP) tr.ports.add(ev.port);
      // distinct targets only matter up to the family's minimum (a string per flow is the tracker's largest cost)
      if (tr.targets.size < tr.policy.minTargets) tr.targets.add(`${ev.peer}|${f.proto}|${ev.port}`); // an IP-protocol scan varies the protocol
      // The event's flow: the strongest so far, refreshed now and then. Kept as a copy — a verdict's row views its
      // whole scoring batch, which a track must not hold alive.
      if (w > tr.repWeight || tr.flows % 64 === 0) { tr.rep = ownRow(v); tr.repWeight = Math.max(w, tr.repWeight * 0.9); }
      for (let k = 0; k < v.top.length; k++) {
        const [name, c] = v.top[k]!;
        if (tr.top.size < TOP_CAP || tr.top.has(name)) tr.top.set(name, (tr.top.get(name) ?? 0) + Math.abs(c));
      }
      this.o.observer?.(tr, v);
      if (tr.episode) {
        inEpisode = true;
        if (t - tr.episode.publishedAt >= this.updateIntervalMs) (out ??= []).push(this.publish(tr, 'update', t));
        else tr.episode.dirty = true;
      } else if (this.passes(tr)) {
        inEpisode = true;
        tr.episode = { id: this.newId(), publishedAt: t, dirty: false, evidenceAtOpen: tr.evidence };
        this.counters.opened += 1;
        (out ??= []).push({ state: 'open', track: tr, id: tr.episode.id });
      } else if (tr.evidence >= 0.5 * tr.threshold) {
        inEpisode = true; // close to alerting: never learned as normal
      }
    }
    if (!inEpisode) {
      this.counters.observations += flows;
      this.o.onObservation?.(v);
    }
    this.o.baseline?.learn(v, inEpisode);
    if (this.tracks.size > this.maxTracks) this.evict();
    return out ?? NOTHING;
  }

  /**
   * Advances the capture clock: sends pending updates whose interval passed, closes episodes whose actor went quiet,
   * forgets quiet tracks. Cheap when called often (does the scan at most every 250 ms of capture time).
   */
  expire(now: number, force = false): EpisodeChange[] {
    this.clock = Math.max(this.clock, now);
    const t = this.clock;
    if (!force && t - this.lastExpiry < 250) return [];
    this.lastExpiry = t;
    const out: EpisodeChange[] = [];
    this.tracks.forEach((tr) => {
      const quietFor = t - tr.lastMs;
      if (tr.episode) {
        if (quietFor >= closeAfter(tr.policy)) {
          out.push(this.publish(tr, 'closed', t));
          this.tracks.delete(tr);
        } else if (tr.episode.dirty && t - tr.episode.publishedAt >= this.updateIntervalMs) {
          out.push(this.publish(tr, 'update', t));
        }
      } else if (quietFor >= 4 * tr.policy.halfLifeMs) {
        this.tracks.delete(tr); // decayed to under 1/16 of what it had: nothing left to remember
      }
    });
    return out;
  }

  /** End of input / shutdown: every open episode is published one last time as closed; every track forgotten. */
  closeAll(): EpisodeChange[] {
    const out: EpisodeChange[] = [];
    this.tracks.forEach((tr) => { if (tr.episode) out.push(this.publish(tr, 'closed', this.clock)); });
    this.tracks.clear();
    this.sightings.clear();
    return out;
  }

  /** Open episodes (for status and tests). */
  openEpisodes(): Track[] {
    return this.tracks.values().filter((t) => t.episode);
  }

  private passes(tr: Track): boolean {
    return tr.evidence >= tr.threshold && supported(tr) && !this.partOfScan(tr);
  }

  /**
   * A flood from one source aims at a service; a scan's probes (a connect scan's SYN, RST pairs, a UDP scan's lone
   * datagrams) look like a flood's flows one by one, and the model reads some of them as `dos`. So a source's `dos`
   * track does not open while the same source's `scan` track counts at least as many flows and already names every
   * victim of the flood: that is one activity, and its alert is the scan's. A flood beside the scan (more flows read
   * as a flood than as a scan, or a victim the scan never touched) opens as before. Evidence keeps accumulating; the
   * flows stay local observations.
   */
  private partOfScan(tr: Track): boolean {
    if (tr.family !== 'dos' || tr.role !== 'src') return false;
    const scan = this.tracks.get('scan', 'src', tr.actor);
    if (!scan || scan.flows < tr.flows) return false;
    for (const victim of tr.peers) if (!scan.peers.has(victim)) return false;
    return true;
  }

  private publish(tr: Track, state: EpisodeState, t: number): EpisodeChange {
    const e = tr.episode!;
    e.publishedAt = t;
    e.dirty = false;
    if (state === 'update') this.counters.updates += 1;
    if (state === 'closed') this.counters.closed += 1;
    return { state, track: tr, id: e.id };
  }

  /**
   * No track yet for this evidence: an actor's first flow of a family that needs several becomes a first sighting
   * (first-sightings.ts; returns its evidence), its second a track seeded from the sighting; a family one flow can
   * carry gets its track at once.
   */
  private trackOrSighting(ev: Evidence, policy: FamilyPolicy, indexKey: string, v: FlowVerdict, t: number, n: number): Track | number {
    const s = this.sightings.slot(ev.family, ev.role, indexKey);
    const maxAge = 4 * policy.halfLifeMs;
    const seen = FirstSightings.holds(s, ev.family, ev.role, indexKey, t, maxAge);
    if (!seen && n === 1 && waitsForSecondFlow(policy, v.flow)) {
      if (FirstSightings.claim(s, ev.family, ev.role, indexKey, ev.actor, t, maxAge)) this.counters.sightingsOverwritten += 1;
      return this.sight(s, ev, v);
    }
    const tr = this.newTrack(ev.family, ev.role, ev.actor, indexKey, v, t);
    if (seen) { seedFrom(tr, s); FirstSightings.release(s); }
    this.tracks.add(tr);
    return tr;
  }

  /** Records a first sighting's flow (as observe() records a track's); returns its evidence. */
  private sight(s: Sighting, ev: Evidence, v: FlowVerdict): number {
    addFlow(s, v, ev.family, this.weightOf(s, ev, v), 1, ev.probe);
    s.peer = ev.peer; s.port = ev.port; s.proto = v.flow.proto;
    return s.evidence;
  }

  /** The evidence's weight, down-weighted (and counted) where it matches the site baseline. */
  private weightOf(x: Tally, ev: Evidence, v: FlowVerdict): number {
    const factor = this.o.baseline?.factor(v, ev.family) ?? 1;
    if (factor >= 1) return ev.weight;
    x.suppressed += 1;
    this.counters.suppressed += 1;
    return ev.weight * factor;
  }

  private newTrack(family: string, role: Role, actor: string, indexKey: string, v: FlowVerdict, t: number): Track {
    return {
      family, role, actor, indexKey, policy: policyOf(family), threshold: this.thresholdOf(family), evidence: 0, at: t,
      flows: 0, ongoing: false, probes: 0, packets: 0, bytes: 0, suppressed: 0, peers: new Set(), ports: new Set(), targets: new Set(),
      firstMs: v.flow.first_seen_ms, lastMs: v.flow.last_seen_ms, scoreMax: 0, anomalyMax: 0, top: new Map(), rep: ownRow(v), repWeight: 0,
    };
  }

  /**
   * Drops the least recently touched tracks without an episode (episodes are never dropped here), down to 7/8 of the
   * cap so the sort this costs is paid once per many new tracks, not per flow.
   */
  private evict(): void {
    const quiet = this.tracks.values().filter((tr) => !tr.episode).sort((a, b) => a.lastMs - b.lastMs);
    const target = Math.floor(this.maxTracks * 7 / 8);
    for (const tr of quiet) {
      if (this.tracks.size <= target) return;
      this.tracks.delete(tr);
      this.counters.evicted += 1;
    }
  }
}

/** One flow cannot meet the family's support: its first sighting need not be a track (first-sightings.ts). */
function waitsForSecondFlow(p: FamilyPolicy, f: FlowVerdict['flow']): boolean {
  return p.minFlows > 1 && !(p.minPackets && f.src2dst_packets + f.dst2src_packets >= p.minPackets);
}

/** A track made from its actor's first sighting starts where the sighting left off (decayed to now by observe). */
function seedFrom(tr: Track, s: Sighting): void {
  copyTally(tr, s);
  tr.peers.add(s.peer);
  tr.ports.add(s.port);
  if (tr.policy.minTargets > 0) tr.targets.add(`${s.peer}|${s.proto}|${s.port}`);
}

function ownRow(v: FlowVerdict): FlowVerdict {
  // new Float32Array(typed array) is a memcpy; Float32Array.from() walks an iterator
  return { ...v, flow: { ...v.flow }, row: v.row instanceof Float32Array ? new Float32Array(v.row) : Float32Array.from(v.row) };
}

/** The support minima of its family hold (families.ts): what no amount of evidence from few flows replaces. */
export function supported(tr: Track): boolean {
  const p = tr.policy;
  // A long flow reports interim records before it ends: one under way is one flow (a DNS tunnel that runs for hours
  // must not wait for its end), but repeated interim records of it are not more flows.
  const flows = tr.flows > 0 ? tr.flows : tr.ongoing ? 1 : 0;
  // fingerprint probes (rules.ts) are their own support: a fingerprint touches few ports
  const probed = p.minProbes !== undefined && tr.probes >= p.minProbes;
  if (!probed && ((flows < p.minFlows && !(p.minPackets && tr.packets >= p.minPackets)) || tr.targets.size < p.minTargets)) return false;
  return tr.role === 'src' || tr.peers.size >= p.minPeersDst;
}

function decay(tr: Track, t: number): void {
  if (t > tr.at) {
    tr.evidence *= Math.pow(0.5, (t - tr.at) / tr.policy.halfLifeMs);
    tr.at = t;
  }
}

/** An episode ends once its actor gave no evidence for two half-lives (at least 30 s). */
export function closeAfter(p: FamilyPolicy): number {
  return Math.max(30_000, 2 * p.halfLifeMs);
}
