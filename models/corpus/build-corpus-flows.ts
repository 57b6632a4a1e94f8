/**
 * Turns the benign corpus (models/corpus/benign.tsv) into flow rows, same format as the lab's dataset:
 *   node --import tsx models/corpus/build-corpus-flows.ts [--pcaps ../shared/pcaps] [--manifest models/corpus/benign.tsv]
 *        [--out models/data/corpus-flows.csv.gz]
 * Each capture goes through the sensor's own flow core; every flow is labelled benign, run = the capture,
 * scenario = corpus-<group>, split from the manifest. Training picks the file up when it exists.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NUM_FEATURES } from '../../core/schema.js';
import { recordKind, sensorRecords } from '../train/sensor-records.js';
import { CORPUS_SCENARIO_PREFIX, writeDataset, type FlowRowMeta } from '../train/dataset.js';
import { captureRunId, readManifest } from './manifest.js';

const { values } = parseArgs({ options: {
  pcaps: { type: 'string', default: '../shared/pcaps' },
  manifest: { type: 'string', default: 'models/corpus/benign.tsv' },
  out: { type: 'string', default: 'models/data/corpus-flows.csv.gz' },
} });
const root = resolve(values.pcaps!);

const meta: FlowRowMeta[] = [];
const parts: Float32Array[] = [];
const counts = new Map<string, { captures: number; flows: number }>();
for (const entry of readManifest(resolve(values.manifest!))) {
  const flows = await sensorRecords(join(root, entry.path));
  const run = captureRunId(entry.path);
  const scenario = `${CORPUS_SCENARIO_PREFIX}${entry.group}`;
  flows.keys.forEach((k) => meta.push({
    run, scenario, split: entry.split, label: 'benign', src_ip: k.src_ip, src_port: k.src_port, dst_ip: k.dst_ip,
    dst_port: k.dst_port, protocol: k.protocol, first_seen_ms: Math.round(k.first_seen_ms), record: recordKind(k),
  }));
  parts.push(flows.features);
  const c = counts.get(entry.split) ?? { captures: 0, flows: 0 };
  c.captures++; c.flows += flows.keys.length;
  counts.set(entry.split, c);
}
const features = new Float32Array(meta.length * NUM_FEATURES);
let off = 0;
for (const p of parts) { features.set(p, off); off += p.length; }
writeDataset(resolve(values.out!), { meta, features });
process.stderr.write(`[corpus] ${meta.length} flows → ${values.out}\n${[...counts].sort().map(([k, v]) => `  ${k}: ${v.captures} captures, ${v.flows} flows`).join('\n')}\n`);
