/**
 * Writes models/MODEL.md from the measured results, so the card never drifts from the shipped model:
 *   node --import tsx models/train/model-card.ts [--report models/data/train-report.json]
 *     [--alerts models/data/alert-eval.json] [--episodes models/data/episode-eval.json]
 *     [--calibration models/data/episode-calibration.json] [--notes models/data/card-notes.md] [--out models/MODEL.md]
 * The notes file holds the hand-written sections (design, limitations, interpretation).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatEvaluation } from './metrics.js';
import type { TrainReport } from './pipeline.js';
import type { RunAlerts } from './episode-calibration.js';

const { values } = parseArgs({ options: {
  report: { type: 'string', default: 'models/data/train-report.json' },
  alerts: { type: 'string', default: 'models/data/alert-eval.json' },
  episodes: { type: 'string', default: 'models/data/episode-eval.json' },
  calibration: { type: 'string', default: 'models/data/episode-calibration.json' },
  notes: { type: 'string', default: 'models/data/card-notes.md' },
  out: { type: 'string', default: 'models/MODEL.md' },
} });

const r = JSON.parse(readFileSync(values.report!, 'utf8')) as TrainReport;
const t = r.test;
const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;
const lines: string[] = [];
const notes = existsSync(values.notes!) ? readFileSync(values.notes!, 'utf8') : '';
const [intro, ...rest] = notes.split('\n<!-- results -->\n');
lines.push(intro!.trim(), '');

lines.push('## Measured results (held-out lab runs)', '',
  `Model \`${r.version}\`, feature schema \`${r.schemaId}\`. Test runs (never seen in training or calibration): ${r.runs.test.map((x) => `\`${x}\``).join(', ')}.`, '',
  `Flows — train (after the per-run cap): ${JSON.stringify(r.rows.train)}; validation: ${JSON.stringify(r.rows.val)}; test: ${JSON.stringify(r.rows.test)}.`, '',
  '### int8 model, decision as deployed (class thresholds from the metadata)', '',
  formatEvaluation(t.thresholded, r.classNames), '',
  `- Macro-F1 as deployed: **${t.thresholded.macroF1.toFixed(4)}**; argmax int8 ${t.argmax.macroF1.toFixed(4)}; argmax float ${t.float.macroF1.toFixed(4)}.`,
  `- False alerts per 10k benign test flows (${t.benignFlows} benign flows): classifier **${t.falseAlertsPer10k.classifier.toFixed(2)}**, anomaly detector ${t.falseAlertsPer10k.anomaly.toFixed(2)}, either ${t.falseAlertsPer10k.any.toFixed(2)}.`,
  `- The anomaly detector alone flags ${pct(t.anomalyRecallOnAttacks)} of attack test flows.`,
  `- int8 vs float top-1 agreement on the test flows: **${pct(t.int8FloatTop1Agreement)}**.`,
  `- Size: int8 ${r.sizeBytes.int8} bytes, float ${r.sizeBytes.float} bytes.`,
  `- Throughput in onnxruntime-node (batch ${r.throughputRowsPerS.batch}, one intra-op thread, this build machine, shared CPU): int8 ${r.throughputRowsPerS.int8.toLocaleString('en')} rows/s, float ${r.throughputRowsPerS.float.toLocaleString('en')} rows/s.`,
  `- Thresholds: classes ${r.classNames.map((c, i) => `${c} ${i === r.classNames.indexOf('benign') ? '–' : r.classThresholds[i]!.toFixed(3)}`).join(', ')}; anomaly ${r.anomaly.threshold.toExponential(3)} (log-normal fit μ=${r.anomaly.mu.toFixed(3)}, σ=${r.anomaly.sigma.toFixed(3)} of ln error on benign validation flows, target FPR ${r.anomaly.targetFpr}; empirical quantile ${r.anomaly.empirical.toExponential(3)}).`,
  '');

/** The parts of `netsensor model eval --captures --json` (cli/commands/model/eval-alerts.ts) the card reads. */
interface AlertEvaluation {
  split: string;
  benign: { captures: number; alerting: number; rate: number };
  attacks: { captures: number; rightFamily: number; rate: number; byFamily: Record<string, { captures: number; rightFamily: number }> };
  lab: { benignRuns: number; benignAlerting: number; attackRuns: number; attackDetected: number; byClass: Record<string, { runs: number; detected: number }> };
  captures: Array<{ set: string; file: string; expect: string | null; flows: number; alerts: Record<string, number>; ok: boolean | null; error?: string }>;
}

const fmt = (b: Record<string, number>): string => Object.entries(b).map(([k, v]) => `${k} ${v}`).join(', ') || '–';

