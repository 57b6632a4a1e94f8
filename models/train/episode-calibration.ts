/**
 * Calibrates the episode thresholds (detection/families.ts) of a model on VALIDATION data only: lab validation runs
 * and benign-corpus validation captures, as flow rows (models/data/*.csv.gz), replayed per run in flow-end order
 * through the sensor's own evidence and episode code with thresholds set out of reach, watching how high each
 * (family, role, actor) gets while its support minima hold.
 *
 *   threshold(family) = max(floor from families.ts, MARGIN × the highest peak of any benign actor)
 *
 * A benign actor is one none of whose flows is labelled as an attack. The attack runs' peaks are reported (how many
 * validation attack runs would alert at the calibrated threshold) but never move a threshold. Test runs and test
 * captures are not read here.
 */
import { EpisodeTracker, supported, type Track } from '../../detection/episodes.js';
import type { FlowVerdict } from '../../detection/evidence.js';
import { EVIDENCE_DECISION, FAMILIES } from '../../detection/families.js';
import { featureIndex, NUM_FEATURES } from '../../core/schema.js';
import type { DetectionModel } from '../../inference/model.js';
import type { Dataset } from './dataset.js';

export const MARGIN = 1.25;

const F = {
  duration: featureIndex('duration_ms'),
  s2dPackets: featureIndex('src2dst_packets'), s2dBytes: featureIndex('src2dst_bytes'),
  d2sPackets: featureIndex('dst2src_packets'), d2sBytes: featureIndex('dst2src_bytes'),
};

export interface EpisodeCalibration {
  thresholds: Record<string, number>;
  /** Highest benign peak per family, and which run / actor gave it. */
  benignPeak: Record<string, { evidence: number; run: string; actor: string }>;
  /** Validation attack runs per family: how many reach the calibrated threshold with an actor of the run's class. */
  attackRuns: Record<string, { runs: number; alert: number; missed: string[] }>;
  runs: number;
  rows: number;
}

/** Flow verdicts of `rows`, scored with the model as deployed, grouped by run in flow-end order. */
async function verdictsByRun(ds: Dataset, rows: number[], model: DetectionModel): Promise<Map<string, Array<{ v: FlowVerdict; label: string }>>> {
  const byRun = new Map<string, Array<{ v: FlowVerdict; label: string; end: number }>>();
  const batch = 4096;
  for (let s = 0; s < rows.length; s += batch) {
    const idx = rows.slice(s, s + batch);
    const x = new Float32Array(idx.length * NUM_FEATURES);
    idx.forEach((r, i) => x.set(ds.features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), i * NUM_FEATURES));
    const scores = await model.score(x, idx.length, { topFeatures: 0, decision: EVIDENCE_DECISION });
    idx.forEach((r, i) => {
      const m = ds.meta[r]!;
      const row = x.subarray(i * NUM_FEATURES, (i + 1) * NUM_FEATURES);
      const sc = scores[i]!;
      const end = m.first_seen_ms + row[F.duration]!;
      const v: FlowVerdict = {
        flow: {
          src_ip: m.src_ip, src_port: m.src_port, dst_ip: m.dst_ip, dst_port: m.dst_port, proto: m.protocol, vlan: 0,
          first_seen_ms: m.first_seen_ms, last_seen_ms: end, end_reason: m.record === 'interim' ? 'interim' : 'idle',
          src2dst_packets: row[F.s2dPackets]!, src2dst_bytes: row[F.s2dBytes]!, dst2src_packets: row[F.d2sPackets]!, dst2src_bytes: row[F.d2sBytes]!,
        },
        interim: m.record === 'interim', row, alertClass: sc.alertClass, score: sc.score, classThreshold: sc.threshold, anomaly: sc.anomaly, top: [],
      };
      let list = byRun.get(m.run);
      if (!list) { list = []; byRun.set(m.run, list); }
      list.push({ v, label: m.label, end });
    });
  }
  for (const list of byRun.values()) list.sort((a, b) => a.end - b.end);
  return byRun as unknown as Map<string, Array<{ v: FlowVerdict; label: string }>>;
}

interface Peak { family: string; actor: string; evidence: number; attack: boolean }

/** Peak supported evidence of every (family, role, actor) of one run, with thresholds out of reach. */
function peaksOf(list: Array<{ v: FlowVerdict; label: string }>): Map<string, Peak> {
  const labelOf = new Map<FlowVerdict, string>();
  for (const { v, label } of list) labelOf.set(v, label);
  const peaks = new Map<string, Peak>();
  const never = Object.fromEntries(Object.keys(FAMILIES).map((f) => [f, Number.MAX_VALUE]));
  const tracker = new EpisodeTracker({
    thresholds: never,
    observer: (tr: Track, v: FlowVerdict) => {
      const key = `${tr.family}|${tr.role}|${tr.actor}|${tr.policy.perPeer ? [...tr.peers][0] : ''}`;
      let p = peaks.get(key);
      if (!p) { p = { family: tr.family, actor: tr.actor, evidence: 0, attack: false }; peaks.set(key, p); }
      if ((labelOf.get(v) ?? 'benign') !== 'benign') p.attack = true;
      if (supported(tr)) p.evidence = Math.max(p.evidence, tr.evidence);
    },
  });
  for (const { v } of list) {
    tracker.observe(v);
    tracker.expire(v.flow.last_seen_ms);
  }
  return peaks;
}

