/**
 * Small test fixtures from the lab's held-out (test split) runs:
 *  - test/fixtures/lab/<class>.pcap: one capture per class, cut to ≤ ~200 KB (first packets only);
 *  - test/fixtures/model/golden-rows.json: per class, the first test-split flow row the float model gets right
 *    with probability ≥ 0.9 (the float-vs-int8 golden test then checks the int8 model on it).
 *   node --import tsx models/lab/make-fixtures.ts [--lab models/lab/work] [--data models/data/lab-flows.csv.gz]
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../../inference/model.js';
import { NUM_FEATURES } from '../../core/schema.js';
import { readDataset } from '../train/dataset.js';

const { values } = parseArgs({ options: {
  lab: { type: 'string', default: 'models/lab/work' }, data: { type: 'string', default: 'models/data/lab-flows.csv.gz' },
  pick: { type: 'string', default: '' }, // class=run,… to override the chosen run per class
} });
const lab = resolve(values.lab!);
const manifest = JSON.parse(readFileSync(join(lab, 'manifest.json'), 'utf8')) as { runs: { id: string; cls: string; split: string; scenario: string; pcap: string }[] };
const overrides = Object.fromEntries(values.pick!.split(',').filter(Boolean).map((kv) => kv.split('=')));
const outDir = resolve('test/fixtures/lab');
mkdirSync(outDir, { recursive: true });
const LIMIT = 200_000;
// benign: the DNS test run (334 flows, raises nothing); benign-chatter: the most varied benign test run, where
// the anomaly detector raises one alert (a ping) — the detect test checks it raises no classifier alert.
const DEFAULT_PICK: Record<string, string> = { benign: 'dns-02', 'benign-chatter': 'chatter-02' };

for (const cls of ['benign', 'benign-chatter', 'scan', 'dos', 'bruteforce', 'dns_tunnel', 'exfil', 'c2']) {
  const candidates = manifest.runs.filter((r) => r.cls === cls && r.split === 'test');
  const chosen = overrides[cls] ?? DEFAULT_PICK[cls];
  const run = chosen ? manifest.runs.find((r) => r.id === chosen) : candidates.sort((a, b) => statSync(join(lab, a.pcap)).size - statSync(join(lab, b.pcap)).size)[0];
  if (!run) { process.stderr.write(`[fixtures] no test run for ${cls}\n`); continue; }
  const src = join(lab, run.pcap), dst = join(outDir, `${cls}.pcap`);
  // Smallest change that fits: headers only (snap 128 B keeps every flow intact), then only the attacker's
  // packets, and only as a last resort the first packets (which cuts flows short).
  execFileSync('editcap', ['-s', '128', src, dst], { stdio: 'ignore' });
  let how = 'whole run, 128-byte snap';
  if (statSync(dst).size > LIMIT && !cls.startsWith('benign')) {
    execFileSync('editcap', ['-s', '128', src, `${dst}.tmp`], { stdio: 'ignore' });
    execFileSync('tcpdump', ['-r', `${dst}.tmp`, '-w', dst, 'host 10.232.1.66'], { stdio: 'ignore' });
    rmSync(`${dst}.tmp`);
    how = "attacker's packets, 128-byte snap";
  }
  let count = 100_000;
  while (statSync(dst).size > LIMIT && count >= 50) {
    count = Math.floor(count * (LIMIT / statSync(dst).size) * 0.95);
    execFileSync('editcap', ['-s', '128', '-r', src, dst, `1-${count}`], { stdio: 'ignore' });
    how = `first ${count} packets, 128-byte snap`;
  }
  chownSync(dst, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  process.stderr.write(`[fixtures] ${cls}: ${run.id} → ${dst} (${how}, ${statSync(dst).size} B)\n`);
}

const ds = readDataset(resolve(values.data!));
const model = await loadModel(resolve('models/netsensor-detect-float.onnx'));
const golden: { label: string; run: string; features: number[] }[] = [];
for (const cls of model.classNames) {
  const rows = ds.meta.map((m, i) => i).filter((i) => ds.meta[i]!.split === 'test' && ds.meta[i]!.label === cls);
  for (let s = 0; s < rows.length; s += 512) {
    const chunk = rows.slice(s, s + 512);
    const x = new Float32Array(chunk.length * NUM_FEATURES);
    chunk.forEach((r, j) => x.set(ds.features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), j * NUM_FEATURES));
    const scores = await model.score(x, chunk.length, { topFeatures: 0 });
    const j = scores.findIndex((sc) => sc.class === cls && sc.score >= 0.9);
    if (j >= 0) {
      golden.push({ label: cls, run: ds.meta[chunk[j]!]!.run, features: Array.from(x.subarray(j * NUM_FEATURES, (j + 1) * NUM_FEATURES)) });
      break;
    }
  }
}
await model.close();
mkdirSync(resolve('test/fixtures/model'), { recursive: true });
writeFileSync(resolve('test/fixtures/model/golden-rows.json'), JSON.stringify(golden) + '\n');
process.stderr.write(`[fixtures] ${golden.length} golden rows\n`);
