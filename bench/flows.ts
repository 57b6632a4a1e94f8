/**
 * Flow-engine benchmark on two generated captures (bench/work/, made once, deterministic):
 *   - the benchmark capture (flows-generate.ts: default 5M packets, 120k concurrent flows visited round-robin),
 *   - the busy gateway (flows-generate-busy.ts: default 2M packets, 200k flows all open at once between ≈ 265k
 *     hosts, packets in random order, Poisson arrivals at 200 kpps).
 * On each, medians of `--runs` runs, all in this one invocation so the machine's load hits every tool alike:
 *   - `netsensor flows` end to end, CSV and JSONL (the default) to /dev/null (wall clock incl. start-up; peak RSS;
 *     the `flow.host_table_full` count from its summary),
 *   - the reader + WASM core in one process without export (what the sensor's hot path costs), with CPU cycles
 *     per packet at the CPU's reported clock,
 *   - peers where installed: `suricata -k none --runmode single -r` (no rules; flow records in eve.json), and on
 *     the benchmark capture `argus -r` and `tshark -q -z conv,ip` (on a prefix: tshark keeps per-frame state).
 * Prints tables and rewrites the "Flows" section of bench/RESULTS.md (the analysis after its marker is kept).
 *
 * usage: npm run bench -- flows [--packets 5000000] [--slots 120000] [--busy-packets 2000000] [--busy-flows 200000]
 *          [--runs 3] [--tshark-packets 1000000]       (--busy-packets 0 skips the busy capture)
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePcap, type Generated } from './flows-generate.ts';
import { generateBusyPcap } from './flows-generate-busy.ts';
import { readCapture } from '../core/capture/reader.ts';
import { FlowCore } from '../core/host.ts';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    packets: { type: 'string', default: '5000000' },
    slots: { type: 'string', default: '120000' },
    'busy-packets': { type: 'string', default: '2000000' },
    'busy-flows': { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    'tshark-packets': { type: 'string', default: '1000000' },
  },
});
const packets = Number(values.packets);
const slots = Number(values.slots);
const busyPackets = Number(values['busy-packets']);
const busyFlows = Number(values['busy-flows']);
const runs = Number(values.runs);

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** The CPU's reported clock (MHz in /proc/cpuinfo; in a VM the host's nominal clock): turns CPU time into cycles. */
const cpuHz = (() => {
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
  return m ? Number(m[1]) * 1e6 : cpus()[0]?.speed * 1e6 || NaN;
})();

interface Measure { seconds: number; cpuSeconds: number; rssMiB: number; stderr: string }

/** Runs a command under /usr/bin/time -v: wall seconds, CPU seconds and peak RSS. */
function timed(cmd: string, args: string[]): Measure {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return { seconds, cpuSeconds: user + sys, rssMiB: rss, stderr: r.stderr };
}

interface Row { tool: string; packets: number; seconds: number; cpuSeconds: number; pps: number; cpuPps: number; rssMiB: number; note: string }
function record(rows: Row[], tool: string, n: number, ms: Measure[], note = ''): Row {
  const seconds = median(ms.map((m) => m.seconds));
  const cpu = median(ms.map((m) => m.cpuSeconds));
  const row = { tool, packets: n, seconds, cpuSeconds: cpu, pps: n / seconds, cpuPps: n / cpu, rssMiB: median(ms.map((m) => m.rssMiB)), note };
  rows.push(row);
  console.log(`  ${tool.padEnd(30)} ${(row.pps / 1e6).toFixed(2)} Mpps wall, ${(row.cpuPps / 1e6).toFixed(2)} Mpps per CPU-second  ${seconds.toFixed(2)} s  RSS ${row.rssMiB.toFixed(0)} MiB ${note}`);
  return row;
}

