/**
 * The WASM host: the ONE JavaScript file that knows the core's ABI (assembly/index.ts is the other side).
 *
 * ABI mirror (keep in step with assembly/index.ts):
 *   Memory: init(maxFlows, maxHosts, ringBytes, maxOut) allocates every buffer once (stub runtime, no frees).
 *     Nothing grows memory afterwards, so the views below are created once; they are still re-created if the
 *     buffer ever changes (a grown memory detaches old views).
 *   Packet ring at ringPtr(), ringCapacity() bytes, records 8-byte aligned:
 *     +0 f64 ts_ms | +8 u32 caplen | +12 u32 wirelen | +16 u16 linktype | +18 u16 0 | +20 u32 0 | +24 data,
 *     zero-padded to a multiple of 8.
 *   process(byteOffset, count) → records consumed (fewer when output is nearly full: drain, clearOut(), then
 *     call again from lastOffset()).
 *   Output: outRows() rows; f32 feature matrix at outFeaturesPtr() (row-major, numFeatures() columns, order of
 *     core/schema.ts); keyRecordBytes()-byte key records at outKeysPtr():
 *     +0 u8[16] src (initiator; IPv4 as ::ffff:a.b.c.d) | +16 u8[16] dst | +32 u16 src_port | +34 u16 dst_port |
 *     +36 u8 protocol | +37 u8 ip_version | +38 u8 end_reason (END_REASONS) | +39 u8 flags (bit 0 interim) |
 *     +40 u16 vlan_id | +44 u32 flow_seq | +48 f64 first_seen_ms | +56 f64 last_seen_ms |
 *     +64 f64 src2dst_packets | +72 f64 src2dst_bytes | +80 f64 dst2src_packets | +88 f64 dst2src_bytes
 *   configure(key, value) with the CFG_* keys below (seconds) → 0 | -1; advance(nowMs) and flush(reason) emit
 *     rows bounded by free output space: call again while they return > 0.
 *   Counters: eventsPtr() u64[numEvents()] named by CORE_EVENTS; statsPtr() u64[numStats()] (STAT_* below).
 *   schemaHash() must equal SCHEMA_HASH32 of core/schema.ts; flowSlotBytes() = flow state bytes per slot.
 *
 * Hot path: push() writes a record straight into linear memory (no object per packet); when the ring is full
 * it runs process() and hands finished flows to the batch callback.
 */
import { readFileSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import { END_REASONS, NUM_FEATURES, SCHEMA_HASH32, type EndReason } from './schema.js';
import { CORE_EVENTS } from './decoder-events.js';

const RECORD_HEADER_BYTES = 24;

/** configure() keys (assembly/index.ts CFG_*); values in seconds, defaults in assembly/flow/timeouts.ts. */
export const CORE_SETTINGS = {
  tcpIdleS: 0,
  udpIdleS: 1,
  icmpIdleS: 2,
  otherIdleS: 3,
  unansweredS: 4,
  closedLingerS: 5,
  activeS: 6,
  interimS: 7,
  emergencyFactor: 8,
  activityGapS: 9,
} as const;
export type CoreSettings = Partial<Record<keyof typeof CORE_SETTINGS, number>>;

/** statsPtr() indexes (assembly/index.ts STAT_*). */
const STATS = ['packets', 'bytes', 'flowsCreated', 'flowsActive', 'rowsEmitted', 'hostsActive', 'ipPackets'] as const;
export type CoreStats = Record<(typeof STATS)[number], number>;

export interface FlowKey {
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  protocol: number;
  ip_version: number;
  vlan_id: number;
  first_seen_ms: number;
  last_seen_ms: number;
  src2dst_packets: number;
  src2dst_bytes: number;
  dst2src_packets: number;
  dst2src_bytes: number;
  end_reason: EndReason;
  /** an interim record: the flow continues and will be reported again */
  interim: boolean;
  flow_seq: number;
}

/** Finished flows of one drain. `features` views the core's memory: valid only during the callback (copy with .slice()). */
export interface FlowBatch {
  rows: number;
  /** rows × NUM_FEATURES, row-major, column order of core/schema.ts */
  features: Float32Array;
  keys: FlowKey[];
}

export type BatchHandler = (batch: FlowBatch) => void;

export interface CoreOptions {
  maxFlows?: number;
  maxHosts?: number;
  ringBytes?: number;
  /** output rows per drain */
  maxOut?: number;
  settings?: CoreSettings;
  wasmPath?: string;
}

export const CORE_DEFAULTS = { maxFlows: 262_144, maxHosts: 65_536, ringBytes: 4 << 20, maxOut: 4096 } as const;

type Fn = (...args: number[]) => number;
const REQUIRED = [
  'init', 'configure', 'ringPtr', 'ringCapacity', 'process', 'lastOffset', 'advance', 'flush', 'outRows',
  'outFeaturesPtr', 'outKeysPtr', 'clearOut', 'eventsPtr', 'statsPtr', 'numEvents', 'numStats', 'schemaHash',
  'numFeatures', 'keyRecordBytes', 'flowSlotBytes',
] as const;
type Exports = Record<(typeof REQUIRED)[number], Fn>;

let cachedModule: { path: string; module: WebAssembly.Module } | undefined;

function compile(path: string): WebAssembly.Module {
  if (cachedModule?.path === path) return cachedModule.module;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new NetsensorError('ERR_CORE_LOAD', `cannot read the flow core ${path}: build it with npm run build`, { cause: e, exitCode: 1 });
  }
  try {
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    cachedModule = { path, module };
    return module;
  } catch (e) {
    throw new NetsensorError('ERR_CORE_LOAD', `invalid flow core ${path}: ${(e as Error).message}`, { cause: e, exitCode: 1 });
  }
}

