/**
 * Live capture through tcpdump: `tcpdump -U --immediate-mode -w - -i IF -s SNAPLEN [filter]` streams a pcap
 * file on stdout, which the streaming pcap reader consumes like any capture.
 *
 * Why tcpdump rather than a libpcap binding: no native addon to build (the `cap`/`pcap` bindings need
 * libpcap-dev and a compiler on the device), tcpdump drops root privileges itself right after opening the
 * interface, a crash in capture cannot take the sensor process down, and BPF compilation is the reference
 * one. `-U` + `--immediate-mode` deliver each packet as it arrives, which time-to-detect needs.
 *
 * Kernel drops: the pcap statistics (ps_drop / ps_ifdrop) are tcpdump's to read. tcpdump prints them on
 * SIGUSR1 (its SIGINFO on Linux) as one line on stderr, and again on exit, so the sensor sends SIGUSR1 every
 * `statsIntervalMs` and parses the line. Totals are kept across restarts (each run's counters start at 0).
 * /proc/net/dev drop counts were rejected: they count the interface's drops for every reader, not the
 * packets this capture lost.
 *
 * If tcpdump dies it is restarted after an exponential backoff (reset after a run that lasted a minute).
 * A filter tcpdump refuses is a configuration error: the first run's failure is reported as ERR_CONFIG.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { NetsensorError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';

export interface LiveCaptureOptions {
  iface: string;
  filter?: string;
  snaplen: number;
  /** tcpdump -B, KiB */
  bufferKiB?: number;
  restartMinMs: number;
  restartMaxMs: number;
  statsIntervalMs: number;
  log: Logger;
  /** tcpdump executable (default: `tcpdump` on PATH). */
  tcpdump?: string;
}

export interface PcapStats { received: number; kernelDrops: number; ifDrops: number }

export interface LiveCaptureEvents {
  /** A new tcpdump run: its stdout is one complete pcap stream (global header first). */
  stream: [Readable, { run: number }];
  /** tcpdump exited; `restartInMs` undefined when stopping. */
  exit: [{ run: number; code: number | null; signal: string | null; restartInMs?: number }];
  /** A problem the sensor cannot recover from by restarting (bad filter, no tcpdump). */
  fatal: [NetsensorError];
}

const RE_RECEIVED = /(\d+) packets? received by filter/;
const RE_KERNEL = /(\d+) packets? dropped by kernel/;
const RE_IFACE = /(\d+) packets? dropped by interface/;
const HEALTHY_RUN_MS = 60_000;

export function parseTcpdumpStats(text: string): Partial<PcapStats> {
  const n = (re: RegExp) => { const m = re.exec(text); return m ? Number(m[1]) : undefined; };
  const out: Partial<PcapStats> = {};
  const r = n(RE_RECEIVED), k = n(RE_KERNEL), i = n(RE_IFACE);
  if (r !== undefined) out.received = r;
  if (k !== undefined) out.kernelDrops = k;
  if (i !== undefined) out.ifDrops = i;
  return out;
}

export function tcpdumpArgs(o: Pick<LiveCaptureOptions, 'iface' | 'filter' | 'snaplen' | 'bufferKiB'>): string[] {
  const args = ['-U', '--immediate-mode', '-w', '-', '-i', o.iface, '-s', String(o.snaplen), '-n'];
  if (o.bufferKiB) args.push('-B', String(o.bufferKiB));
  if (o.filter) args.push(o.filter);
  return args;
}

export class LiveCapture extends EventEmitter<LiveCaptureEvents> {
  private readonly o: LiveCaptureOptions;
  private readonly log: Logger;
  private child?: ChildProcess;
  private run = 0;
  private attempt = 0;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  private done: PcapStats = { received: 0, kernelDrops: 0, ifDrops: 0 };
  private current: PcapStats = { received: 0, kernelDrops: 0, ifDrops: 0 };
  restarts = 0;

  constructor(o: LiveCaptureOptions) {
    super();
    this.o = o;
    this.log = o.log.child({ component: 'capture', iface: o.iface });
  }