// What users see: alerts on netsensor/v1/alerts/#, per capture (netsensor model eval --captures, the engine of
// `netsensor detect --alerts`), and episodes per held-out lab run (netsensor model eval --data).
if (existsSync(values.alerts!)) {
  const { alerts: e, version } = JSON.parse(readFileSync(values.alerts!, 'utf8')) as { version: string; alerts: AlertEvaluation };
  const benignAlerting = e.captures.filter((c) => c.set === 'benign' && !c.ok);
  const attacks = e.captures.filter((c) => c.set === 'attack');
  lines.push('## Alerts a subscriber receives (held-out captures)', '',
    `Model \`${version}\`. \`netsensor model eval --captures <pcaps> --split ${e.split}\` replays each capture through the sensor's pipeline and the gateway's correlation (the engine of \`netsensor detect --alerts\`) and counts the alerts a client subscribed to \`netsensor/v1/alerts/#\` would receive. Thresholds (model and episodes) were calibrated on validation data only; no threshold was set on these captures (lab scenarios added after a capture was missed are named under \"Failures, plainly\").`, '',
    `- **Benign corpus, ${e.split} split** (models/corpus/benign.tsv, held out by capture and by device type): **${e.benign.alerting} of ${e.benign.captures}** captures raise any alert (${pct(e.benign.rate)}).${benignAlerting.length ? ` Alerting: ${benignAlerting.map((c) => `${c.file} (${fmt(c.alerts)})`).join('; ')}.` : ''}`,
    `- **Labelled attack captures** (models/corpus/attacks.tsv, in scope): **${e.attacks.rightFamily} of ${e.attacks.captures}** raise an alert of the right family (${pct(e.attacks.rate)}): ${Object.entries(e.attacks.byFamily).map(([f, v]) => `${f} ${v.rightFamily}/${v.captures}`).join(', ')}.`,
    e.lab.benignRuns + e.lab.attackRuns > 0
      ? `- **Lab ${e.split} runs with captures** (new scenarios): benign runs alerting ${e.lab.benignAlerting} of ${e.lab.benignRuns}; attack runs detected with their class ${e.lab.attackDetected} of ${e.lab.attackRuns} (${Object.entries(e.lab.byClass).map(([f, v]) => `${f} ${v.detected}/${v.runs}`).join(', ')}).`
      : '',
    '', '| attack capture | expected | flows | alerts by class | right family |', '|---|---|---:|---|:-:|');
  for (const c of attacks) lines.push(`| ${c.file} | ${c.expect} | ${c.flows} | ${c.error ? `error: ${c.error}` : fmt(c.alerts)} | ${c.ok ? 'yes' : '**no**'} |`);
  const oos = e.captures.filter((c) => c.set === 'out_of_scope' && Object.keys(c.alerts).length > 0);
  lines.push('', `Out-of-scope labelled captures (web attacks, exploits, evasion…; not counted) raising alerts: ${oos.length ? oos.map((c) => `${c.file} (${fmt(c.alerts)})`).join('; ') : 'none'}.`, '');
}
if (existsSync(values.episodes!)) {
  const { episodes: ep } = JSON.parse(readFileSync(values.episodes!, 'utf8')) as { episodes: { runs: RunAlerts[]; benignRuns: number; benignRunsAlerting: number; attackRuns: number; attackRunsDetected: number; runsWithFalseEpisodes: number } };
  lines.push('### Episodes per held-out lab run', '',
    `\`netsensor model eval --data\` replays each test run's flow rows through the same evidence and episode code: benign runs opening any episode **${ep.benignRunsAlerting} of ${ep.benignRuns}**; attack runs with an episode of every attack class they contain **${ep.attackRunsDetected} of ${ep.attackRuns}**; runs with an episode on a benign actor ${ep.runsWithFalseEpisodes}.`, '');
  const odd = ep.runs.filter((r) => r.benignFamilies.length || r.classes.some((c) => !r.attackFamilies.includes(c)));
  if (odd.length) {
    lines.push('| run | attack classes | episodes on attackers | episodes on benign actors |', '|---|---|---|---|');
    for (const r of odd) lines.push(`| ${r.run} | ${r.classes.join(', ') || '–'} | ${r.attackFamilies.join(', ') || '–'} | ${r.benignFamilies.join(', ') || '–'} |`);
    lines.push('');
  }
}
if (existsSync(values.calibration!)) {
  const c = JSON.parse(readFileSync(values.calibration!, 'utf8')) as { thresholds: Record<string, number>; attackRuns: Record<string, { runs: number; alert: number }>; runs: number };
  lines.push('### Episode thresholds (calibrated on validation)', '',
    `\`netsensor model calibrate-episodes\` over ${c.runs} validation runs and corpus captures: ${Object.entries(c.thresholds).map(([f, t]) => `${f} ${t}`).join(', ')} (evidence units; floors in detection/families.ts). Validation attack runs reaching their threshold: ${Object.entries(c.attackRuns).map(([f, v]) => `${f} ${v.alert}/${v.runs}`).join(', ')}.`, '');
}
lines.push(...rest.map((s) => s.trim()), '');
writeFileSync(values.out!, lines.join('\n'));
process.stderr.write(`wrote ${values.out}\n`);
