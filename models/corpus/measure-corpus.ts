/**
 * How many corpus captures raise at least one flow-level alert, per split, with a model (default: the shipped one):
 *   node --import tsx models/corpus/measure-corpus.ts [--pcaps ../shared/pcaps] [--manifest models/corpus/benign.tsv]
 *        [--model FILE] [--json FILE]
 * Same engine as `netsensor detect <capture>` (inference/detect-capture.ts), decision as deployed.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { detectCapture } from '../../inference/detect-capture.js';
import { loadModel } from '../../inference/model.js';
import { readManifest } from './manifest.js';

const { values } = parseArgs({ options: {
  pcaps: { type: 'string', default: '../shared/pcaps' },
  manifest: { type: 'string', default: 'models/corpus/benign.tsv' },
  model: { type: 'string' },
  json: { type: 'string' },
} });
const root = resolve(values.pcaps!);
const model = await loadModel(values.model);

interface SplitTally { captures: number; alerting: number; flows: number; alertFlows: number; capturesByClass: Record<string, number>; groups: Set<string>; alertingGroups: Set<string> }
const tally = new Map<string, SplitTally>();
const perCapture: { path: string; split: string; group: string; flows: number; byClass: Record<string, number> }[] = [];
for (const e of readManifest(resolve(values.manifest!))) {
  const d = await detectCapture(join(root, e.path), model);
  const t = tally.get(e.split) ?? { captures: 0, alerting: 0, flows: 0, alertFlows: 0, capturesByClass: {}, groups: new Set(), alertingGroups: new Set() };
  t.captures++; t.flows += d.flows; t.alertFlows += d.alerts.length; t.groups.add(e.group);
  if (d.alerts.length > 0) { t.alerting++; t.alertingGroups.add(e.group); }
  for (const c of Object.keys(d.byClass)) t.capturesByClass[c] = (t.capturesByClass[c] ?? 0) + 1;
  tally.set(e.split, t);
  perCapture.push({ path: e.path, split: e.split, group: e.group, flows: d.flows, byClass: d.byClass });
}
const lines = ['split\tcaptures alerting\tgroups alerting\tflows alerting\tcaptures per alert class'];
for (const split of ['train', 'val', 'test']) {
  const t = tally.get(split);
  if (!t) continue;
  const classes = Object.entries(t.capturesByClass).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  lines.push(`${split}\t${t.alerting} / ${t.captures} (${((100 * t.alerting) / t.captures).toFixed(1)} %)\t${t.alertingGroups.size} / ${t.groups.size}\t${t.alertFlows} / ${t.flows}\t${classes || '-'}`);
}
process.stdout.write(lines.join('\n') + '\n');
if (values.json) writeFileSync(values.json, JSON.stringify({ model: values.model ?? 'shipped', splits: Object.fromEntries([...tally].map(([k, t]) => [k, { ...t, groups: t.groups.size, alertingGroups: [...t.alertingGroups].sort() }])), captures: perCapture }, null, 1));
