/**
 * `netsensor flows` output under a slow or vanishing consumer: a reader that stops reading must stop the
 * producer (its memory stays flat instead of holding the rest of the output), the bytes that eventually arrive
 * are exactly those written to a file, and a reader that goes away ends the run cleanly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePcap } from '../bench/flows-generate.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netsensor-backpressure-'));
const capture = join(dir, 'many-flows.pcap');
// 40,000 flows, nearly all still live when the capture ends: the end of input finishes them at once, one
// synchronous burst of ~140 MB of JSON lines — what a writer that queues would hold for a slow reader.
const generated = generatePcap(capture, { packets: 400_000, slots: 40_000 });
// a flow table just large enough: the process's own memory stays well below the output's size
const cli = [process.execPath, '--import', 'tsx', join(root, 'cli/main.ts'), 'flows', capture, '--max-flows', '65536'];

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fileOutputs = new Map<string, { digest: string; bytes: number }>();
function fileOutput(format: string): { digest: string; bytes: number } {
  const known = fileOutputs.get(format);
  if (known) return known;
  const out = join(dir, `out.${format}`);
  const r = spawnSync(cli[0], [...cli.slice(1), '--format', format, '--out', out], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const b = readFileSync(out);
  fileOutputs.set(format, { digest: sha256(b), bytes: statSync(out).size });
  return fileOutputs.get(format)!;
}

/** RSS (MiB) and CPU ticks of a running process, from /proc. */
function procState(pid: number): { rssMiB: number; ticks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { rssMiB: rssKb / 1024, ticks: Number(fields[11]) + Number(fields[12]) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const threads of ['1', '2']) test(`a paused reader stalls the producer: memory stays flat, then the same bytes as --out arrive (--threads ${threads})`, async () => {
  const expected = fileOutput('jsonl');
  assert.ok(expected.bytes > 120e6, `capture should give a large output, got ${expected.bytes} bytes`);
  const child = spawn(cli[0], [...cli.slice(1), '--threads', threads], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const chunks: Buffer[] = [];
  let received = 0;
  child.stdout.on('data', (d: Buffer) => { chunks.push(d); received += d.length; });
  // Let it start writing, then stop reading: Node stops draining the pipe once its small read buffer is full.
  while (received === 0 && child.exitCode === null) await sleep(20);
  child.stdout.pause();
  // Wait until the producer is blocked (its CPU time stops moving), at most 30 s.
  let last = procState(child.pid!);
  let still = 0;
  for (const t0 = Date.now(); still < 5 && Date.now() - t0 < 30_000; ) {
    await sleep(100);
    const now = procState(child.pid!);
    still = now.ticks === last.ticks ? still + 1 : 0;
    last = now;
  }
  assert.is(still, 5, 'the producer never blocked');
  assert.is(child.exitCode, null, 'the producer finished although nobody read its output');
  const stalled = procState(child.pid!);
  if (process.env.NETSENSOR_TEST_VERBOSE) console.log(`stalled at ${received} bytes read, ${stalled.rssMiB.toFixed(1)} MiB RSS`);
  assert.ok(received < expected.bytes / 4, `${received} of ${expected.bytes} bytes already read while paused`);
  // Bound: Node + the core with 40,000 live flows + the writers' buffers (and the second thread: ≈ 20 MiB); a queue
  // would add ≥ 130 MiB.
  assert.ok(stalled.rssMiB < 160, `stalled producer holds ${stalled.rssMiB.toFixed(1)} MiB RSS`);
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve); child.stdout.resume(); });
  assert.is(code, 0, stderr);
  const got = Buffer.concat(chunks);
  assert.is(got.length, expected.bytes);
  assert.is(sha256(got), expected.digest);
  assert.is(JSON.parse(stderr.trim().split('\n').pop()!).flows, generated.flows);
});

test('piped CSV equals file CSV byte for byte (JSON lines: the first test)', () => {
  for (const format of ['csv']) {
    const expected = fileOutput(format);
    const r = spawnSync(cli[0], [...cli.slice(1), '--format', format], { cwd: root, maxBuffer: 1 << 30 });
    assert.is(r.status, 0, String(r.stderr));
    assert.is(sha256(r.stdout), expected.digest, format);
  }
});

test('a reader that goes away ends the run at once, exit 0, output_closed_early', async () => {
  const child = spawn(cli[0], cli.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 0, stderr);
  const summary = JSON.parse(stderr.trim().split('\n').pop()!);
  assert.is(summary.output_closed_early, true);
  assert.ok(summary.flows < generated.flows, `${summary.flows} rows formatted after the reader left`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
