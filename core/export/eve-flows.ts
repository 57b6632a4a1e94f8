/**
 * `netsensor flows --format eve`: one Suricata EVE `flow` event per finished flow (what Suricata's flow logger
 * writes when a flow ends), valid against Suricata's EVE JSON Schema. The event's timestamp is the flow's
 * start, as in Suricata. Features without an EVE field stay in the jsonl/csv exports.
 */
import { featureIndex, NUM_FEATURES, type EndReason } from '../schema.js';
import type { FlowBatch, KeyRecord } from '../host.js';
import { eveFlowCounts, eveTimestamp, eveTuple } from './eve.js';
import type { FlowWriter, TextSink } from './writer.js';

/** Suricata's flow.reason: timeout, forced (evicted) or shutdown. */
const REASONS: Record<EndReason, string> = {
  idle: 'timeout', active: 'timeout', fin: 'timeout', rst: 'timeout', unanswered: 'timeout', interim: 'timeout',
  eviction: 'forced', end_of_input: 'shutdown', shutdown: 'shutdown',
};

/** TCP flag bits in header order, Suricata's key names, and the feature names counting them. */
const FLAGS = [
  [0x01, 'fin'], [0x02, 'syn'], [0x04, 'rst'], [0x08, 'psh'], [0x10, 'ack'], [0x20, 'urg'], [0x40, 'ece'], [0x80, 'cwr'],
] as const;
const flagIndexes = (dir: string) => FLAGS.map(([bit, name]) => [bit, featureIndex(`${dir}_${name}_packets`)] as const);
const TS_FLAGS = flagIndexes('src2dst');
const TC_FLAGS = flagIndexes('dst2src');
const I = {
  ipVersion: featureIndex('ip_version'),
  dnsQueries: featureIndex('dns_queries'), dnsResponses: featureIndex('dns_responses'),
};

const hex = (bits: number) => bits.toString(16).padStart(2, '0');

function flagBits(f: Float32Array, base: number, idx: typeof TS_FLAGS): number {
  let bits = 0;
  for (const [bit, i] of idx) if (f[base + i] > 0) bits |= bit;
  return bits;
}

/** The tcp{} block: flags seen per direction and in all (hex, as Suricata writes them) and one boolean per flag set. */
function tcpBlock(f: Float32Array, base: number): Record<string, string | boolean> {
  const ts = flagBits(f, base, TS_FLAGS), tc = flagBits(f, base, TC_FLAGS), all = ts | tc;
  const tcp: Record<string, string | boolean> = { tcp_flags: hex(all), tcp_flags_ts: hex(ts), tcp_flags_tc: hex(tc) };
  for (const [bit, name] of FLAGS) if (all & bit) tcp[name === 'ece' ? 'ecn' : name] = true;
  return tcp;
}

function state(k: KeyRecord): string {
  if (k.end_reason === 'fin' || k.end_reason === 'rst') return 'closed';
  return k.dst2src_packets > 0 ? 'established' : 'new';
}

export function eveFlowRecord(k: KeyRecord, f: Float32Array, row: number, communityIdSeed = 0): Record<string, unknown> {
  const base = row * NUM_FEATURES;
  const tuple = eveTuple({ ...k, proto: k.protocol, vlan: k.vlan_id }, {
    answered: k.dst2src_packets > 0, communityIdSeed,
  });
  const { flow_id, ...rest } = tuple;
  const dns = f[base + I.dnsQueries] + f[base + I.dnsResponses] > 0;
  return {
    timestamp: eveTimestamp(k.first_seen_ms), flow_id, event_type: 'flow', ...rest,
    ip_v: f[base + I.ipVersion],
    ...(dns ? { app_proto: 'dns' } : {}),
    flow: {
      ...eveFlowCounts(k),
      age: Math.round((k.last_seen_ms - k.first_seen_ms) / 1000),
      state: state(k),
      reason: REASONS[k.end_reason] ?? 'timeout',
      alerted: false,
    },
    ...(k.protocol === 6 ? { tcp: tcpBlock(f, base) } : {}),
  };
}

export function eveFlowWriter(out: TextSink, opts: { communityIdSeed?: number } = {}): FlowWriter {
  return {
    names: [],
    write(batch: FlowBatch): void {
      const lines: string[] = [];
      for (let r = 0; r < batch.rows; r++) lines.push(JSON.stringify(eveFlowRecord(batch.keys[r], batch.features, r, opts.communityIdSeed)));
      if (lines.length) out.write(lines.join('\n') + '\n');
    },
  };
}
