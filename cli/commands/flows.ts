/**
 * `netsensor flows <capture|-> [options]`: one record per finished flow of a capture (pcap or pcapng, chosen by
 * magic number; `-` reads stdin), as JSON lines or CSV, and a one-line JSON summary on stderr.
 */
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../common/errors.js';
import { attachNegativeValues } from '../../common/settings.js';
import { flows } from '../../core/flows.js';
import { FlowCore, type CoreSettings } from '../../core/host.js';
import { FormatThread } from '../../core/export/format-thread.js';
import { openOutput, setStdoutBlocking } from '../../core/export/writer.js';
import { progress } from '../progress.js';

export const summary = 'write one record per finished flow of a capture (jsonl, csv or Suricata EVE)';

const HELP = `usage: netsensor flows <capture|-> [options]

Reads a pcap or pcapng capture (format recognised by its magic number, optionally gzip-compressed; '-' reads
stdin) and writes one record per finished flow: src_ip, src_port, dst_ip, dst_port, protocol, vlan_id,
first_seen_ms, last_seen_ms, src2dst_packets, src2dst_bytes, dst2src_packets, dst2src_bytes (bytes = IP total
length), end_reason, then every feature of the schema (docs/features.md). A summary goes to stderr as one JSON
line; while reading, a progress line when stderr is a terminal. Flow rules and timeouts: docs/flows.md.

options:
  --format jsonl|csv|eve  output format (default jsonl); eve: one Suricata EVE JSON "flow" event per flow
                          (flow_id, community_id, flow{} counters, tcp flags, app_proto dns), docs/flows.md
  --out FILE              write records to FILE instead of stdout
  --idle-timeout S        idle timeout in seconds for every protocol (defaults: TCP 120, UDP 60, ICMP 30)
  --active-timeout S      a record longer than this ends 'active' and a new one continues (default 1800)
  --max-flows N           flow table capacity (default 262144); when full: shorter timeouts, then eviction
  --threads 1|2           2: past 16,384 records, format and write them on a second thread while this one reads
                          the capture (same bytes, less wall clock, ≈ 20 MiB and a little CPU more); the default for
                          eve, --cic-names and --nfstream-names, formatted in JavaScript. 1: one thread, the default
                          for jsonl and csv, whose formatter (WebAssembly) costs less than the thread would save
  --cic-names             CSV in the CIC-IDS2017 dialect: its 85 columns exactly (Flow ID, Timestamp, Label…),
                          in CIC's units (µs, payload lengths); columns netsensor cannot compute are empty
  --label L               the Label column of --cic-names (default empty)
  --nfstream-names        CSV with NFStream's columns exactly (statistical_analysis=True, accounting_mode=1):
                          its names and order, sample deviations; columns netsensor lacks are empty
  -h, --help              this help

exit codes: 0 done (a capture cut off part-way — plain or gzip — is read up to the cut and still ends 0, with a
warning line and "truncated": true in the summary), 2 bad input or usage
`;