// ---- captures ------------------------------------------------------------------------------------------
const work = join(root, 'bench/work');
mkdirSync(work, { recursive: true });
function capture(name: string, make: (path: string) => Generated): { path: string; generated: Generated } {
  const path = join(work, `${name}.pcap`);
  const meta = `${path}.json`;
  if (existsSync(path) && existsSync(meta)) return { path, generated: JSON.parse(readFileSync(meta, 'utf8')) };
  const t = performance.now();
  const generated = make(path);
  writeFileSync(meta, JSON.stringify(generated));
  console.log(`generated ${path}: ${generated.packets} packets, ${generated.flows} flows, ${(statSync(path).size / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return { path, generated };
}

// The CLI as installed runs from dist/: compile it first (tsc still emits if an unrelated file has a type error).
spawnSync('npx', ['tsc', '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'ignore' });
const dist = join(root, 'dist/cli/main.js');
const cli = existsSync(dist) ? [dist] : ['--import', 'tsx', join(root, 'cli/main.ts')];

interface CaptureResult { rows: Row[]; ratios: string[]; slotBytes: number; peakFlows: number; peakHosts: number; coreRow: Row; cyclesPerPacket: number }

async function measure(pcap: string, n: number, opts: { tsharkPackets: number; peers: boolean }): Promise<CaptureResult> {
  const rows: Row[] = [];
  const ns: Row[] = [];
  // The default (one thread for csv and jsonl) and --threads 2 (a second thread formats past 16,384 records).
  for (const [format, threads] of [['csv', 1], ['jsonl', 1], ['csv', 2], ['jsonl', 2]] as const) {
    const m: Measure[] = [];
    let summary: { flows: number; events: Record<string, number> } = { flows: 0, events: {} };
    for (let i = 0; i < runs; i++) {
      const r = timed(process.execPath, [...cli, 'flows', pcap, '--format', format, '--out', '/dev/null', '--threads', String(threads)]);
      summary = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{"capture"'))!);
      m.push(r);
    }
    const full = summary.events['flow.host_table_full'] ?? 0;
    ns.push(record(rows, `netsensor flows (${format}${threads === 2 ? ', --threads 2' : ''})`, n, m,
      `${summary.flows} flow records; flow.host_table_full ${full}${existsSync(dist) ? '' : ' (via tsx)'}`));
  }

  const coreRuns: Measure[] = [];
  let slotBytes = 0, peakFlows = 0, peakHosts = 0;
  for (let i = 0; i < runs; i++) {
    const core = await FlowCore.load({});
    slotBytes = core.flowSlotBytes();
    core.onBatch(() => {});
    const t = performance.now();
    const c0 = process.cpuUsage();
    await readCapture(pcap, core.push, {
      bulk: core, // as `netsensor flows` reads a classic pcap
      afterChunk: () => {
        core.sync();
        const st = core.stats();
        peakFlows = Math.max(peakFlows, st.flowsActive);
        peakHosts = Math.max(peakHosts, st.hostsActive);
      },
    });
    core.flush('end_of_input');
    const c = process.cpuUsage(c0);
    coreRuns.push({ seconds: (performance.now() - t) / 1000, cpuSeconds: (c.user + c.system) / 1e6, rssMiB: process.memoryUsage().rss / 1048576, stderr: '' });
  }
  const coreCpu = median(coreRuns.map((m) => m.cpuSeconds));
  const cyclesPerPacket = (coreCpu * cpuHz) / n;
  const coreRow = record(rows, 'reader + core (no export)', n, coreRuns, `in-process; ≈ ${cyclesPerPacket.toFixed(0)} cycles per packet`);

  const ratios: string[] = [];
  const vs = (name: string, r: Row) => {
    for (const x of ns) {
      ratios.push(`${x.tool.replace('netsensor flows ', '')}/${name} ${(x.pps / r.pps).toFixed(2)}× wall, ${(x.cpuPps / r.cpuPps).toFixed(2)}× CPU`);
    }
  };
  if (has('suricata')) {
    const logs = mkdtempSync(join(tmpdir(), 'suricata-'));
    const r = record(rows, 'suricata -k none --runmode single -r', n,
      Array.from({ length: runs }, () => timed('suricata', ['-k', 'none', '--runmode', 'single', '-r', pcap, '-l', logs])));
    rmSync(logs, { recursive: true, force: true });
    vs('suricata', r);
  } else {
    console.log('  suricata: not installed (Debian: bookworm-backports only) — skipped');
  }
  if (opts.peers && has('argus')) {
    vs('argus', record(rows, 'argus -r', n, Array.from({ length: runs }, () => timed('argus', ['-r', pcap, '-w', '/dev/null']))));
  }
  const tn = Math.min(opts.tsharkPackets, n);
  if (opts.peers && has('tshark')) {
    let input = pcap;
    if (tn < n) {
      input = pcap.replace(/\.pcap$/, `-first${tn}.pcap`);
      if (!existsSync(input)) execFileSync('editcap', ['-r', pcap, input, `1-${tn}`], { stdio: 'ignore' });
    }
    vs('tshark', record(rows, 'tshark -q -z conv,ip', tn,
      Array.from({ length: runs }, () => timed('tshark', ['-n', '-q', '-z', 'conv,ip', '-r', input])), `first ${tn} packets`));
  }
  console.log(`  ${ratios.join('; ')}`);
  return { rows, ratios, slotBytes, peakFlows, peakHosts, coreRow, cyclesPerPacket };
}

const load0 = loadavg()[0];
const std = capture(`flows-${packets}-${slots}`, (p) => generatePcap(p, { packets, slots }));
console.log(`benchmark capture ${std.path}`);
const stdResult = await measure(std.path, packets, { tsharkPackets: Number(values['tshark-packets']), peers: true });
let busy: { path: string; generated: Generated } | undefined;
let busyResult: CaptureResult | undefined;
if (busyPackets > 0) {
  busy = capture(`busy-${busyPackets}-${busyFlows}`, (p) => generateBusyPcap(p, { packets: busyPackets, flows: busyFlows }));
  console.log(`busy-gateway capture ${busy.path}`);
  busyResult = await measure(busy.path, busyPackets, { tsharkPackets: 0, peers: false });
}
const load1 = loadavg()[0];

// ---- RESULTS.md ------------------------------------------------------------------------------------------
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const table = (r: CaptureResult) => [
  '| tool | packets | wall s | CPU s | packets/s (wall) | packets per CPU-second | peak RSS | note |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  ...r.rows.map((x) => `| ${x.tool} | ${x.packets.toLocaleString('en')} | ${x.seconds.toFixed(2)} | ${x.cpuSeconds.toFixed(2)} | ` +
    `${(x.pps / 1e6).toFixed(2)} M | ${(x.cpuPps / 1e6).toFixed(2)} M | ${x.rssMiB.toFixed(0)} MiB | ${x.note} |`),
  '',
  `Ratios (netsensor over the peer): ${r.ratios.join('; ') || 'no peer installed'}. Peak in the core's tables: ` +
    `${r.peakFlows.toLocaleString('en')} flows, ${r.peakHosts.toLocaleString('en')} hosts. Reader + core: ` +
    `${(r.coreRow.cpuPps / 1e6).toFixed(2)} M packets per CPU-second, ≈ ${r.cyclesPerPacket.toFixed(0)} cycles per packet.`,
];
const section = [
  '## Flows (`bench/flows.ts`)',
  '',
  `\`npm run bench -- flows\` on ${new Date().toISOString().slice(0, 10)}: ${cpu} at ${(cpuHz / 1e9).toFixed(2)} GHz (reported), ` +
    `${cpus().length} vCPUs shared with other jobs (1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end), ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, Node ${process.version}. Medians of ${runs} runs, every tool in this one invocation; ` +
    'wall clock including process start-up. `netsensor flows` runs on one thread (`--threads 2`: a second thread ' +
    'formats past 16,384 records); Suricata runs its own helper threads beside the packet thread. Cycles per packet = CPU seconds × reported clock / packets.',
  '',
  `### Benchmark capture: ${packets.toLocaleString('en')} packets, ${std.generated.flows.toLocaleString('en')} flows ` +
    `(3/4 TCP with handshake and FIN, 1/4 UDP; 10–30 packets each), ${slots.toLocaleString('en')} live at once, ` +
    `visited round-robin; ${(statSync(std.path).size / 1e6).toFixed(0)} MB`,
  '',
  ...table(stdResult),
  '',
  ...(busy && busyResult ? [
    `### Busy gateway: ${busyPackets.toLocaleString('en')} packets, ${busyFlows.toLocaleString('en')} flows all open at once ` +
      'between ≈ 265,000 hosts (clients from a /12, servers from a /16), 80 % TCP (handshake, data both ways, half close ' +
      `with FIN), 20 % UDP, random interleaving, Poisson arrivals at 200 kpps; ${(statSync(busy.path).size / 1e6).toFixed(0)} MB`,
    '',
    ...table(busyResult),
    '',
  ] : []),
  `Flow state: ${stdResult.slotBytes} bytes per flow slot (\`flowSlotBytes()\`). Targets: reader + core ≥ 3 M packets ` +
    'per CPU-second and `netsensor flows` ≥ 3× Suricata (wall and CPU) on both captures.',
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