/** IPv4-mapped (::ffff:a.b.c.d) → dotted quad; anything else → RFC 5952 compressed IPv6. */
export function formatAddress(m: Uint8Array, at: number): string {
  if (m[at] === 0 && m[at + 1] === 0 && m[at + 2] === 0 && m[at + 3] === 0 && m[at + 4] === 0 && m[at + 5] === 0 &&
      m[at + 6] === 0 && m[at + 7] === 0 && m[at + 8] === 0 && m[at + 9] === 0 && m[at + 10] === 0xff && m[at + 11] === 0xff) {
    return `${m[at + 12]}.${m[at + 13]}.${m[at + 14]}.${m[at + 15]}`;
  }
  const w: number[] = new Array(8);
  for (let i = 0; i < 8; i++) w[i] = (m[at + 2 * i] << 8) | m[at + 2 * i + 1];
  let best = -1, bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

export class FlowCore {
  private readonly x: Exports;
  private readonly memory: WebAssembly.Memory;
  private u8!: Uint8Array;
  private dv!: DataView;
  private ringPtr: number;
  private readonly ringCap: number;
  private readonly keyBytes: number;
  private ringOff = 0;
  private ringCount = 0;
  private handler: BatchHandler = () => {};
  /** packets bigger than the whole ring are cut to fit (the core still sees their wire length) */
  clippedPackets = 0;

  private constructor(instance: WebAssembly.Instance, o: Required<Omit<CoreOptions, 'settings' | 'wasmPath'>>) {
    const x = instance.exports as unknown as Exports;
    for (const name of REQUIRED) {
      if (typeof x[name] !== 'function') {
        throw new NetsensorError('ERR_CORE_LOAD', `flow core lacks export ${name}(): rebuild with npm run build`, { exitCode: 1 });
      }
    }
    this.x = x;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    const hash = x.schemaHash() >>> 0;
    if (hash !== SCHEMA_HASH32 || x.numFeatures() !== NUM_FEATURES) {
      throw new NetsensorError('ERR_CORE_SCHEMA_MISMATCH',
        `flow core was built for another feature schema (core ${hash.toString(16)}/${x.numFeatures()} features, ` +
        `sensor ${SCHEMA_HASH32.toString(16)}/${NUM_FEATURES}): rebuild with npm run build`, { exitCode: 1 });
    }
    if (x.numEvents() !== CORE_EVENTS.length) {
      throw new NetsensorError('ERR_CORE_SCHEMA_MISMATCH', `flow core counts ${x.numEvents()} events, sensor names ${CORE_EVENTS.length}: rebuild with npm run build`, { exitCode: 1 });
    }
    const rc = x.init(o.maxFlows, o.maxHosts, o.ringBytes, o.maxOut);
    if (rc !== 0) {
      const why = rc === -2 ? 'not enough memory' : rc === -3 ? 'sizes out of range' : `code ${rc}`;
      throw new NetsensorError('ERR_CORE_LOAD', `flow core init(maxFlows ${o.maxFlows}, maxHosts ${o.maxHosts}, ring ${o.ringBytes} B, out ${o.maxOut}) failed: ${why}`, { exitCode: 2 });
    }
    this.ringPtr = x.ringPtr();
    this.ringCap = x.ringCapacity();
    this.keyBytes = x.keyRecordBytes();
    this.views();
  }

  /** Loads build/netsensor.wasm (or `wasmPath`), checks its schema, initialises and configures it. */
  static async load(opts: CoreOptions = {}): Promise<FlowCore> {
    const module = compile(opts.wasmPath ?? packagePath('build/netsensor.wasm'));
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, {
        env: {
          abort(_msg: number, _file: number, line: number, col: number): never {
            throw new NetsensorError('ERR_CORE_LOAD', `flow core aborted (line ${line}:${col})`, { exitCode: 1 });
          },
        },
      });
    } catch (e) {
      throw new NetsensorError('ERR_CORE_LOAD', `cannot instantiate the flow core: ${(e as Error).message}`, { cause: e, exitCode: 1 });
    }
    const core = new FlowCore(instance, {
      maxFlows: opts.maxFlows ?? CORE_DEFAULTS.maxFlows,
      maxHosts: opts.maxHosts ?? CORE_DEFAULTS.maxHosts,
      ringBytes: opts.ringBytes ?? CORE_DEFAULTS.ringBytes,
      maxOut: opts.maxOut ?? CORE_DEFAULTS.maxOut,
    });
    if (opts.settings) core.configure(opts.settings);
    return core;
  }

  /** Sets timeouts and other values (seconds); an invalid one is an ERR_CONFIG naming it. */
  configure(settings: CoreSettings): void {
    for (const [name, value] of Object.entries(settings)) {
      if (value === undefined) continue;
      const key = CORE_SETTINGS[name as keyof typeof CORE_SETTINGS];
      if (key === undefined || this.x.configure(key, value) !== 0) {
        throw new NetsensorError('ERR_CONFIG', `invalid flow core setting ${name}=${value}`);
      }
    }
  }

  /** Receives every batch of finished flows (rows are views: copy what you keep). */
  onBatch(handler: BatchHandler): void {
    this.handler = handler;
  }

  /** Bytes of flow-table state per flow slot (benchmarks). */
  flowSlotBytes(): number {
    return this.x.flowSlotBytes();
  }

  /** Hot path: copy one packet into the ring; runs the core when the ring is full. */
  push = (buf: Uint8Array, offset: number, caplen: number, wirelen: number, tsMs: number, linktype: number): void => {
    let need = RECORD_HEADER_BYTES + ((caplen + 7) & ~7);
    if (need > this.ringCap) {
      caplen = this.ringCap - RECORD_HEADER_BYTES - 8;
      need = RECORD_HEADER_BYTES + ((caplen + 7) & ~7);
      this.clippedPackets++;
    }
    if (this.ringOff + need > this.ringCap) this.sync();
    const at = this.ringPtr + this.ringOff;
    const dv = this.dv;
    dv.setFloat64(at, tsMs, true);
    dv.setUint32(at + 8, caplen, true);
    dv.setUint32(at + 12, wirelen, true);
    dv.setUint32(at + 16, linktype, true); // u16 linktype + u16 reserved (0: link types fit in 16 bits)
    dv.setUint32(at + 20, 0, true);
    const m = this.u8;
    const d = at + RECORD_HEADER_BYTES;
    if (caplen <= 64) {
      for (let i = 0; i < caplen; i++) m[d + i] = buf[offset + i];
    } else {
      m.set(buf.subarray(offset, offset + caplen), d);
    }
    for (let i = d + caplen, e = at + need; i < e; i++) m[i] = 0;
    this.ringOff += need;
    this.ringCount++;
  };

  /** Runs the core over every record written so far and drains finished flows to the batch handler. */
  sync(): void {
    let off = 0;
    let left = this.ringCount;
    while (left > 0) {
      const done = this.x.process(off, left);
      left -= done;
      off = this.x.lastOffset();
      const drained = this.drain();
      if (done === 0 && drained === 0) break; // no progress possible: never spin
    }
    this.ringOff = 0;
    this.ringCount = 0;
    this.drain();
  }

  /** Expires flows idle as of `nowMs` (live capture with no traffic). */
  advance(nowMs: number): void {
    this.sync();
    while (this.x.advance(nowMs) > 0) this.drain();
    this.drain();
  }

  /** Ends every live flow with this reason (end of a capture, or shutdown). */
  flush(reason: 'end_of_input' | 'shutdown' = 'end_of_input'): void {
    this.sync();
    const code = END_REASONS.indexOf(reason);
    while (this.x.flush(code) > 0) this.drain();
    this.drain();
  }

  /** Decoder and flow event counters by name (all of them, zeros included). */
  events(): Record<string, number> {
    this.views();
    const p = this.x.eventsPtr();
    const out: Record<string, number> = {};
    for (let i = 0; i < CORE_EVENTS.length; i++) out[CORE_EVENTS[i]] = Number(this.dv.getBigUint64(p + i * 8, true));
    return out;
  }

  stats(): CoreStats {
    this.views();
    const p = this.x.statsPtr();
    const out = {} as CoreStats;
    STATS.forEach((name, i) => { out[name] = Number(this.dv.getBigUint64(p + i * 8, true)); });
    return out;
  }

  private views(): void {
    if (this.u8 === undefined || this.u8.buffer !== this.memory.buffer) {
      this.u8 = new Uint8Array(this.memory.buffer);
      this.dv = new DataView(this.memory.buffer);
    }
  }

  private drain(): number {
    const rows = this.x.outRows();
    if (rows === 0) return 0;
    this.views();
    const fp = this.x.outFeaturesPtr();
    const kp = this.x.outKeysPtr();
    const features = new Float32Array(this.memory.buffer, fp, rows * NUM_FEATURES);
    const keys: FlowKey[] = new Array(rows);
    const m = this.u8, dv = this.dv;
    for (let r = 0; r < rows; r++) {
      const k = kp + r * this.keyBytes;
      keys[r] = {
        src_ip: formatAddress(m, k),
        src_port: dv.getUint16(k + 32, true),
        dst_ip: formatAddress(m, k + 16),
        dst_port: dv.getUint16(k + 34, true),
        protocol: m[k + 36],
        ip_version: m[k + 37],
        vlan_id: dv.getUint16(k + 40, true),
        first_seen_ms: dv.getFloat64(k + 48, true),
        last_seen_ms: dv.getFloat64(k + 56, true),
        src2dst_packets: dv.getFloat64(k + 64, true),
        src2dst_bytes: dv.getFloat64(k + 72, true),
        dst2src_packets: dv.getFloat64(k + 80, true),
        dst2src_bytes: dv.getFloat64(k + 88, true),
        end_reason: END_REASONS[m[k + 38]] ?? 'shutdown',
        interim: (m[k + 39] & 1) === 1,
        flow_seq: dv.getUint32(k + 44, true),
      };
    }
    try {
      this.handler({ rows, features, keys });
    } finally {
      this.x.clearOut();
    }
    return rows;
  }
}
