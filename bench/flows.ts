/**
 * Flow-engine benchmark: generates a large capture (default 5M packets, 120k concurrent flows, 3/4 TCP) into
 * bench/work/, then measures — medians of `--runs` runs —
 *   - `netsensor flows` end to end (CSV to /dev/null; wall clock incl. start-up; peak RSS),
 *   - the reader + WASM core in one process without export (what the sensor's hot path costs),
 *   - peers where installed: `suricata -k none -r` (no rules), `argus -r`, `tshark -q -z conv,ip` (on a prefix:
 *     tshark keeps per-frame state, so the whole file would need many GB).
 * Prints a table and rewrites the "Flows" section of bench/RESULTS.md.
 *
 * usage: npm run bench -- flows [--packets 5000000] [--slots 120000] [--runs 3] [--tshark-packets 1000000]
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePcap } from './flows-generate.ts';
import { readCapture } from '../core/capture/reader.ts';
import { FlowCore } from '../core/host.ts';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    packets: { type: 'string', default: '5000000' },
    slots: { type: 'string', default: '120000' },
    runs: { type: 'string', default: '3' },
    'tshark-packets': { type: 'string', default: '1000000' },
  },
});
const packets = Number(values.packets);
const slots = Number(values.slots);
const runs = Number(values.runs);
const tsharkPackets = Math.min(Number(values['tshark-packets']), packets);

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

interface Measure { seconds: number; cpuSeconds: number; rssMb: number; stderr: string }

/** Runs a command under /usr/bin/time -v: wall seconds and peak RSS. */
function timed(cmd: string, args: string[]): Measure {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return { seconds, cpuSeconds: user + sys, rssMb: rss, stderr: r.stderr };
}

interface Row { tool: string; packets: number; seconds: number; pps: number; cpuPps: number; rssMb: number; note: string }
const rows: Row[] = [];
function record(tool: string, n: number, ms: Measure[], note = ''): Row {
  const seconds = median(ms.map((m) => m.seconds));
  const cpu = median(ms.map((m) => m.cpuSeconds));
  const row = { tool, packets: n, seconds, pps: n / seconds, cpuPps: n / cpu, rssMb: median(ms.map((m) => m.rssMb)), note };
  rows.push(row);
  console.log(`${tool.padEnd(28)} ${(row.pps / 1e6).toFixed(2)} Mpps wall, ${(row.cpuPps / 1e6).toFixed(2)} Mpps per CPU-second  ${seconds.toFixed(2)} s  RSS ${row.rssMb.toFixed(0)} MB ${note}`);
  return row;
}

