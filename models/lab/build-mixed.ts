/**
 * Adds flows from merged captures of several lab runs to the labelled dataset (no root needed):
 *   node --import tsx models/lab/build-mixed.ts [--lab models/lab/work] [--data models/data/lab-flows.csv.gz]
 *
 * Why: the host-window features (src_host_*, dst_host_*) carry context across flows of the same hosts. Every lab
 * run was captured alone, so the model never saw a flood start while the attacker's windows still held a scan,
 * or a benign DNS lookup while the resolver was being tunnelled through; on a capture that merges runs it then
 * misread flows by their neighbours. Here runs of the SAME split are merged (so the run split still holds):
 *  - `seq`: consecutive runs of the split in their recorded time, as a sensor that saw them one after another;
 *  - `ovl`: random groups of runs, each time-shifted to start within a few seconds of the others, so they overlap.
 * Labels stay the construction labels of the run each flow came from: a merged flow is matched to its run's own
 * flow by 5-tuple and first-seen time (minus that run's shift); a flow that matches no run or several is dropped.
 * Replaces any earlier merged rows (scenario `mix`) in the dataset. With --append (for a lab that re-ran only some
 * scenarios, when the other runs' captures are gone) it keeps the earlier merged rows and replaces only those of
 * its own tag: the new groups are named `mix-<tag>-…` (--tag, default `b`) and merge only the manifest's runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NUM_FEATURES } from '../../core/schema.js';
import { recordKind, sensorRecords } from '../train/sensor-records.js';
import { datasetHeader, datasetRows, gatherFeatures, mergeDatasetLines, readDataset, readDatasetLines, writeDatasetLines, type FlowRowMeta, type Split } from '../train/dataset.js';
import { createRng } from '../train/rng.js';

export const MIX_SCENARIO = 'mix';

interface ManifestRun { id: string; split: Split; pcap: string; startedMs: number; }

const { values } = parseArgs({ options: {
  lab: { type: 'string', default: 'models/lab/work' },
  data: { type: 'string', default: 'models/data/lab-flows.csv.gz' },
  group: { type: 'string', default: '3' },
  variants: { type: 'string', default: '2' },
  'max-offset-s': { type: 'string', default: '30' },
  seed: { type: 'string', default: '7' },
  append: { type: 'boolean', default: false },
  tag: { type: 'string', default: 'b' },
} });
const lab = resolve(values.lab!);
const manifest = JSON.parse(readFileSync(join(lab, 'manifest.json'), 'utf8')) as { runs: ManifestRun[] };
const ds = readDataset(resolve(values.data!));
const ownPrefix = values.append ? `${MIX_SCENARIO}-${values.tag}-` : `${MIX_SCENARIO}-`;
const keep = ds.meta.map((m, r) => (m.scenario === MIX_SCENARIO && m.run.startsWith(ownPrefix) ? -1 : r)).filter((r) => r >= 0);
const inManifest = new Set(manifest.runs.map((r) => r.id));
const missing = new Set(ds.meta.filter((m) => m.scenario !== MIX_SCENARIO && !inManifest.has(m.run)).map((m) => m.run));
// Without the captures of those runs their merged rows could not be rebuilt: replacing all merged rows would lose them.
if (!values.append && missing.size > 0) throw new Error(`the dataset holds ${missing.size} runs that are not in ${join(lab, 'manifest.json')} (e.g. ${[...missing][0]}); use --append to keep their merged rows`);
const group = Number(values.group), variants = Number(values.variants), maxOffsetMs = Number(values['max-offset-s']) * 1000;
const rng = createRng(Number(values.seed));

const tupleOf = (m: { src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: number }): string =>
  `${m.src_ip}|${m.src_port}|${m.dst_ip}|${m.dst_port}|${m.protocol}`;
/** Per run: tuple → [first_seen_ms, label] of the run's own (isolated) flows. */
const ownFlows = new Map<string, Map<string, [number, string][]>>();
for (const r of keep) {
  const m = ds.meta[r]!;
  // A flow's interim records share its final record's tuple and first-seen time: the final one labels them all.
  if (m.scenario === MIX_SCENARIO || m.record !== 'final') continue;
  let byTuple = ownFlows.get(m.run);
  if (!byTuple) ownFlows.set(m.run, (byTuple = new Map()));
  const t = tupleOf(m);
  const list = byTuple.get(t) ?? [];
  list.push([m.first_seen_ms, m.label]);
  byTuple.set(t, list);
}

