/**
 * `netsensor detect <capture> [--model FILE] [--format jsonl|text]`: scores every finished flow of a capture with
 * the detection model and prints one record per flow whose risk passes the model's thresholds, plus a summary
 * by class on stderr. With `--alerts`: the alert messages a subscriber of netsensor/v1/alerts/# would receive
 * (cli/alert-replay.ts), one JSON object per line.
 */
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../common/errors.js';
import { detectCapture, type ScoredFlow } from '../../inference/detect-capture.js';
import { loadModel } from '../../inference/model.js';
import { replayAlerts } from '../alert-replay.js';
import { progress } from '../progress.js';

export const summary = 'score the flows of a capture with the detection model';

const HELP = `usage: netsensor detect <capture> [options]

Reads a pcap or pcapng capture, computes flow features with the flow core, scores every finished flow with
the detection model and writes one record per flow that raises an alert: an attack class whose probability
reaches the class threshold, or (unless --no-anomaly) a reconstruction error above the anomaly threshold
(class "anomaly"). Thresholds come from the model's metadata. A summary by class goes to stderr.

Each record: src_ip, src_port, dst_ip, dst_port, protocol, first_seen_ms, last_seen_ms, end_reason, class,
score (probability of the predicted class), predicted (most probable class), anomaly (reconstruction error /
threshold; ≥ 1 is anomalous), model_version, top_features ([name, contribution] pairs: gradient × input for
classes, per-feature reconstruction error for anomalies).

With --alerts, flow verdicts are evidence, as on a running sensor: the output is what a client subscribed to
netsensor/v1/alerts/# would receive if a sensor replayed the capture into a gateway — one line per alert
message (created, escalated, updated), the same JSON the gateway publishes (Suricata EVE field names;
src_ip, dest_ip, alert.severity, and under "netsensor": class, kind, reason, flow_count, event_count,
host_count, port_count, first_seen, last_seen). A summary goes to stderr.

With --alerts --format eve: Suricata EVE JSON alert records, as the gateway's EVE file holds them — one per
alert and one per escalation (no "updated" messages), flow_id, community_id, flow{}, extras in alert.metadata
(docs/gateway.md, "EVE JSON").

options:
  --alerts            alert messages (episodes + gateway correlation) instead of flow verdicts
  --model FILE        ONNX detection model (default: the shipped models/netsensor-detect.onnx)
  --format F         jsonl or text (default jsonl); with --alerts also eve
  --all               a record for every flow, alerting or not (field "alert" tells which)
  --no-anomaly        alert on classifier decisions only
  --top N             contributing features per record (default 5)
  -h, --help          this help

exit codes: 0 done (alerts or not; a capture cut off part-way is read up to the cut, with a warning line and
"truncated": true in the summary), 2 bad input, unreadable capture, corrupt or incompatible model
`;

function record(f: ScoredFlow, version: string, all: boolean): Record<string, unknown> {
  const k = f.key, s = f.score;
  return {
    src_ip: k.src_ip, src_port: k.src_port, dst_ip: k.dst_ip, dst_port: k.dst_port, protocol: k.protocol,
    first_seen_ms: k.first_seen_ms, last_seen_ms: k.last_seen_ms, end_reason: k.end_reason,
    ...(all ? { alert: s.alert } : {}),
    class: s.alertClass ?? s.class, score: Number(s.score.toFixed(4)), predicted: s.class,
    anomaly: Number(s.anomaly.toFixed(4)), model_version: version, top_features: s.top,
  };
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: {
      model: { type: 'string' }, alerts: { type: 'boolean', default: false }, format: { type: 'string', default: 'jsonl' }, all: { type: 'boolean', default: false },
      'no-anomaly': { type: 'boolean', default: false }, top: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h', default: false },
    } });
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (netsensor detect --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (positionals.length !== 1) throw new NetsensorError('ERR_USAGE', 'detect needs exactly one capture file (netsensor detect --help)');
  const formats = values.alerts ? ['jsonl', 'text', 'eve'] : ['jsonl', 'text'];
  if (!formats.includes(values.format)) {
    throw new NetsensorError('ERR_USAGE', `--format must be ${formats.join(', ')}${values.format === 'eve' ? ' (eve needs --alerts)' : ''}, got '${values.format}'`);
  }
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 0) throw new NetsensorError('ERR_USAGE', `--top expects a non-negative integer, got '${values.top}'`);
  const model = await loadModel(values.model);
  const t0 = performance.now();
  // `netsensor detect x.pcap | head` closes stdout early: stop quietly instead of crashing on EPIPE.
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') closed = true; else throw e; });
  const bar = progress('netsensor detect', positionals[0]!);
  const onChunk = bar.active ? (packets: number, flows: number) => bar.update(packets, flows) : undefined;
  try {
    if (values.alerts) {
      const r = await replayAlerts(positionals[0]!, model, { onChunk });
      bar.done();
      const shown = values.format === 'eve' ? r.messages.filter((m) => m.eve) : r.messages;
      const lines = shown.map((m) => values.format === 'eve' ? JSON.stringify(m.eve) : values.format === 'jsonl' ? JSON.stringify(m.payload)
        : `${m.payload.netsensor.reason}\t${m.payload.netsensor.class}\tsev ${m.payload.alert.severity}\t${m.payload.src_ip} -> ${m.payload.dest_ip}\tflows ${m.payload.netsensor.flow_count}\t${m.payload.alert.signature}`);
      if (lines.length && !closed) process.stdout.write(lines.join('\n') + '\n');
      for (const w of r.warnings) process.stderr.write(`netsensor: warning: ${w}\n`);
      const byClass: Record<string, number> = {};
      for (const a of r.alerts) byClass[a.netsensor.class] = (byClass[a.netsensor.class] ?? 0) + 1;
      process.stderr.write(JSON.stringify({
        summary: 'detect --alerts', capture: positionals[0], model_version: model.version, packets: r.packets, flows: r.flows,
        events: r.events, alerts: r.alerts.length, messages: shown.length, by_class: byClass, evidence: r.tracker, truncated: r.truncated,
        elapsed_ms: Math.round(performance.now() - t0),
      }) + '\n');
      return 0;
    }
    const det = await detectCapture(positionals[0]!, model, {
      topFeatures: top, decision: { useAnomaly: !values['no-anomaly'] }, keepAll: values.all, explainAll: values.all, onChunk,
    });
    bar.done();
    const out = values.all ? det.all! : det.alerts;
    const lines: string[] = [];
    for (const f of out) {
      if (closed) break;
      const r = record(f, model.version, values.all);
      lines.push(values.format === 'jsonl' ? JSON.stringify(r)
        : `${r.class}\t${r.score}\t${r.src_ip}:${r.src_port} -> ${r.dst_ip}:${r.dst_port}/${r.protocol}\tanomaly ${r.anomaly}\t${f.score.top.map(([n, c]) => `${n}=${c}`).join(' ')}`);
      if (lines.length >= 1000) { process.stdout.write(lines.join('\n') + '\n'); lines.length = 0; }
    }
    if (lines.length) process.stdout.write(lines.join('\n') + '\n');
    for (const w of det.warnings) process.stderr.write(`netsensor: warning: ${w}\n`);
    process.stderr.write(JSON.stringify({
      summary: 'detect', capture: positionals[0], model_version: model.version, packets: det.packets, flows: det.flows,
      alerts: det.alerts.length, by_class: det.byClass, truncated: det.truncated, elapsed_ms: Math.round(performance.now() - t0),
    }) + '\n');
    return 0;
  } finally {
    bar.done();
    await model.close();
  }
}
