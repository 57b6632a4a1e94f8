/**
 * Writes the benign corpus manifest (no root needed):
 *   node --import tsx models/corpus/make-manifest.ts [--pcaps ../shared/pcaps] [--out models/corpus/benign.tsv]
 * Every capture below the pcaps root that a rule of selection.ts matches, that LABELS.tsv does not label and
 * in which the flow core finds at least one IP flow, becomes one row: path, group, split, why. The split comes
 * from the group's seeded hash, stratified by rule (split.ts), so all setups of one device type share a split.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { captureFlows } from '../../core/flows.js';
import { ruleFor } from './selection.js';
import { assignSplits } from './split.js';

const { values } = parseArgs({ options: {
  pcaps: { type: 'string', default: '../shared/pcaps' },
  out: { type: 'string', default: 'models/corpus/benign.tsv' },
} });
const root = resolve(values.pcaps!);

/** LABELS.tsv globs: `*` within one path segment, a trailing `/*` (or `/`) for everything below a folder. */
function labelled(): RegExp[] {
  return readFileSync(join(root, 'LABELS.tsv'), 'utf8').split('\n').slice(1).filter((l) => l.trim()).map((l) => {
    const glob = l.split('\t')[0]!;
    const deep = glob.endsWith('/*') || glob.endsWith('/');
    const stem = glob.endsWith('/*') ? glob.slice(0, -1) : glob;
    const body = stem.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*');
    return new RegExp(`^${body}${deep ? '.+' : ''}$`);
  });
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(pcap|pcapng|cap)(\.gz)?$/i.test(name)) out.push(relative(root, p));
  }
  return out.sort();
}

const attacks = labelled();
const kept: { rel: string; group: string; why: string; flows: number }[] = [];
const strata = new Map<string, string[]>();
for (const rel of walk(root)) {
  const hit = ruleFor(rel);
  if (!hit) continue;
  if (attacks.some((re) => re.test(rel))) { process.stderr.write(`[manifest] skip ${rel}: labelled in LABELS.tsv\n`); continue; }
  const flows = (await captureFlows(join(root, rel))).keys.length;
  if (flows === 0) { process.stderr.write(`[manifest] skip ${rel}: no IP flows\n`); continue; }
  kept.push({ rel, group: hit.group, why: hit.rule.why, flows });
  strata.set(hit.rule.why, [...(strata.get(hit.rule.why) ?? []), hit.group]);
}
const splits = assignSplits(strata);
const rows: string[] = ['path\tgroup\tsplit\twhy'];
const perSplit = new Map<string, { captures: number; groups: Set<string>; flows: number }>();
for (const k of kept) {
  const split = splits.get(k.group)!;
  rows.push([k.rel, k.group, split, k.why].join('\t'));
  const s = perSplit.get(split) ?? { captures: 0, groups: new Set(), flows: 0 };
  s.captures++; s.groups.add(k.group); s.flows += k.flows;
  perSplit.set(split, s);
}
writeFileSync(resolve(values.out!), rows.join('\n') + '\n');
for (const [split, s] of [...perSplit].sort()) process.stderr.write(`[manifest] ${split}: ${s.captures} captures, ${s.groups.size} groups, ${s.flows} flows\n`);
process.stderr.write(`[manifest] ${rows.length - 1} captures → ${values.out}\n`);
