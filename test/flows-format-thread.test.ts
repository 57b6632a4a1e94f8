/**
 * `netsensor flows` formats large captures on a second thread (core/export/format-thread.ts): the bytes must be
 * those of formatting in line, in every format, whatever the batch sizes and however the two threads share the
 * work; a failing write must end the run with its error, not hang it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePcap } from '../bench/flows-generate.ts';
import { KEY_RECORD } from '../core/abi.ts';
import { NUM_FEATURES } from '../core/schema.ts';
import { CoreBatch, type FlowBatch } from '../core/host.ts';
import { FormatThread } from '../core/export/format-thread.ts';
import type { FormatOptions } from '../core/export/formats.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-format-thread-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// 30,000 flows, most of them finished together at the end of input: the formatting thread starts after 16,384
// records, and the final burst fills the ring, so the core's thread formats entries too.
const capture = join(dir, 'flows.pcap');
const generated = generatePcap(capture, { packets: 500_000, slots: 20_000 });

function flows(args: string[]): { bytes: Buffer; summary: { flows: number } } {
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', capture, '--out', out, ...args], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return { bytes: readFileSync(out), summary: JSON.parse(r.stderr.trim().split('\n').pop()!) };
}

test('every format: the same bytes with the formatting thread as on one thread', () => {
  assert.ok(generated.flows > 25_000, `${generated.flows} flows`);
  for (const args of [['--format', 'jsonl'], ['--format', 'csv'], ['--format', 'eve'], ['--format', 'csv', '--cic-names'], ['--format', 'csv', '--nfstream-names']]) {
    const one = flows([...args, '--threads', '1']);
    const two = flows([...args, '--threads', '2']);
    assert.is(two.summary.flows, generated.flows, args.join(' '));
    assert.is(one.summary.flows, generated.flows, args.join(' '));
    const lines = two.bytes.toString('latin1').split('\n').length - 1;
    assert.is(lines, generated.flows + (args.includes('csv') ? 1 : 0), `${args.join(' ')}: one line per flow`);
    assert.is(sha256(two.bytes), sha256(one.bytes), args.join(' '));
  }
});

test('--threads takes 1 or 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'flows', capture, '--threads', '3'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /--threads must be 1 or 2, got '3'/);
});

/** Synthetic rows, each different (an address, a port and features from its number), in batches of the given sizes. */
function batches(sizes: number[]): FlowBatch[] {
  let n = 0;
  return sizes.map((rows) => {
    const keyBytes = new Uint8Array(rows * KEY_RECORD.bytes);
    const dv = new DataView(keyBytes.buffer);
    const features = new Float32Array(rows * NUM_FEATURES);
    for (let r = 0; r < rows; r++, n++) {
      const k = r * KEY_RECORD.bytes;
      keyBytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, (n >> 16) & 255, (n >> 8) & 255, n & 255], k + KEY_RECORD.offset.src);
      keyBytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1], k + KEY_RECORD.offset.dst);
      dv.setUint16(k + KEY_RECORD.offset.src_port, n & 0xffff, true);
      dv.setUint8(k + KEY_RECORD.offset.protocol, 17);
      dv.setUint8(k + KEY_RECORD.offset.ip_version, 4);
      dv.setFloat64(k + KEY_RECORD.offset.first_seen_ms, 1.7e12 + n, true);
      for (let j = 0; j < NUM_FEATURES; j++) features[r * NUM_FEATURES + j] = ((n * 31 + j * 7) % 1000) / 8;
    }
    return new CoreBatch(rows, features, keyBytes);
  });
}

async function formatAll(path: string, format: FormatOptions, threads: 1 | 2, input: FlowBatch[]): Promise<Buffer> {
  const fd = openSync(path, 'w');
  const t = new FormatThread({ fd, name: path, ownsFd: true }, format, threads, 0);
  for (const b of input) t.write(b);
  await t.end();
  return readFileSync(path);
}

test('batches of every size (1 row, more than a ring entry, the ring wrapping many times) keep their order', async () => {
  // 30,000 rows ≈ 17 MB through a 2 MiB ring; 700 and 5,000 rows split into several entries
  const sizes = [1, 700, 5_000, 3, 512, 513, 4_096, 1, 9_000, 10_174];
  const input = batches(sizes);
  for (const format of [{ format: 'jsonl' }, { format: 'csv' }] as FormatOptions[]) {
    const one = await formatAll(join(dir, 'one'), format, 1, input);
    const two = await formatAll(join(dir, 'two'), format, 2, input);
    assert.is(one.toString('latin1').split('\n').length - 1, 30_000 + (format.format === 'csv' ? 1 : 0));
    assert.ok(two.equals(one), `${format.format}: threaded output differs`);
  }
});

test('a write that fails on the formatting thread ends the run with its error (no hang, no lost error)', async () => {
  const fd = openSync('/dev/full', 'w');
  const t = new FormatThread({ fd, name: '/dev/full', ownsFd: true }, { format: 'jsonl' }, 2, 0);
  let err: unknown;
  try {
    for (const b of batches([4_096, 4_096, 4_096, 4_096, 4_096])) t.write(b);
  } catch (e) {
    err = e;
  }
  try {
    await t.end();
  } catch (e) {
    err ??= e;
  }
  assert.ok(err, 'writing to a full device must fail');
  assert.is((err as { code?: string }).code, 'ERR_USAGE');
  assert.match((err as Error).message, /cannot write flow records to \/dev\/full: .*ENOSPC/);
  try { closeSync(fd); } catch { /* closed by end() */ }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