  /** pcap statistics summed over every run so far (latest values of the current run included). */
  get stats(): PcapStats {
    return {
      received: this.done.received + this.current.received,
      kernelDrops: this.done.kernelDrops + this.current.kernelDrops,
      ifDrops: this.done.ifDrops + this.current.ifDrops,
    };
  }

  get pid(): number | undefined { return this.child?.pid; }

  start(): void {
    this.stopping = false;
    this.spawnRun();
    this.statsTimer = setInterval(() => this.requestStats(), this.o.statsIntervalMs);
    this.statsTimer.unref();
  }

  /** Asks tcpdump for its pcap statistics; the answer arrives on stderr. */
  requestStats(): void {
    if (this.child?.pid && this.child.exitCode === null) {
      try { this.child.kill('SIGUSR1'); } catch { /* exited meanwhile */ }
    }
  }

  private spawnRun(): void {
    const run = ++this.run;
    const started = Date.now();
    const args = tcpdumpArgs(this.o);
    this.log.info({ run, args }, 'starting tcpdump');
    const child = spawn(this.o.tcpdump ?? 'tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.current = { received: 0, kernelDrops: 0, ifDrops: 0 };
    let stderrTail = '';
    let spawnError: Error | undefined;
    child.on('error', (e) => { spawnError = e; });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4096);
      for (const line of chunk.split('\n')) {
        if (!line.trim()) continue;
        const s = parseTcpdumpStats(line);
        // each stats report is cumulative for the run; the exit report is split over lines
        if (s.received !== undefined) this.current.received = s.received;
        if (s.kernelDrops !== undefined) this.current.kernelDrops = s.kernelDrops;
        if (s.ifDrops !== undefined) this.current.ifDrops = s.ifDrops;
        if (s.received === undefined && s.kernelDrops === undefined && s.ifDrops === undefined && !/packets captured/.test(line)) {
          this.log.debug({ run, tcpdump: line.trim() }, 'tcpdump');
        }
      }
    });
    this.emit('stream', child.stdout!, { run });
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.done.received += this.current.received;
      this.done.kernelDrops += this.current.kernelDrops;
      this.done.ifDrops += this.current.ifDrops;
      this.current = { received: 0, kernelDrops: 0, ifDrops: 0 };
      if (this.stopping) {
        this.emit('exit', { run, code, signal });
        return;
      }
      const ranMs = Date.now() - started;
      if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
        this.emit('fatal', new NetsensorError('ERR_LIVE_CAPTURE', 'tcpdump not found on PATH (live capture needs it)', { exitCode: 2 }));
        return;
      }
      if (run === 1 && code !== 0 && /syntax error|can't parse filter|parse error|illegal|unknown host|not supported/i.test(stderrTail)) {
        const why = stderrTail.split('\n').map((l) => l.trim()).filter((l) => l && !/^listening on/.test(l)).pop() ?? 'rejected';
        this.emit('fatal', new NetsensorError('ERR_CONFIG', `capture.filter (--filter) rejected by tcpdump: ${why.replace(/^tcpdump:\s*/, '')}`, { exitCode: 2 }));
        return;
      }
      if (ranMs >= HEALTHY_RUN_MS) this.attempt = 0;
      const exp = Math.min(this.o.restartMaxMs, this.o.restartMinMs * 2 ** Math.min(this.attempt++, 30));
      const delay = Math.round(exp / 2 + Math.random() * (exp / 2));
      this.restarts++;
      this.log.warn({ run, code, signal, ranMs, restartInMs: delay, stderr: stderrTail.trim().split('\n').slice(-2).join(' | ') }, 'tcpdump exited; restarting');
      this.emit('exit', { run, code, signal, restartInMs: delay });
      this.restartTimer = setTimeout(() => { if (!this.stopping) this.spawnRun(); }, delay);
    });
  }

  /** Stops tcpdump (SIGTERM; SIGKILL after `timeoutMs`). Its final statistics are counted. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.statsTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await closed;
    clearTimeout(t);
  }
}
