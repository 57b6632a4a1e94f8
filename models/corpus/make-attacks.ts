/**
 * Writes models/corpus/attacks.tsv: every capture LABELS.tsv labels, with the family it should alert as.
 *   node --import tsx models/corpus/make-attacks.ts [--pcaps ../shared/pcaps] [--out models/corpus/attacks.tsv]
 * Fails if a labelled capture has no entry in attack-families.ts, so a new label cannot slip through unmapped.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { familyOf } from './attack-families.js';

const { values } = parseArgs({ options: {
  pcaps: { type: 'string', default: '../shared/pcaps' },
  out: { type: 'string', default: 'models/corpus/attacks.tsv' },
} });
const root = resolve(values.pcaps!);

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(pcap|pcapng|cap)(\.gz)?$/i.test(name)) out.push(relative(root, p));
  }
  return out.sort();
}

const files = walk(root);
const rows = ['path\tcategory\tlabel\tfamily\tjudgement\tnote'];
const missing: string[] = [];
for (const line of readFileSync(join(root, 'LABELS.tsv'), 'utf8').split('\n').slice(1)) {
  if (!line.trim()) continue;
  const [glob, category, label] = line.split('\t') as [string, string, string];
  if (category === 'flow-csv') continue; // flow tables, not captures
  const deep = glob.endsWith('/*') || glob.endsWith('/');
  const stem = glob.endsWith('/*') ? glob.slice(0, -1) : glob;
  const re = new RegExp(`^${stem.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}${deep ? '.+' : ''}$`);
  for (const rel of files.filter((f) => re.test(f))) {
    const fam = familyOf(rel);
    if (!fam) { missing.push(rel); continue; }
    rows.push([rel, category, label, fam.family, fam.judgement ? 'yes' : '', fam.note].join('\t'));
  }
}
if (missing.length) throw new Error(`labelled captures without a family in attack-families.ts:\n  ${missing.join('\n  ')}`);
writeFileSync(resolve(values.out!), rows.join('\n') + '\n');
process.stderr.write(`[attacks] ${rows.length - 1} labelled captures → ${values.out}\n`);
