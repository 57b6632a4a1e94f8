/**
 * The labelled flow dataset: one row per flow, gzip CSV, columns
 *   run, scenario, split, label, src_ip, src_port, dst_ip, dst_port, protocol, first_seen_ms, record, <FEATURE_NAMES…>
 * `record` is `final` (the flow's record when it ended) or `interim` (an early or periodic record of a long flow, as the
 * sensor scores it while the flow goes on; same label as the flow). Files without the column hold final records.
 * Runs (not flows) are the unit of the train/validation/test split, so no flow of a test run was seen in training.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FEATURE_NAMES, NUM_FEATURES } from '../../core/schema.js';

export const META_COLUMNS = ['run', 'scenario', 'split', 'label', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'first_seen_ms', 'record'] as const;
export type Split = 'train' | 'val' | 'test';

export interface FlowRowMeta {
  run: string; scenario: string; split: Split; label: string;
  src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: number; first_seen_ms: number;
  record: FlowRecordKind;
}

export type FlowRecordKind = 'final' | 'interim';

export interface Dataset {
  meta: FlowRowMeta[];
  /** Row-major [rows, NUM_FEATURES] in schema order. */
  features: Float32Array;
}

export const datasetHeader = (): string => [...META_COLUMNS, ...FEATURE_NAMES].join(',');

export function writeDataset(path: string, ds: Dataset): void {
  writeDatasetLines(path, [datasetHeader(), ...datasetRows(ds)]);
}

/** The CSV lines of the rows (no header), in the file's format. */
export function datasetRows(ds: Dataset): string[] {
  const lines: string[] = [];
  ds.meta.forEach((m, r) => {
    const f = Array.from(ds.features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), (v) => (Number.isInteger(v) ? String(v) : v.toPrecision(7)));
    lines.push([...META_COLUMNS.map((c) => String(m[c])), ...f].join(','));
  });
  return lines;
}

export function writeDatasetLines(path: string, lines: string[]): void {
  writeFileSync(path, gzipSync(lines.join('\n') + '\n', { level: 9 }));
}

/**
 * Appending to a dataset whose older runs can no longer be rebuilt: keeps every earlier row byte for byte except
 * the rows of `rebuiltRuns` (so re-running the same append replaces them instead of doubling them), then adds the
 * new rows. Refuses a file made for another feature schema (its rows would not line up with the new ones).
 */
export function mergeDatasetLines(old: string[], rebuiltRuns: ReadonlySet<string>, newRows: string[]): { lines: string[]; kept: number } {
  if (old[0] !== datasetHeader()) throw new Error('the dataset has other columns than this feature schema; rebuild it instead of appending');
  const kept = old.slice(1).filter((l) => !rebuiltRuns.has(l.slice(0, l.indexOf(','))));
  return { lines: [old[0]!, ...kept, ...newRows], kept: kept.length };
}

/** The file's lines as stored (header first), without parsing the rows: appending keeps old rows byte for byte. */
export function readDatasetLines(path: string): string[] {
  const text = (path.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path)).toString('utf8');
  return text.split('\n').filter((l) => l.length > 0);
}

export function readDataset(path: string): Dataset {
  const text = (path.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path)).toString('utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  const featureCols = FEATURE_NAMES.map((n) => {
    const i = header.indexOf(n);
    if (i < 0) throw new Error(`dataset ${path} lacks feature column ${n} (made for another schema?)`);
    return i;
  });
  const metaCols = META_COLUMNS.map((c) => header.indexOf(c));
  const rows = lines.length - 1;
  const features = new Float32Array(rows * NUM_FEATURES);
  const meta: FlowRowMeta[] = [];
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1]!.split(',');
    const get = (k: number): string => cells[metaCols[k]!] ?? '';
    meta.push({
      run: get(0), scenario: get(1), split: get(2) as Split, label: get(3), src_ip: get(4), src_port: Number(get(5)),
      dst_ip: get(6), dst_port: Number(get(7)), protocol: Number(get(8)), first_seen_ms: Number(get(9)),
      record: get(10) === 'interim' ? 'interim' : 'final',
    });
    for (let i = 0; i < NUM_FEATURES; i++) features[r * NUM_FEATURES + i] = Number(cells[featureCols[i]!]);
  }
  return { meta, features };
}

/**
 * Rows of the given split(s), optionally at most `capPerRunClass` flows per (run, label), chosen evenly, and
 * optionally only the rows `keep` accepts. Interim records are capped apart from final ones: they are few (long
 * flows only), and a cap shared with a flood's thousands of final records would leave almost none of them.
 */
export function selectRows(ds: Dataset, splits: Split[], capPerRunClass = Infinity, keep?: (m: FlowRowMeta) => boolean): number[] {
  const groups = new Map<string, number[]>();
  ds.meta.forEach((m, r) => {
    if (!splits.includes(m.split) || (keep && !keep(m))) return;
    const k = `${m.run}\u0000${m.label}\u0000${m.record}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  });
  const out: number[] = [];
  for (const g of groups.values()) {
    if (g.length <= capPerRunClass) out.push(...g);
    else for (let k = 0; k < capPerRunClass; k++) out.push(g[Math.floor((k * g.length) / capPerRunClass)]!);
  }
  return out.sort((a, b) => a - b);
}

export function gatherFeatures(ds: Dataset, rows: number[]): Float32Array {
  const x = new Float32Array(rows.length * NUM_FEATURES);
  rows.forEach((r, k) => x.set(ds.features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), k * NUM_FEATURES));
  return x;
}

/** Scenario prefix of the benign public-capture corpus rows (models/corpus): one run per capture, all benign. */
export const CORPUS_SCENARIO_PREFIX = 'corpus-';
export const isCorpusRow = (m: FlowRowMeta): boolean => m.scenario.startsWith(CORPUS_SCENARIO_PREFIX);

export function concatDatasets(...sets: Dataset[]): Dataset {
  const features = new Float32Array(sets.reduce((n, d) => n + d.features.length, 0));
  let off = 0;
  for (const d of sets) { features.set(d.features, off); off += d.features.length; }
  return { meta: sets.flatMap((d) => d.meta), features };
}

/**
 * The training data: the lab dataset plus, when `corpusPath` names an existing file, the benign corpus rows
 * (models/data/corpus-flows.csv.gz). Corpus rows must all be benign and carry the corpus scenario prefix, so a
 * mislabelled or foreign file cannot slip attack rows into the benign class. A missing corpus file is not an
 * error: training then uses the lab alone.
 */
export function readTrainingData(labPath: string, corpusPath?: string): { ds: Dataset; corpusRows: number } {
  const lab = readDataset(labPath);
  if (!corpusPath || !existsSync(corpusPath)) return { ds: lab, corpusRows: 0 };
  const corpus = readDataset(corpusPath);
  const bad = corpus.meta.find((m) => m.label !== 'benign' || !isCorpusRow(m));
  if (bad) throw new Error(`corpus ${corpusPath}: row of run '${bad.run}' is '${bad.label}' in scenario '${bad.scenario}'; corpus rows must be benign with scenario ${CORPUS_SCENARIO_PREFIX}<group>`);
  if (lab.meta.some(isCorpusRow)) throw new Error(`dataset ${labPath} already holds corpus rows (scenario ${CORPUS_SCENARIO_PREFIX}…)`);
  return { ds: concatDatasets(lab, corpus), corpusRows: corpus.meta.length };
}
