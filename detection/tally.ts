/**
 * What the episode tracker counts of an actor's flows, for a track (episodes.ts) and for a first sighting
 * (first-sightings.ts) alike: a sighting becomes a track by handing its tally over.
 */
import type { FlowVerdict } from './evidence.js';

export interface Tally {
  /** Decayed evidence, as of `at`. */
  evidence: number;
  /** Flow time the evidence was last decayed to. */
  at: number;
  /** Flows that ended (interim records of a flow that goes on are not counted). */
  flows: number;
  /** An interim record was seen: a flow is under way even if none has ended yet (one flow, for support). */
  ongoing: boolean;
  packets: number;
  bytes: number;
  /** Flows that were fingerprint probes (rules.ts; support of families with minProbes). */
  probes: number;
  /** Evidence items down-weighted by the site baseline. */
  suppressed: number;
  firstMs: number;
  lastMs: number;
  scoreMax: number;
  anomalyMax: number;
}

/**
 * Adds a flow's (already weighted) evidence and its counts, `n` times: a folded record (FlowVerdict.folded) stands for
 * n lone flows of one packet each, its own size standing for theirs.
 */
export function addFlow(x: Tally, v: FlowVerdict, family: string, weight: number, n = 1, probe = false): void {
  const f = v.flow;
  x.evidence += weight * n;
  if (probe) x.probes += n;
  if (!v.interim) x.flows += n;
  else x.ongoing = true;
  x.packets += n * (f.src2dst_packets + f.dst2src_packets);
  x.bytes += n * (f.src2dst_bytes + f.dst2src_bytes);
  x.firstMs = Math.min(x.firstMs, f.first_seen_ms);
  x.lastMs = Math.max(x.lastMs, f.last_seen_ms);
  x.scoreMax = Math.max(x.scoreMax, family === 'anomaly' ? 0 : v.score);
  x.anomalyMax = Math.max(x.anomalyMax, v.anomaly);
}

/** Hands a tally over (a first sighting's, to the track it becomes). */
export function copyTally(to: Tally, from: Tally): void {
  to.evidence = from.evidence; to.at = from.at; to.flows = from.flows; to.ongoing = from.ongoing; to.probes = from.probes;
  to.packets = from.packets; to.bytes = from.bytes; to.suppressed = from.suppressed;
  to.firstMs = from.firstMs; to.lastMs = from.lastMs; to.scoreMax = from.scoreMax; to.anomalyMax = from.anomalyMax;
}
