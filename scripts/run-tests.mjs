#!/usr/bin/env node
// Runs every test/**/*.test.ts in its own Node process (uvu, no colour) and prints the closing line
// `N passed, N failed[, N skipped]`. uvu reports Total/Passed/Skipped only, and its Total counts the tests that ran
// (a skipped test is not in it): failed = total - passed.
// A file that dies before its summary counts as one failure. Exit code 1 on any failure.
// Usage: npm test [-- pattern ...]   (patterns filter file paths by substring)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const patterns = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test')).filter((f) => patterns.length === 0 || patterns.some((p) => f.includes(p)));
let passed = 0, failed = 0, skipped = 0;
const failures = [];
const walls = [];

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => process.stderr.write(d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

for (const file of files) {
  const rel = relative(root, file);
  console.log(`\n### ${rel}`);
  const started = performance.now();
  const { code, out } = await runFile(file);
  // uvu's Duration leaves out loading and hooks (a test may compile a WASM probe first): the whole file's wall time
  // is what the suite's time budget is made of.
  const wall = (performance.now() - started) / 1000;
  walls.push([rel, wall]);
  console.log(`  (${rel}: ${wall.toFixed(1)} s wall)`);
  const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? NaN);
  const p = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? NaN);
  const s = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(p)) {
    failed += 1;
    failures.push(`${rel}: exited ${code} without a test summary`);
    continue;
  }
  passed += p;
  skipped += s;
  const f = total - p;
  failed += f;
  if (f > 0 || code !== 0) {
    if (f === 0) { failed += 1; failures.push(`${rel}: exit code ${code}`); }
    else failures.push(`${rel}: ${f} failed`);
  }
}

const slowest = walls.sort((a, b) => b[1] - a[1]).slice(0, 5).map(([f, w]) => `${f} ${w.toFixed(0)} s`);
const total = walls.reduce((sum, [, w]) => sum + w, 0);
console.log(`\n${walls.length} files in ${total.toFixed(0)} s; slowest: ${slowest.join(', ')}`);
if (failures.length) console.log(`\nFailures:\n  ${failures.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
