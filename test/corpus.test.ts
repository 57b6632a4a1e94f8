/** The benign corpus: its manifest's split, its separation from the labelled attacks, and how training loads it. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignSplits } from '../models/corpus/split.ts';
import { readManifest } from '../models/corpus/manifest.ts';
import { NUM_FEATURES } from '../core/schema.ts';
import { readTrainingData, selectRows, writeDataset, type Dataset, type FlowRowMeta, type Split } from '../models/train/dataset.ts';

const manifest = readManifest(new URL('../models/corpus/benign.tsv', import.meta.url).pathname);

test('the split is a pure function of the group names: order does not matter, a stratum of 24 splits 60/20/20', () => {
  const devices = Array.from({ length: 24 }, (_, k) => `device-${k}`);
  const a = assignSplits(new Map([['iot', devices]]));
  const b = assignSplits(new Map([['iot', [...devices].reverse()]]));
  assert.equal([...a].sort(), [...b].sort());
  const count = (s: Split): number => [...a.values()].filter((v) => v === s).length;
  assert.equal([count('train'), count('val'), count('test')], [14, 5, 5]);
});

test('the manifest holds the split the code assigns, every device type in one split, and a protocol mix per split', () => {
  const strata = new Map<string, string[]>();
  for (const e of manifest) strata.set(e.why, [...(strata.get(e.why) ?? []), e.group]);
  const expected = assignSplits(strata);
  for (const e of manifest) assert.is(e.split, expected.get(e.group), e.path);
  const splitsOfGroup = new Map<string, Set<Split>>();
  for (const e of manifest) splitsOfGroup.set(e.group, (splitsOfGroup.get(e.group) ?? new Set()).add(e.split));
  for (const [g, s] of splitsOfGroup) assert.is(s.size, 1, `group ${g} spans ${[...s].join(', ')}`);
  const deviceTypes = [...splitsOfGroup.keys()].filter((g) => g.startsWith('iot-'));
  assert.is(deviceTypes.length, 24);
  for (const split of ['train', 'val', 'test'] as Split[]) {
    const kinds = new Set(manifest.filter((e) => e.split === split).map((e) => e.why));
    assert.ok(kinds.size >= 10, `${split} holds only ${kinds.size} kinds of traffic`);
    assert.ok(deviceTypes.some((g) => manifest.find((e) => e.group === g)!.split === split), `${split} has no device type`);
  }
});

test('no corpus capture is a labelled attack capture', () => {
  const attacks = readFileSync(new URL('../models/corpus/attacks.tsv', import.meta.url), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.split('\t')[0]!);
  assert.ok(attacks.length > 30);
  const benign = new Set(manifest.map((e) => e.path));
  assert.equal(attacks.filter((p) => benign.has(p)), []);
  const families = new Set(readFileSync(new URL('../models/corpus/attacks.tsv', import.meta.url), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.split('\t')[3]!));
  for (const f of families) assert.ok(['scan', 'dos', 'bruteforce', 'dns_tunnel', 'exfil', 'c2', 'tunnel', 'out_of_scope'].includes(f), f);
});

function tiny(rows: { run: string; scenario: string; split: Split; label: string }[]): Dataset {
  const meta: FlowRowMeta[] = rows.map((r, k) => ({ ...r, src_ip: '10.0.0.1', src_port: 1000 + k, dst_ip: '10.0.0.2', dst_port: 80, protocol: 6, first_seen_ms: k, record: 'final' as const }));
  const features = new Float32Array(rows.length * NUM_FEATURES).map((_, i) => Math.floor(i / NUM_FEATURES));
  return { meta, features };
}

test('training data: corpus rows join their split, are capped per capture, and an absent corpus leaves the lab alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netsensor-corpus-'));
  try {
    const lab = join(dir, 'lab.csv.gz'), corpus = join(dir, 'corpus.csv.gz');
    writeDataset(lab, tiny([{ run: 'r1', scenario: 'web', split: 'train', label: 'benign' }, { run: 'r2', scenario: 'scan', split: 'val', label: 'scan' }]));
    writeDataset(corpus, tiny(Array.from({ length: 5 }, () => ({ run: 'corpus:a', scenario: 'corpus-x', split: 'val' as Split, label: 'benign' }))));
    assert.is(readTrainingData(lab, join(dir, 'absent.csv.gz')).corpusRows, 0);
    const { ds, corpusRows } = readTrainingData(lab, corpus);
    assert.is(corpusRows, 5);
    assert.is(ds.meta.length, 7);
    assert.is(ds.features[6 * NUM_FEATURES], 4, 'corpus features follow the lab rows');
    const corpusVal = selectRows(ds, ['val'], 2, (m) => m.scenario.startsWith('corpus-'));
    assert.equal(corpusVal.map((r) => ds.meta[r]!.run), ['corpus:a', 'corpus:a']);
    writeDataset(corpus, tiny([{ run: 'corpus:b', scenario: 'corpus-y', split: 'train', label: 'scan' }]));
    assert.throws(() => readTrainingData(lab, corpus), /must be benign/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
