/**
 * Writes models/MODEL.md from the measured results, so the card never drifts from the shipped model:
 *   node --import tsx models/train/model-card.ts [--report models/data/train-report.json]
 *     [--public models/data/public-eval.json] [--notes models/data/card-notes.md] [--out models/MODEL.md]
 * The notes file holds the hand-written sections (design, limitations, interpretation).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatEvaluation } from './metrics.js';
import type { TrainReport } from './pipeline.js';

const { values } = parseArgs({ options: {
  report: { type: 'string', default: 'models/data/train-report.json' },
  public: { type: 'string', default: 'models/data/public-eval.json' },
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

if (existsSync(values.public!)) {
  const p = JSON.parse(readFileSync(values.public!, 'utf8')) as { captures: { file: string; category: string; family: string | null; flows: number; alerts: number; byClass: Record<string, number>; rightFamily: boolean | null; error?: string }[] };
  const labelled = p.captures.filter((c) => c.category !== 'benign');
  const withFamily = labelled.filter((c) => c.family);
  const right = withFamily.filter((c) => c.rightFamily);
  const benign = p.captures.filter((c) => c.category === 'benign' && !c.error);
  const benignAlerting = benign.filter((c) => c.alerts > 0);
  const benignClassAlerting = benign.filter((c) => Object.keys(c.byClass).some((k) => k !== 'anomaly'));
  const benignFlows = benign.reduce((s, c) => s + c.flows, 0);
  const benignAlerts = benign.reduce((s, c) => s + c.alerts, 0);
  const benignClassAlerts = benign.reduce((s, c) => s + Object.entries(c.byClass).filter(([k]) => k !== 'anomaly').reduce((a, [, v]) => a + v, 0), 0);
  const fmt = (b: Record<string, number>): string => Object.entries(b).map(([k, v]) => `${k} ${v}`).join(', ') || '–';
  lines.push('## Public captures (`../shared/pcaps`, LABELS.tsv)', '',
    `\`netsensor model eval --captures <pcaps>\` runs \`detect\` on every capture. A labelled capture "gets the right family" when at least one alert has the class its category maps to (portscan/os-fingerprint → scan; dos/ddos → dos; bruteforce; dns-tunnel → dns_tunnel; malware-c2 → c2). Categories with no class of ours (web attacks, exploits, MITM, Tor, evasion) are listed for what they raise.`, '',
    `- Right family on **${right.length} of ${withFamily.length}** labelled captures whose category maps to a class.`,
    `- Unlabelled (benign / protocol-sample) captures: ${benign.length} parsed, ${benignFlows} flows; **${benignClassAlerting.length}** raise a classifier alert (${benignClassAlerts} alerts, ${(benignFlows ? (benignClassAlerts / benignFlows) * 1e4 : 0).toFixed(0)} per 10k flows); ${benignAlerting.length} raise any alert including anomaly (${benignAlerts} alerts, ${(benignFlows ? (benignAlerts / benignFlows) * 1e4 : 0).toFixed(0)} per 10k flows).`,
    '', '### Labelled captures', '', '| capture | category | expected | flows | alerts by class | right family |', '|---|---|---|---:|---|:-:|');
  for (const c of labelled) lines.push(`| ${c.file} | ${c.category} | ${c.family ?? '–'} | ${c.flows ?? '–'} | ${c.error ? `error: ${c.error}` : fmt(c.byClass)} | ${c.family ? (c.rightFamily ? 'yes' : '**no**') : '–'} |`);
  lines.push('', '### Unlabelled captures that raise classifier alerts', '', '| capture | flows | alerts by class |', '|---|---:|---|');
  const worst = benignClassAlerting.sort((a, b) => b.alerts - a.alerts);
  for (const c of worst.slice(0, 40)) lines.push(`| ${c.file} | ${c.flows} | ${fmt(c.byClass)} |`);
  if (worst.length > 40) lines.push(`| … ${worst.length - 40} more captures (full list: \`${values.public}\`) | ${worst.slice(40).reduce((s, c) => s + c.flows, 0)} | ${worst.slice(40).reduce((s, c) => s + c.alerts, 0)} alerts |`);
  const byClass: Record<string, number> = {};
  for (const c of benign) for (const [k, v] of Object.entries(c.byClass)) byClass[k] = (byClass[k] ?? 0) + v;
  const anomalyOnly = benignAlerting.filter((c) => !benignClassAlerting.includes(c));
  lines.push('', `Alerts on unlabelled captures by class: ${fmt(byClass)}. Captures raising only anomaly alerts: ${anomalyOnly.length}.`, '');
}
lines.push(...rest.map((s) => s.trim()), '');
writeFileSync(values.out!, lines.join('\n'));
process.stderr.write(`wrote ${values.out}\n`);
