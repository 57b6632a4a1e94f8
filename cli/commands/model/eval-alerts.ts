/**
 * Detection figures at the level users see them: for every capture, the alerts a subscriber of
 * netsensor/v1/alerts/# would receive if a sensor replayed it into a gateway (cli/alert-replay.ts).
 *  - benign corpus captures of one split (models/corpus/benign.tsv): how many raise ANY alert (target ≤ 1 %);
 *  - labelled attack captures (models/corpus/attacks.tsv, family ≠ out_of_scope): how many raise an alert of the
 *    right family (target ≥ 95 %); out-of-scope ones are run and reported apart, never counted;
 *  - lab captures (a folder with manifest.json from models/lab/run-lab.ts): held-out runs of the given split;
 *    attack runs must alert with their class, benign runs must raise nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectionModel } from '../../../inference/model.js';
import { readManifest } from '../../../models/corpus/manifest.js';
import { replayAlerts } from '../../alert-replay.js';

export interface CaptureResult {
  set: 'benign' | 'attack' | 'out_of_scope' | 'lab';
  file: string;
  /** The family it must alert as (attacks, lab attack runs); null when it must raise nothing. */
  expect: string | null;
  flows: number;
  events: number;
  alerts: Record<string, number>;
  ok: boolean | null;
  error?: string;
}

export interface AlertEvaluation {
  split: string;
  benign: { captures: number; alerting: number; rate: number };
  attacks: { captures: number; rightFamily: number; rate: number; byFamily: Record<string, { captures: number; rightFamily: number }> };
  lab: { benignRuns: number; benignAlerting: number; attackRuns: number; attackDetected: number; byClass: Record<string, { runs: number; detected: number }> };
  captures: CaptureResult[];
}

interface LabRun { id: string; cls: string; split?: string; pcap?: string; file?: string }

async function one(model: DetectionModel, set: CaptureResult['set'], file: string, path: string, expect: string | null): Promise<CaptureResult> {
  try {
    const r = await replayAlerts(path, model);
    const alerts: Record<string, number> = {};
    for (const a of r.alerts) alerts[a.netsensor.class] = (alerts[a.netsensor.class] ?? 0) + 1;
    const ok = set === 'out_of_scope' ? null : expect === null ? r.alerts.length === 0 : (alerts[expect] ?? 0) > 0;
    return { set, file, expect, flows: r.flows, events: r.events, alerts, ok };
  } catch (e) {
    return { set, file, expect, flows: 0, events: 0, alerts: {}, ok: false, error: (e as Error).message };
  }
}

export async function evaluateAlerts(o: {
  model: DetectionModel; pcaps?: string; corpus?: string; attacks?: string; lab?: string; split: string;
  progress?: (c: CaptureResult) => void;
}): Promise<AlertEvaluation> {
  const captures: CaptureResult[] = [];
  const push = (c: CaptureResult) => { captures.push(c); o.progress?.(c); };
  if (o.pcaps && o.corpus) {
    for (const e of readManifest(o.corpus)) if (e.split === o.split) push(await one(o.model, 'benign', e.path, join(o.pcaps, e.path), null));
  }
  if (o.pcaps && o.attacks) {
    const lines = readFileSync(o.attacks, 'utf8').split('\n').filter((l) => l.trim());
    const head = lines[0]!.split('\t');
    const [pi, fi] = [head.indexOf('path'), head.indexOf('family')];
    for (const l of lines.slice(1)) {
      const c = l.split('\t');
      const family = c[fi]!;
      push(await one(o.model, family === 'out_of_scope' ? 'out_of_scope' : 'attack', c[pi]!, join(o.pcaps, c[pi]!), family === 'out_of_scope' ? null : family));
    }
  }
  if (o.lab && existsSync(join(o.lab, 'manifest.json'))) {
    const runs = JSON.parse(readFileSync(join(o.lab, 'manifest.json'), 'utf8')) as LabRun[] | { runs: LabRun[] };
    for (const r of Array.isArray(runs) ? runs : runs.runs) {
      if (r.split !== o.split) continue;
      const rel = r.pcap ?? r.file ?? `${r.id}.pcap`;
      const path = join(o.lab, rel);
      if (!existsSync(path)) continue;
      push(await one(o.model, 'lab', rel, path, r.cls === 'benign' ? null : r.cls));
    }
  }
  const benign = captures.filter((c) => c.set === 'benign');
  const attacks = captures.filter((c) => c.set === 'attack');
  const lab = captures.filter((c) => c.set === 'lab');
  const byFamily: AlertEvaluation['attacks']['byFamily'] = {};
  for (const a of attacks) {
    const f = (byFamily[a.expect!] ??= { captures: 0, rightFamily: 0 });
    f.captures += 1;
    if (a.ok) f.rightFamily += 1;
  }
  const byClass: AlertEvaluation['lab']['byClass'] = {};
  for (const r of lab.filter((c) => c.expect !== null)) {
    const k = (byClass[r.expect!] ??= { runs: 0, detected: 0 });
    k.runs += 1;
    if (r.ok) k.detected += 1;
  }
  const alerting = benign.filter((c) => !c.ok).length;
  const right = attacks.filter((c) => c.ok).length;
  const labBenign = lab.filter((c) => c.expect === null);
  const labAttack = lab.filter((c) => c.expect !== null);
  return {
    split: o.split,
    benign: { captures: benign.length, alerting, rate: benign.length ? alerting / benign.length : 0 },
    attacks: { captures: attacks.length, rightFamily: right, rate: attacks.length ? right / attacks.length : 0, byFamily },
    lab: {
      benignRuns: labBenign.length, benignAlerting: labBenign.filter((c) => !c.ok).length,
      attackRuns: labAttack.length, attackDetected: labAttack.filter((c) => c.ok).length, byClass,
    },
    captures,
  };
}

export function formatCapture(c: CaptureResult): string {
  const mark = c.ok === null ? ' ' : c.ok ? '✓' : '✗';
  const want = c.expect ? ` (want ${c.expect})` : c.set === 'out_of_scope' ? ' (out of scope)' : '';
  return `${mark} ${c.set.padEnd(12)} ${c.file}  flows ${c.flows}  events ${c.events}  alerts ${JSON.stringify(c.alerts)}${want}${c.error ? `  error: ${c.error}` : ''}`;
}

export function formatSummary(e: AlertEvaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const fam = Object.entries(e.attacks.byFamily).map(([f, v]) => `${f} ${v.rightFamily}/${v.captures}`).join(', ');
  const lab = Object.entries(e.lab.byClass).map(([f, v]) => `${f} ${v.detected}/${v.runs}`).join(', ');
  return [
    `benign corpus, ${e.split} split: ${e.benign.alerting} of ${e.benign.captures} captures raise an alert (${pct(e.benign.rate)})`,
    `labelled attack captures: ${e.attacks.rightFamily} of ${e.attacks.captures} raise an alert of the right family (${pct(e.attacks.rate)}): ${fam}`,
    e.lab.benignRuns + e.lab.attackRuns > 0
      ? `lab ${e.split} runs: benign ${e.lab.benignAlerting} of ${e.lab.benignRuns} raise an alert; attacks detected ${e.lab.attackDetected} of ${e.lab.attackRuns} (${lab})`
      : 'lab runs: none found',
  ].join('\n');
}