function positiveNumber(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new NetsensorError('ERR_USAGE', `--${name} expects a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
  }
  return n;
}

const OPTIONS = {
  format: { type: 'string', default: 'jsonl' },
  out: { type: 'string' },
  'idle-timeout': { type: 'string' },
  'active-timeout': { type: 'string' },
  'max-flows': { type: 'string' },
  threads: { type: 'string' },
  'cic-names': { type: 'boolean', default: false },
  label: { type: 'string' },
  'nfstream-names': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const STOP = Symbol('output closed');

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (netsensor flows --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new NetsensorError('ERR_USAGE', 'expected exactly one capture file (or - for stdin); see netsensor flows --help');
  const format = values.format;
  if (format !== 'jsonl' && format !== 'csv' && format !== 'eve') throw new NetsensorError('ERR_USAGE', `--format must be jsonl, csv or eve, got '${format}'`);
  if (values['cic-names'] && values['nfstream-names']) throw new NetsensorError('ERR_USAGE', 'choose one of --cic-names and --nfstream-names');
  if (values['nfstream-names'] && format !== 'csv') throw new NetsensorError('ERR_USAGE', `--nfstream-names is a CSV dialect: use it with --format csv, not ${format}`);
  if (values['cic-names'] && format !== 'csv') throw new NetsensorError('ERR_USAGE', `--cic-names is a CSV dialect: use it with --format csv, not ${format}`);
  if (values.label !== undefined && !values['cic-names']) throw new NetsensorError('ERR_USAGE', '--label fills the Label column of --cic-names');
  if (values.label !== undefined && /[",\n\r]/.test(values.label)) throw new NetsensorError('ERR_USAGE', '--label cannot contain a comma, a quote or a line break');
  const idle = positiveNumber('idle-timeout', values['idle-timeout']);
  const settings: CoreSettings = {
    tcpIdleS: idle, udpIdleS: idle, icmpIdleS: idle, otherIdleS: idle,
    activeS: positiveNumber('active-timeout', values['active-timeout']),
  };
  const maxFlows = positiveNumber('max-flows', values['max-flows'], true);
  const jsDialect = format === 'eve' || values['cic-names'] || values['nfstream-names'];
  const threads = values.threads ?? (jsDialect ? '2' : '1');
  if (threads !== '1' && threads !== '2') throw new NetsensorError('ERR_USAGE', `--threads must be 1 or 2, got '${threads}'`);
  const capture = positionals[0];

  const core = await FlowCore.load({ maxFlows, settings });
  const out = values.out ? { fd: openOutput(values.out), name: values.out, ownsFd: true } : (setStdoutBlocking(), { fd: 1, name: 'stdout', ownsFd: false });
  // With --threads 2, a large capture's records are formatted and written on a second thread (format-thread.ts).
  const sink = new FormatThread(out, { format, cicNames: values['cic-names'], nfstreamNames: values['nfstream-names'], label: values.label },
    threads === '1' ? 1 : 2);
  let rows = 0;
  const t0 = performance.now();
  const shown = progress('netsensor flows', capture);
  let stats;
  let stoppedEarly = false;
  try {
    stats = await flows(capture, core, (batch) => {
      if (sink.closed) return; // the reader left during a burst (end of input): stop formatting
      rows += batch.rows;
      sink.write(batch);
    }, {
      afterChunk: async () => {
        if (shown.active) {
          const s = core.stats();
          // File bytes ≈ captured bytes + a 16-byte record header per packet (pcap; close enough for pcapng).
          shown.bytes(s.bytes + 16 * s.packets);
          shown.update(s.packets, rows);
        }
        if (sink.closed) throw STOP;
      },
    });
  } catch (e) {
    if (e !== STOP) {
      await sink.end().catch(() => {}); // the first error is the one to report
      throw e;
    }
    stoppedEarly = true;
  }
  shown.done();
  await sink.end();
  stoppedEarly ||= sink.closed;
  const elapsedS = (performance.now() - t0) / 1000;

  const cs = core.stats();
  const events = Object.fromEntries(Object.entries(core.counters()).filter(([, n]) => n > 0));
  for (const w of stats?.warnings ?? []) process.stderr.write(`netsensor: warning: ${w}\n`);
  const report = {
    capture: capture === '-' ? 'stdin' : capture,
    format: stats?.format ?? 'unknown',
    compressed: stats?.compressed ?? false,
    packets: cs.packets,
    bytes: cs.bytes,
    ip_packets: cs.ipPackets,
    flows: rows,
    events,
    unknown_linktypes: stats?.unknownLinktypes ?? {},
    skipped_packets: stats?.skippedPackets ?? 0,
    truncated: stats?.truncated ?? false,
    output_closed_early: stoppedEarly,
    elapsed_s: Math.round(elapsedS * 1000) / 1000,
    packets_per_s: elapsedS > 0 ? Math.round(cs.packets / elapsedS) : 0,
  };
  process.stderr.write(JSON.stringify(report) + '\n');
  return 0;
}