interface Group { name: string; split: Split; runs: { run: ManifestRun; shiftMs: number }[] }
const groups: Group[] = [];
for (const split of ['train', 'val', 'test'] as Split[]) {
  const runs = manifest.runs.filter((r) => r.split === split && ownFlows.has(r.id)).sort((a, b) => a.startedMs - b.startedMs);
  // Consecutive runs in recorded time (the lab ran them back to back: context from the previous run lingers).
  for (let i = 0; i + 1 < runs.length; i += group) groups.push({ name: `${ownPrefix}${split}-seq-${groups.length}`, split, runs: runs.slice(i, i + group + 1).map((run) => ({ run, shiftMs: 0 })) });
  for (let v = 0; v < variants; v++) {
    const shuffled = [...runs];
    for (let i = shuffled.length - 1; i > 0; i--) { const j = rng.int(i + 1); [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]; }
    for (let i = 0; i + 1 < shuffled.length; i += group) {
      const members = shuffled.slice(i, i + group);
      const base = members[0]!.startedMs;
      groups.push({ name: `${ownPrefix}${split}-ovl-${groups.length}`, split, runs: members.map((run, k) => ({ run, shiftMs: k === 0 ? 0 : base + rng.int(maxOffsetMs) - run.startedMs })) });
    }
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'netsensor-mix-'));
const meta: FlowRowMeta[] = [];
const parts: Float32Array[] = [];
let dropped = 0;
try {
  for (const g of groups) {
    const inputs = g.runs.map(({ run, shiftMs }, k) => {
      if (shiftMs === 0) return join(lab, run.pcap);
      const out = join(tmp, `${k}.pcap`);
      execFileSync('editcap', ['-F', 'pcap', '-t', (shiftMs / 1000).toFixed(3), join(lab, run.pcap), out], { stdio: 'ignore' });
      return out;
    });
    const merged = join(tmp, 'merged.pcap');
    execFileSync('mergecap', ['-F', 'pcap', '-w', merged, ...inputs], { stdio: 'ignore' });
    const flows = await sensorRecords(merged);
    const keepRows: number[] = [];
    flows.keys.forEach((k, i) => {
      const t = tupleOf(k);
      const hits: string[] = [];
      for (const { run, shiftMs } of g.runs) {
        for (const [first, label] of ownFlows.get(run.id)!.get(t) ?? []) if (Math.abs(k.first_seen_ms - shiftMs - first) <= 2) hits.push(label);
      }
      if (hits.length !== 1) { dropped++; return; }
      keepRows.push(i);
      meta.push({ run: g.name, scenario: MIX_SCENARIO, split: g.split, label: hits[0]!, src_ip: k.src_ip, src_port: k.src_port, dst_ip: k.dst_ip, dst_port: k.dst_port, protocol: k.protocol, first_seen_ms: Math.round(k.first_seen_ms), record: recordKind(k) });
    });
    const f = new Float32Array(keepRows.length * NUM_FEATURES);
    keepRows.forEach((i, j) => f.set(flows.features.subarray(i * NUM_FEATURES, (i + 1) * NUM_FEATURES), j * NUM_FEATURES));
    parts.push(f);
    process.stderr.write(`[mixed] ${g.name} (${g.runs.map((r) => r.run.id).join(' + ')}): ${keepRows.length} of ${flows.keys.length} flows matched\n`);
  }
} finally { rmSync(tmp, { recursive: true, force: true }); }

const newFeatures = new Float32Array(meta.length * NUM_FEATURES);
let off = 0;
for (const p of parts) { newFeatures.set(p, off); off += p.length; }
const newRows = datasetRows({ meta, features: newFeatures });
if (values.append) {
  // Earlier rows stay byte for byte (re-serialising them would change only their number formatting, but still).
  const old = readDatasetLines(resolve(values.data!));
  const ownRuns = new Set(ds.meta.filter((m) => m.scenario === MIX_SCENARIO && m.run.startsWith(ownPrefix)).map((m) => m.run));
  writeDatasetLines(resolve(values.data!), mergeDatasetLines(old, ownRuns, newRows).lines);
} else {
  writeDatasetLines(resolve(values.data!), [datasetHeader(), ...datasetRows({ meta: keep.map((r) => ds.meta[r]!), features: gatherFeatures(ds, keep) }), ...newRows]);
}
process.stderr.write(`[mixed] ${groups.length} merged captures, ${meta.length} flows added (${dropped} unmatched dropped) → ${values.data}\n`);
