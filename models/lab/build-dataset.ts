/**
 * Turns the lab's captures into the labelled flow dataset (no root needed):
 *   node --import tsx models/lab/build-dataset.ts [--lab models/lab/work] [--out models/data/lab-flows.csv.gz] [--append]
 * --append keeps the rows already in --out (earlier runs whose captures are gone) and replaces only the rows of
 * the runs in this lab's manifest, so rebuilding new runs' rows with another flow core is the same one command.
 * Each capture goes through the same flow core as the sensor; each flow is labelled from the run's
 * construction (see scenarios.ts): the run's class if it touches an attacker address (or is a spoofed-source
 * flow to the run's victim), otherwise benign background.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NUM_FEATURES } from '../../core/schema.js';
import { recordKind, sensorRecords } from '../train/sensor-records.js';
import { datasetRows, mergeDatasetLines, readDatasetLines, writeDataset, writeDatasetLines, type FlowRowMeta, type Split } from '../train/dataset.js';
import { labelFlow } from './labels.js';

interface ManifestRun {
  id: string; scenario: string; cls: string; split: Split; attackers: string[]; spoofedVictim?: string;
  reflection?: { victim: string; reflectors: string[] }; pcap: string;
}

const { values } = parseArgs({ options: {
  lab: { type: 'string', default: 'models/lab/work' }, out: { type: 'string', default: 'models/data/lab-flows.csv.gz' },
  append: { type: 'boolean', default: false },
} });
const lab = resolve(values.lab!);
const manifest = JSON.parse(readFileSync(join(lab, 'manifest.json'), 'utf8')) as { hosts: Record<string, { ip: string }>; runs: ManifestRun[] };
const labIps = new Set(Object.values(manifest.hosts).map((h) => h.ip));

const meta: FlowRowMeta[] = [];
const parts: Float32Array[] = [];
const counts = new Map<string, number>();
for (const run of manifest.runs) {
  const flows = await sensorRecords(join(lab, run.pcap));
  flows.keys.forEach((k) => {
    const label = labelFlow(run, labIps, k.src_ip, k.dst_ip);
    counts.set(`${run.split}/${label}`, (counts.get(`${run.split}/${label}`) ?? 0) + 1);
    meta.push({ run: run.id, scenario: run.scenario, split: run.split, label, src_ip: k.src_ip, src_port: k.src_port, dst_ip: k.dst_ip, dst_port: k.dst_port, protocol: k.protocol, first_seen_ms: Math.round(k.first_seen_ms), record: recordKind(k) });
  });
  parts.push(flows.features);
  process.stderr.write(`[dataset] ${run.id}: ${flows.keys.length} flows\n`);
}
const features = new Float32Array(meta.length * NUM_FEATURES);
let off = 0;
for (const p of parts) { features.set(p, off); off += p.length; }
const outPath = resolve(values.out!);
if (values.append) {
  const old = readDatasetLines(outPath);
  const merged = mergeDatasetLines(old, new Set(manifest.runs.map((r) => r.id)), datasetRows({ meta, features }));
  writeDatasetLines(outPath, merged.lines);
  process.stderr.write(`[dataset] kept ${merged.kept} of ${old.length - 1} earlier rows (replaced the rows of ${manifest.runs.length} runs)\n`);
} else {
  writeDataset(outPath, { meta, features });
}
process.stderr.write(`[dataset] ${meta.length} flows → ${values.out}\n${[...counts].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
