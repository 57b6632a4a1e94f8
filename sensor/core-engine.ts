/**
 * The pipeline's FlowEngine over the WASM core (build/netsensor.wasm, ABI in assembly/index.ts).
 *
 * Packets are copied into the core's packet ring as they arrive and processed in batches (one `process` call
 * per ring-full, or when rows are requested); finished-flow rows are copied out of linear memory into JS-owned
 * arrays, so the core's output area can be reused at once.
 *
 * NOTE: sensor/core.ts is meant to be the one place that knows the ABI. Until it exists this adapter drives the
 * ABI itself; when it lands, this file should shrink to mapping core.ts's API onto FlowEngine.
 */
import { readFileSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import { END_REASONS, NUM_FEATURES, SCHEMA_HASH32 } from '../models/schema.js';
import type { SensorConfig } from './config.js';
import { CORE_EVENTS } from './core-events.js';
import type { SensorCounters } from './metrics.js';
import type { FlowEngine, FlowRows } from './pipeline.js';

type Fn = (...args: number[]) => number;

const RECORD_HEADER = 24;
const CFG_UNANSWERED_S = 4;
const CFG_INTERIM_S = 7;
const STAT_PACKETS = 0, STAT_BYTES = 1, STAT_FLOWS_ACTIVE = 3;

/** Text form of a 16-byte address (IPv4 arrives as ::ffff:a.b.c.d). */
export function formatAddress(b: Uint8Array, off: number): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) { mapped = false; break; }
  if (mapped && b[off + 10] === 0xff && b[off + 11] === 0xff) return `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[off + i]! << 8) | b[off + i + 1]!);
  // longest run of zero words (≥ 2) becomes ::
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

export async function createFlowEngine(core: SensorConfig['core'], _counters?: SensorCounters, wasmPath = packagePath('build/netsensor.wasm')): Promise<FlowEngine> {
  let bytes: Buffer;
  try { bytes = readFileSync(wasmPath); } catch (e) {
    throw new NetsensorError('ERR_CORE_LOAD', `cannot read the flow core ${wasmPath} (run npm run build:wasm)`, { cause: e });
  }
  const wasmModule = await WebAssembly.compile(new Uint8Array(bytes));
  const instance = await WebAssembly.instantiate(wasmModule, {
    env: { abort(): never { throw new NetsensorError('ERR_CORE_LOAD', 'flow core aborted', { exitCode: 1 }); } },
  });
  const x = instance.exports as unknown as Record<string, Fn>;
  const memory = instance.exports.memory as WebAssembly.Memory;
  if ((x.schemaHash!() >>> 0) !== SCHEMA_HASH32 || x.numFeatures!() !== NUM_FEATURES) {
    throw new NetsensorError('ERR_CORE_SCHEMA_MISMATCH', 'flow core was built for another feature schema (run npm run build:wasm)');
  }
  const maxOut = 1024;
  const rc = x.init!(core.maxFlows, core.maxHosts, 4 << 20, maxOut);
  if (rc !== 0) throw new NetsensorError('ERR_CORE_LOAD', `flow core init failed (${rc}): not enough memory for ${core.maxFlows} flows?`);
  x.configure!(CFG_UNANSWERED_S, core.unansweredS);
  x.configure!(CFG_INTERIM_S, core.interimS);
  const keyBytes = x.keyRecordBytes!();
  const ringPtr = x.ringPtr!();
  const ringCap = x.ringCapacity!();
  // init allocated everything: these views stay valid (the core never grows memory afterwards)
  const mem = () => new Uint8Array(memory.buffer);
  let u8 = mem();
  let dv = new DataView(memory.buffer);
  const refresh = () => { if (u8.buffer !== memory.buffer) { u8 = mem(); dv = new DataView(memory.buffer); } };

  let ringOff = 0; // bytes written in the ring
  let ringCount = 0; // records written
  const out: FlowRows[] = [];
  let packets = 0, bytesIn = 0;

  function drainOut(): void {
    refresh();
    const n = x.outRows!();
    if (n === 0) return;
    const fp = x.outFeaturesPtr!();
    const kp = x.outKeysPtr!();
    const features = new Float32Array(memory.buffer.slice(fp, fp + n * NUM_FEATURES * 4));
    const keys: FlowRows['keys'] = [];
    for (let r = 0; r < n; r++) {
      const k = kp + r * keyBytes;
      keys.push({
        src_ip: formatAddress(u8, k),
        dst_ip: formatAddress(u8, k + 16),
        src_port: dv.getUint16(k + 32, true),
        dst_port: dv.getUint16(k + 34, true),
        proto: u8[k + 36]!,
        end_reason: END_REASONS[u8[k + 38]!] ?? 'unknown',
        interim: (u8[k + 39]! & 1) === 1,
        vlan: dv.getUint16(k + 40, true) & 0x0fff,
        first_seen_ms: dv.getFloat64(k + 48, true),
        last_seen_ms: dv.getFloat64(k + 56, true),
        src2dst_packets: dv.getFloat64(k + 64, true),
        src2dst_bytes: dv.getFloat64(k + 72, true),
        dst2src_packets: dv.getFloat64(k + 80, true),
        dst2src_bytes: dv.getFloat64(k + 88, true),
      });
    }
    x.clearOut!();
    out.push({ count: n, features, keys });
  }

  function processRing(): void {
    let off = 0;
    let left = ringCount;
    while (left > 0) {
      const done = x.process!(off, left);
      left -= done;
      off = x.lastOffset!();
      drainOut();
      if (done === 0 && left > 0) {
        // the core made no progress even with an empty output area: skip the rest rather than spin
        break;
      }
    }
    ringOff = 0;
    ringCount = 0;
  }

  function repeatUntilZero(step: () => number): void {
    processRing();
    for (let guard = 0; guard < 1_000_000; guard++) {
      const n = step();
      drainOut();
      if (n <= 0) break;
    }
  }

  const flushCode = (r: 'end_of_input' | 'shutdown') => END_REASONS.indexOf(r);

  return {
    packet(buf, offset, caplen, wirelen, tsMs, linktype) {
      const need = RECORD_HEADER + ((caplen + 7) & ~7);
      if (need > ringCap) return; // larger than the whole ring: cannot be a real packet record
      if (ringOff + need > ringCap) processRing();
      refresh();
      const at = ringPtr + ringOff;
      dv.setFloat64(at, tsMs, true);
      dv.setUint32(at + 8, caplen, true);
      dv.setUint32(at + 12, wirelen, true);
      dv.setUint16(at + 16, linktype, true);
      dv.setUint16(at + 18, 0, true);
      dv.setUint32(at + 20, 0, true);
      u8.set(buf.subarray(offset, offset + caplen), at + RECORD_HEADER);
      u8.fill(0, at + RECORD_HEADER + caplen, at + need);
      ringOff += need;
      ringCount++;
      packets++;
      bytesIn += caplen;
    },
    advance(nowMs) { repeatUntilZero(() => x.advance!(nowMs)); },
    flush(reason) { repeatUntilZero(() => x.flush!(flushCode(reason))); },
    take() {
      if (ringCount > 0) processRing();
      else drainOut();
      return out.shift();
    },
    counters() {
      refresh();
      const sp = x.statsPtr!();
      const ep = x.eventsPtr!();
      const events: Record<string, number> = {};
      const ne = Math.min(x.numEvents!(), CORE_EVENTS.length);
      for (let i = 0; i < ne; i++) events[CORE_EVENTS[i]!] = Number(dv.getBigUint64(ep + i * 8, true));
      return {
        packets: Number(dv.getBigUint64(sp + STAT_PACKETS * 8, true)) || packets,
        bytes: Number(dv.getBigUint64(sp + STAT_BYTES * 8, true)) || bytesIn,
        activeFlows: Number(dv.getBigUint64(sp + STAT_FLOWS_ACTIVE * 8, true)),
        events,
      };
    },
  };
}