export interface RunAlerts {
  run: string;
  /** The run's attack classes (several in merged runs); empty for a benign run. */
  classes: string[];
  /** Families of the episodes opened on the run's attack actors (any flow labelled with the attack). */
  attackFamilies: string[];
  /** Families of episodes opened on actors none of whose flows is an attack: false alerts. */
  benignFamilies: string[];
}

/**
 * Episodes a held-out run opens with the thresholds in force (rows replayed as in calibration): which families on
 * its attack actors, which on its benign actors. The sensor's episode level, for runs whose captures are gone.
 */
export async function episodesOfRuns(ds: Dataset, rows: number[], model: DetectionModel, thresholds: Record<string, number>): Promise<RunAlerts[]> {
  const byRun = await verdictsByRun(ds, rows, model);
  const out: RunAlerts[] = [];
  for (const [run, list] of byRun) {
    const labelOf = new Map<FlowVerdict, string>();
    for (const { v, label } of list) labelOf.set(v, label);
    const attackKeys = new Set<string>();
    const opened = new Map<string, string>();
    const keyOf = (tr: Track) => `${tr.family}|${tr.role}|${tr.actor}|${tr.policy.perPeer ? [...tr.peers][0] : ''}`;
    const tracker = new EpisodeTracker({
      thresholds,
      observer: (tr, v) => { if ((labelOf.get(v) ?? 'benign') !== 'benign') attackKeys.add(keyOf(tr)); },
    });
    const take = (cs: ReturnType<EpisodeTracker['observe']>) => { for (const c of cs) if (c.state === 'open') opened.set(keyOf(c.track), c.track.family); };
    for (const { v } of list) { take(tracker.observe(v)); take(tracker.expire(v.flow.last_seen_ms)); }
    const labels = new Set(list.map((x) => x.label).filter((l) => l !== 'benign'));
    const attackFamilies = new Set<string>(), benignFamilies = new Set<string>();
    for (const [k, fam] of opened) (attackKeys.has(k) ? attackFamilies : benignFamilies).add(fam);
    out.push({ run, classes: [...labels].sort(), attackFamilies: [...attackFamilies].sort(), benignFamilies: [...benignFamilies].sort() });
  }
  return out;
}

export async function calibrateEpisodes(ds: Dataset, valRows: number[], model: DetectionModel, log: (s: string) => void = () => {}): Promise<EpisodeCalibration> {
  const byRun = await verdictsByRun(ds, valRows, model);
  const benignPeak: EpisodeCalibration['benignPeak'] = {};
  const attackPeaks: Array<{ run: string; cls: string; peak: number }> = [];
  for (const [run, list] of byRun) {
    const peaks = peaksOf(list);
    const attackClasses = new Set(list.map((x) => x.label).filter((l) => l !== 'benign'));
    for (const p of peaks.values()) {
      if (p.attack) continue;
      const cur = benignPeak[p.family];
      if (!cur || p.evidence > cur.evidence) benignPeak[p.family] = { evidence: p.evidence, run, actor: p.actor };
    }
    for (const cls of attackClasses) {
      let best = 0;
      for (const p of peaks.values()) if (p.attack && p.family === cls) best = Math.max(best, p.evidence);
      attackPeaks.push({ run, cls, peak: best });
    }
  }
  const thresholds: Record<string, number> = {};
  for (const [f, p] of Object.entries(FAMILIES)) {
    const benign = benignPeak[f]?.evidence ?? 0;
    thresholds[f] = Number(Math.max(p.threshold, MARGIN * benign).toFixed(3));
  }
  const attackRuns: EpisodeCalibration['attackRuns'] = {};
  for (const a of attackPeaks) {
    const r = (attackRuns[a.cls] ??= { runs: 0, alert: 0, missed: [] });
    r.runs += 1;
    if (a.peak >= (thresholds[a.cls] ?? Infinity)) r.alert += 1; else r.missed.push(a.run);
  }
  log(`episode thresholds (validation, ${byRun.size} runs/captures): ${Object.entries(thresholds).map(([f, t]) => `${f} ${t}`).join(', ')}`);
  return { thresholds, benignPeak, attackRuns, runs: byRun.size, rows: valRows.length };
}
