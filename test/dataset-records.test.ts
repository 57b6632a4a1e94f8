/**
 * The datasets hold the records a sensor scores: final records and the interim records of long flows, with the
 * sensor's core timeouts, and the record kind survives the dataset file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { captureFlows } from '../core/flows.js';
import { NUM_FEATURES, FEATURE_NAMES } from '../core/schema.js';
import { META_COLUMNS, readDataset, writeDataset, type FlowRowMeta } from '../models/train/dataset.js';
import { recordKind, sensorRecords } from '../models/train/sensor-records.js';
import { defaults } from '../sensor/config.js';
import { coreSettings } from '../sensor/flow-engine.js';

const EXFIL = new URL('./fixtures/lab/exfil.pcap', import.meta.url).pathname;
const tuple = (k: { src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: number; first_seen_ms: number }): string =>
  `${k.src_ip}|${k.src_port}|${k.dst_ip}|${k.dst_port}|${k.protocol}|${k.first_seen_ms}`;

test('sensor records: the finals of the sensor core plus interim records of its long flows, each of a final flow', async () => {
  const all = await sensorRecords(EXFIL);
  const finals = await captureFlows(EXFIL, { settings: coreSettings(defaults.core) });
  const interim = all.keys.filter((k) => k.interim);
  assert.ok(interim.length >= 3, `interim records: ${interim.length}`);
  assert.equal(all.keys.filter((k) => !k.interim).map(tuple), finals.keys.map(tuple));
  const finalTuples = new Set(finals.keys.map(tuple));
  for (const k of interim) {
    assert.ok(finalTuples.has(tuple(k)), `interim record without its flow: ${tuple(k)}`);
    assert.equal(k.end_reason, 'interim');
    assert.equal(recordKind(k), 'interim');
  }
  // an interim record is the flow so far: never more packets than the flow's final record
  const pk = FEATURE_NAMES.indexOf('src2dst_packets');
  const finalPackets = new Map(finals.keys.map((k, i) => [tuple(k), finals.features[i * NUM_FEATURES + pk]!]));
  all.keys.forEach((k, i) => { if (k.interim) assert.ok(all.features[i * NUM_FEATURES + pk]! <= finalPackets.get(tuple(k))!); });
});

test('dataset file: the record kind round-trips, and a file without the column holds final records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netsensor-records-'));
  try {
    const meta = (record: FlowRowMeta['record'], k: number): FlowRowMeta => ({ run: 'r', scenario: 's', split: 'train', label: 'benign', src_ip: '10.0.0.1', src_port: 1000 + k, dst_ip: '10.0.0.2', dst_port: 53, protocol: 17, first_seen_ms: 5, record });
    const path = join(dir, 'd.csv.gz');
    writeDataset(path, { meta: [meta('interim', 0), meta('final', 1)], features: new Float32Array(2 * NUM_FEATURES).fill(1) });
    assert.equal(readDataset(path).meta.map((m) => m.record), ['interim', 'final']);
    const old = join(dir, 'old.csv.gz');
    const columns = META_COLUMNS.filter((c) => c !== 'record');
    writeFileSync(old, gzipSync([[...columns, ...FEATURE_NAMES].join(','), ['r', 's', 'val', 'scan', '10.0.0.1', '1', '10.0.0.2', '2', '6', '7', ...FEATURE_NAMES.map(() => '0')].join(',')].join('\n') + '\n'));
    const ds = readDataset(old);
    assert.equal(ds.meta[0]!.record, 'final');
    assert.equal(ds.meta[0]!.label, 'scan');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