// ---- capture ---------------------------------------------------------------------------------------------
const work = join(root, 'bench/work');
mkdirSync(work, { recursive: true });
const pcap = join(work, `flows-${packets}-${slots}.pcap`);
let generated = { packets, flows: 0, bytes: 0 };
const meta = `${pcap}.json`;
if (existsSync(pcap) && existsSync(meta)) {
  generated = JSON.parse(readFileSync(meta, 'utf8'));
} else {
  const t = performance.now();
  generated = generatePcap(pcap, { packets, slots });
  writeFileSync(meta, JSON.stringify(generated));
  console.log(`generated ${pcap}: ${packets} packets, ${generated.flows} flows, ${(statSync(pcap).size / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
let tsharkInput = pcap;
if (tsharkPackets < packets && has('tshark')) {
  tsharkInput = join(work, `flows-${packets}-${slots}-first${tsharkPackets}.pcap`);
  if (!existsSync(tsharkInput)) execFileSync('editcap', ['-r', pcap, tsharkInput, `1-${tsharkPackets}`], { stdio: 'ignore' });
}

// ---- netsensor -------------------------------------------------------------------------------------------
// The CLI as installed runs from dist/: compile it first (tsc still emits if an unrelated file has a type error).
spawnSync('npx', ['tsc', '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'ignore' });
const dist = join(root, 'dist/cli/main.js');
const cli = existsSync(dist) ? [dist] : ['--import', 'tsx', join(root, 'cli/main.ts')];
let flowsOut = 0;
const nsRuns: Measure[] = [];
for (let i = 0; i < runs; i++) {
  const m = timed(process.execPath, [...cli, 'flows', pcap, '--format', 'csv', '--out', '/dev/null']);
  const summary = JSON.parse(m.stderr.split('\n').find((l) => l.startsWith('{"capture"'))!);
  flowsOut = summary.flows;
  nsRuns.push(m);
}
const ns = record('netsensor flows (csv)', packets, nsRuns, `${flowsOut} flow records${existsSync(dist) ? '' : ' (via tsx)'}`);

const coreRuns: Measure[] = [];
let slotBytes = 0;
let peakFlows = 0;
for (let i = 0; i < runs; i++) {
  const core = await FlowCore.load({});
  slotBytes = core.flowSlotBytes();
  core.onBatch(() => {});
  const t = performance.now();
  const c0 = process.cpuUsage();
  await readCapture(pcap, core.push, { afterChunk: () => { core.sync(); peakFlows = Math.max(peakFlows, core.stats().flowsActive); } });
  core.flush('end_of_input');
  const c = process.cpuUsage(c0);
  coreRuns.push({ seconds: (performance.now() - t) / 1000, cpuSeconds: (c.user + c.system) / 1e6, rssMb: process.memoryUsage().rss / 1048576, stderr: '' });
}
const coreRow = record('reader + core (no export)', packets, coreRuns, 'in-process');

// ---- peers -----------------------------------------------------------------------------------------------
const ratios: string[] = [];
if (has('suricata')) {
  const logs = mkdtempSync(join(tmpdir(), 'suricata-'));
  const r = record('suricata -k none -r', packets, Array.from({ length: runs }, () => timed('suricata', ['-k', 'none', '-r', pcap, '-l', logs, '--runmode', 'single'])));
  rmSync(logs, { recursive: true, force: true });
  ratios.push(`netsensor/suricata ${(ns.pps / r.pps).toFixed(2)}× (CPU ${(ns.cpuPps / r.cpuPps).toFixed(2)}×)`);
} else {
  console.log('suricata: not installed (Debian: bookworm-backports only) — skipped');
}
if (has('argus')) {
  const r = record('argus -r', packets, Array.from({ length: runs }, () => timed('argus', ['-r', pcap, '-w', '/dev/null'])));
  ratios.push(`netsensor/argus ${(ns.pps / r.pps).toFixed(2)}× (CPU ${(ns.cpuPps / r.cpuPps).toFixed(2)}×)`);
}
if (has('tshark')) {
  const r = record('tshark -q -z conv,ip', tsharkPackets, Array.from({ length: runs }, () => timed('tshark', ['-n', '-q', '-z', 'conv,ip', '-r', tsharkInput])), `first ${tsharkPackets} packets`);
  ratios.push(`netsensor/tshark ${(ns.pps / r.pps).toFixed(2)}× (CPU ${(ns.cpuPps / r.cpuPps).toFixed(2)}×)`);
}
console.log(ratios.join(', '));
console.log(`flow state: ${slotBytes} bytes per flow slot; peak live flows ${peakFlows}`);

// ---- RESULTS.md ------------------------------------------------------------------------------------------
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const section = [
  '## Flows (`bench/flows.ts`)',
  '',
  `\`npm run bench -- flows\` on ${new Date().toISOString().slice(0, 10)}: ${cpu}, ${cpus().length} vCPUs shared with other jobs, ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, Node ${process.version}. Generated capture: ${packets.toLocaleString('en')} packets, ` +
    `${generated.flows.toLocaleString('en')} flows (3/4 TCP with handshake and FIN, 1/4 UDP; 10–30 packets each), ` +
    `${slots.toLocaleString('en')} flows live at once (peak ${peakFlows.toLocaleString('en')} in the table, FIN linger included), ` +
    `${(statSync(pcap).size / 1e6).toFixed(0)} MB. Medians of ${runs} runs; wall clock including process start-up; one core each.`,
  '',
  '| tool | packets | wall s | packets/s (wall) | packets per CPU-second | peak RSS | note |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.tool} | ${r.packets.toLocaleString('en')} | ${r.seconds.toFixed(2)} | ${(r.pps / 1e6).toFixed(2)} M | ${(r.cpuPps / 1e6).toFixed(2)} M | ${r.rssMb.toFixed(0)} MB | ${r.note} |`),
  '',
  `Ratios (end-to-end packets/s, wall): ${ratios.join(', ') || 'no peer installed'}. Packets per CPU-second (user + system) ` +
    `is the steadier figure on a shared machine. Flow state: ${slotBytes} bytes per flow slot ` +
    `(\`flowSlotBytes()\`). Target: ≥ 3 Mpps on one core and ≥ 3× Suricata without rules — ` +
    `reader + core reach ${(coreRow.pps / 1e6).toFixed(2)} Mpps, the CLI ${(ns.pps / 1e6).toFixed(2)} Mpps.`,
  '',
  '<!-- flows-analysis -->',
  '',
].join('\n');
const resultsPath = join(root, 'bench/RESULTS.md');
const old = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Benchmark results\n\n';
const start = old.indexOf('## Flows (`bench/flows.ts`)');
let analysis = '';
let next = -1;
if (start >= 0) {
  const a = old.indexOf('<!-- flows-analysis -->', start);
  next = old.indexOf('\n## ', start + 1);
  // hand-written analysis after the marker is kept
  if (a >= 0 && (next < 0 || a < next)) analysis = old.slice(a + '<!-- flows-analysis -->'.length, next < 0 ? undefined : next + 1).replace(/^\n+/, '');
}
const updated = start >= 0
  ? old.slice(0, start) + section + analysis + (next < 0 ? '' : old.slice(next + 1))
  : old.replace(/\n*$/, '\n\n') + section;
writeFileSync(resultsPath, updated);
console.log('wrote the Flows section of bench/RESULTS.md');
