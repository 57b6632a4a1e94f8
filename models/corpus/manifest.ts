/** Reads models/corpus/benign.tsv (path, group, split, why), the benign corpus manifest. */
import { readFileSync } from 'node:fs';
import type { Split } from '../train/dataset.js';

export interface CorpusEntry { path: string; group: string; split: Split; why: string }

export function readManifest(file: string): CorpusEntry[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const header = lines[0]!.split('\t');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: no column '${name}'`);
    return i;
  };
  const [p, g, s, w] = ['path', 'group', 'split', 'why'].map(col) as [number, number, number, number];
  return lines.slice(1).map((l, k) => {
    const c = l.split('\t');
    const split = c[s] as Split;
    if (!['train', 'val', 'test'].includes(split)) throw new Error(`${file}:${k + 2}: split '${c[s]}' is not train, val or test`);
    return { path: c[p]!, group: c[g]!, split, why: c[w] ?? '' };
  });
}

/** The dataset's run id for a capture: its path, stripped of the extension and of CSV-unsafe characters. */
export const captureRunId = (path: string): string => `corpus:${path.replace(/\.(pcap|pcapng|cap)(\.gz)?$/i, '').replace(/[^A-Za-z0-9._/:-]+/g, '_')}`;
