/**
 * Progress of `netsensor flows` on stderr: shown when stderr is a terminal (a pseudo-terminal made by
 * script(1)), erased before the JSON summary, and never written into a pipe.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTools } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;
const capture = join(root, 'test/fixtures/lab/dos.pcap');
const cmd = [process.execPath, '--import', 'tsx', join(root, 'cli/main.ts'), 'flows', capture, '--out', '/dev/null'];
const ERASE = '\r\x1b[K';

withTools(test, ['script'])('on a terminal: a progress line with packets and flows, erased before the summary', () => {
  const quoted = cmd.map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', quoted, '/dev/null'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const out = r.stdout;
  const m = /\r\x1b\[Knetsensor flows \d+%  ([\d,]+) packets  ([\d,]+) flows  \d+ s/.exec(out);
  assert.ok(m, `a progress line: ${JSON.stringify(out.slice(0, 300))}`);
  const summaryAt = out.indexOf('{"capture"');
  assert.ok(summaryAt > 0);
  assert.is(out.slice(summaryAt - ERASE.length, summaryAt), ERASE, 'the line is erased before the summary');
  const summary = JSON.parse(out.slice(summaryAt).split('\n')[0].trim());
  assert.ok(Number(m![1].replace(/,/g, '')) <= summary.packets);
});

withTools(test, ['script'])('detect on a terminal: a progress line, erased before the records', () => {
  const args = [process.execPath, '--import', 'tsx', join(root, 'cli/main.ts'), 'detect', capture, '--alerts', '--format', 'eve'];
  const r = spawnSync('script', ['-qec', args.map((a) => `'${a}'`).join(' '), '/dev/null'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stdout);
  assert.match(r.stdout, /\r\x1b\[Knetsensor detect  [\d,]+ packets  [\d,]+ flows  \d+ s/);
  assert.ok(r.stdout.includes(`${ERASE}{"timestamp"`), 'erased before the first record');
});

test('into a pipe: no progress, only the summary', () => {
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(r.stderr.includes('\x1b['), 'no terminal control in a pipe');
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test.run();
