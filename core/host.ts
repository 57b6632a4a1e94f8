/**
 * The WASM host: the ONE JavaScript file that drives the core (assembly/index.ts is the other side).
 *
 * Record layouts and constants come from core/abi.ts, the declaration the core is generated from too; at load
 * the host compares every ABI global the .wasm exports (record sizes, field offsets as compiled, CFG_*, STAT_*)
 * with that declaration and refuses a core that differs (ERR_CORE_ABI), so a stale build can never be read
 * with the wrong offsets. The exported functions and their return codes are documented in assembly/index.ts.
 *   Memory: init(maxFlows, maxHosts, ringBytes, maxOut) allocates every buffer once (stub runtime, no frees).
 *     Nothing grows memory afterwards, so the views below are created once; they are still re-created if the
 *     buffer ever changes (a grown memory detaches old views).
 *   Packet ring at ringPtr(), ringCapacity() bytes: RECORD_HEADER then the packet, zero-padded to 8 bytes.
 *   process(byteOffset, count) → records consumed (fewer when output is nearly full: drain, clearOut(), then
 *     call again from lastOffset()).
 *   Output: outRows() rows; f32 feature matrix at outFeaturesPtr() (row-major, numFeatures() columns, order of
 *     core/schema.ts); KEY_RECORDs at outKeysPtr().
 *   configure(key, value) with CONFIG_KEYS (seconds) → 0 | -1; advance(nowMs) and flush(reason) emit rows
 *     bounded by free output space: call again while they return > 0.
 *   Counters: countersPtr() u64[numCounters()] named by CORE_COUNTERS; statsPtr() u64[numStats()] (STATS).
 *   schemaHash() must equal SCHEMA_HASH32 of core/schema.ts; flowSlotBytes() = flow state bytes per slot.
 *
 * Hot path: push() writes a record straight into linear memory (no object per packet); when the ring is full
 * it runs process() and hands finished flows to the batch callback. Classic pcap files take the bulk path
 * instead (pcapRecords(), the reader's PcapBulkSink): a chunk of the file is copied into the core's stage at
 * once and the core splits it into ring records itself (assembly/pcap-ingest.ts).
 */
import { readFileSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import { END_REASONS, NUM_FEATURES, SCHEMA_HASH32, type EndReason } from './schema.js';
import { CORE_COUNTERS } from './decoder-events.js';
import type { PcapBulkSink } from './capture/stats.js';
import { PCAP_RECORD_HEADER_BYTES } from './capture/pcap.js';
import { CONFIG_KEYS, KEY_FLAG_INTERIM, KEY_RECORD, RECORD_HEADER, STATS, abiGlobals } from './abi.js';

export type CoreSettings = Partial<Record<keyof typeof CONFIG_KEYS, number>>;
export type CoreStats = Record<(typeof STATS)[number], number>;

const RECORD_HEADER_BYTES = RECORD_HEADER.bytes;
const H = RECORD_HEADER.offset;
const K = KEY_RECORD.offset;
const ABI_GLOBALS = abiGlobals();

/** One finished flow's KEY_RECORD, read into an object. */
export interface KeyRecord {
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

/**
 * Finished flows of one drain. `features` and `keyBytes` view the core's memory: valid only during the callback
 * (copy with .slice()). `keys` are built on first use (the JSON Lines and CSV formatter reads `keyBytes` instead).
 */
export interface FlowBatch {
  readonly rows: number;
  /** rows × NUM_FEATURES, row-major, column order of core/schema.ts */
  readonly features: Float32Array;
  /** rows KEY_RECORDs (core/abi.ts), as the core wrote them */
  readonly keyBytes: Uint8Array;
  readonly keys: KeyRecord[];
}

/**
 * A batch over key records and features held elsewhere (the core's output area, the formatting ring): its key
 * objects (two address strings each) only exist if a consumer asks for them.
 */
export class CoreBatch implements FlowBatch {
  private built: KeyRecord[] | undefined;
  constructor(readonly rows: number, readonly features: Float32Array, readonly keyBytes: Uint8Array) {}
  get keys(): KeyRecord[] {
    return this.built ??= readKeyRecords(this.keyBytes, this.rows);
  }
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

/**
 * Host-table size when none is given: room for both hosts of every flow the table can hold (live flows pin
 * their hosts, assembly/features/hosts.ts), at least CORE_DEFAULTS.maxHosts. Slots are used in order, so
 * memory only becomes resident as hosts appear (the address index, 16–32 B per slot, fills in as it is hashed into).
 */
export function hostsFor(maxFlows: number): number {
  return Math.min(1 << 22, Math.max(CORE_DEFAULTS.maxHosts, 2 * maxFlows));
}

type Fn = (...args: number[]) => number;
const REQUIRED = [
  'init', 'configure', 'ringPtr', 'ringCapacity', 'process', 'lastOffset', 'advance', 'flush', 'outRows',
  'outFeaturesPtr', 'outKeysPtr', 'clearOut', 'countersPtr', 'numCounters', 'statsPtr', 'numStats', 'schemaHash',
  'numFeatures', 'keyRecordBytes', 'flowSlotBytes', 'stagePtr', 'stageCapacity', 'ingestPcap', 'ingestStageEnd',
  'ingestRingEnd', 'ingestBytes',
] as const;
type Exports = Record<(typeof REQUIRED)[number], Fn>;

/**
 * Refuses a core whose exported ABI differs from this host's (functions, and every global of core/abi.ts with
 * its value): one ERR_CORE_ABI naming each difference, never rows read at the wrong offsets.
 */
export function checkCoreAbi(exports: WebAssembly.Exports, expected: ReadonlyMap<string, number> = ABI_GLOBALS): void {
  const wrong: string[] = [];
  for (const name of REQUIRED) if (typeof exports[name] !== 'function') wrong.push(`${name}() missing`);
  for (const [name, value] of expected) {
    const g = exports[name];
    if (!(g instanceof WebAssembly.Global)) wrong.push(`${name} missing (expected ${value})`);
    else if (g.value !== value) wrong.push(`${name} is ${g.value}, expected ${value}`);
  }
  if (wrong.length > 0) {
    throw new NetsensorError('ERR_CORE_ABI',
      `flow core was built for another ABI (${wrong.slice(0, 4).join('; ')}${wrong.length > 4 ? `; ${wrong.length - 4} more` : ''}): rebuild with npm run build`,
      { exitCode: 1, detail: { differences: wrong } });
  }
}

const compiledModules = new Map<string, WebAssembly.Module>();

/** A WebAssembly module of the build (`what` names it in errors), compiled once per process. */
export function compileWasm(path: string, what = 'flow core'): WebAssembly.Module {
  const known = compiledModules.get(path);
  if (known) return known;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new NetsensorError('ERR_CORE_LOAD', `cannot read the ${what} ${path}: build it with npm run build`, { cause: e, exitCode: 1 });
  }
  try {
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    compiledModules.set(path, module);
    return module;
  } catch (e) {
    throw new NetsensorError('ERR_CORE_LOAD', `invalid ${what} ${path}: ${(e as Error).message}`, { cause: e, exitCode: 1 });
  }
}

/** Whether the 16-byte address at `at` is IPv4-mapped (::ffff:a.b.c.d): the core's form of an IPv4 address. */
export function isV4Mapped(m: Uint8Array, at: number): boolean {
  return m[at] === 0 && m[at + 1] === 0 && m[at + 2] === 0 && m[at + 3] === 0 && m[at + 4] === 0 && m[at + 5] === 0 &&
    m[at + 6] === 0 && m[at + 7] === 0 && m[at + 8] === 0 && m[at + 9] === 0 && m[at + 10] === 0xff && m[at + 11] === 0xff;
}

/** The end reason named by a KEY_RECORD's code (an unknown code reads as 'shutdown'). */
export function endReasonOf(code: number): EndReason {
  return END_REASONS[code] ?? 'shutdown';
}

/** IPv4-mapped (::ffff:a.b.c.d) → dotted quad; anything else → RFC 5952 compressed IPv6. */
export function formatAddress(m: Uint8Array, at: number): string {
  if (isV4Mapped(m, at)) return `${m[at + 12]}.${m[at + 13]}.${m[at + 14]}.${m[at + 15]}`;
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

export class FlowCore implements PcapBulkSink {
  private readonly x: Exports;
  private readonly memory: WebAssembly.Memory;
  private u8!: Uint8Array;
  private dv!: DataView;
  private ringPtr: number;
  private readonly ringCap: number;
  private readonly stagePtr: number;
  private readonly stageCap: number;
  private ringOff = 0;
  private ringCount = 0;
  private handler: BatchHandler = () => {};
  /** packets bigger than the whole ring are cut to fit (the core still sees their wire length) */
  clippedPackets = 0;

  private constructor(instance: WebAssembly.Instance, o: Required<Omit<CoreOptions, 'settings' | 'wasmPath'>>) {
    checkCoreAbi(instance.exports);
    const x = instance.exports as unknown as Exports;
    this.x = x;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    const hash = x.schemaHash() >>> 0;
    if (hash !== SCHEMA_HASH32 || x.numFeatures() !== NUM_FEATURES) {
      throw new NetsensorError('ERR_CORE_SCHEMA_MISMATCH',
        `flow core was built for another feature schema (core ${hash.toString(16)}/${x.numFeatures()} features, ` +
        `sensor ${SCHEMA_HASH32.toString(16)}/${NUM_FEATURES}): rebuild with npm run build`, { exitCode: 1 });
    }
    if (x.numCounters() !== CORE_COUNTERS.length) {
      throw new NetsensorError('ERR_CORE_SCHEMA_MISMATCH', `flow core has ${x.numCounters()} counters, sensor names ${CORE_COUNTERS.length}: rebuild with npm run build`, { exitCode: 1 });
    }
    const rc = x.init(o.maxFlows, o.maxHosts, o.ringBytes, o.maxOut);
    if (rc !== 0) {
      const why = rc === -2 ? 'not enough memory' : rc === -3 ? 'sizes out of range' : `code ${rc}`;
      throw new NetsensorError('ERR_CORE_LOAD', `flow core init(maxFlows ${o.maxFlows}, maxHosts ${o.maxHosts}, ring ${o.ringBytes} B, out ${o.maxOut}) failed: ${why}`, { exitCode: 2 });
    }
    this.ringPtr = x.ringPtr();
    this.ringCap = x.ringCapacity();
    this.stagePtr = x.stagePtr();
    this.stageCap = x.stageCapacity();
    this.views();
  }

  /** Loads build/netsensor.wasm (or `wasmPath`), checks its ABI and schema, initialises and configures it. */
  static async load(opts: CoreOptions = {}): Promise<FlowCore> {
    const module = compileWasm(opts.wasmPath ?? packagePath('build/netsensor.wasm'));
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
    const maxFlows = opts.maxFlows ?? CORE_DEFAULTS.maxFlows;
    const core = new FlowCore(instance, {
      maxFlows,
      maxHosts: opts.maxHosts ?? hostsFor(maxFlows),
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
      const key = CONFIG_KEYS[name as keyof typeof CONFIG_KEYS];
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
    dv.setFloat64(at + H.ts_ms, tsMs, true);
    dv.setUint32(at + H.caplen, caplen, true);
    dv.setUint32(at + H.wirelen, wirelen, true);
    dv.setUint16(at + H.linktype, linktype, true);
    dv.setUint16(at + H.reserved16, 0, true);
    dv.setUint32(at + H.reserved32, 0, true);
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

  /**
   * Bulk path for classic pcap (PcapBulkSink): copies buf[start, end) into the core's stage a stage at a time and
   * lets the core split its complete records into the ring; stops before a record the core cannot take whole
   * (cut off, corrupt, or bigger than the stage), which the reader then hands to push().
   */
  pcapRecords(buf: Uint8Array, start: number, end: number, bigEndian: boolean, nanos: boolean, linktype: number,
    taken: { packets: number; bytes: number }): number {
    const flags = (bigEndian ? 1 : 0) | (nanos ? 2 : 0);
    let pos = start;
    for (;;) {
      const n = Math.min(end - pos, this.stageCap);
      if (n < PCAP_RECORD_HEADER_BYTES) return pos;
      // A chunk's ring records take less than twice its bytes (24-byte header and padding for a 16-byte one).
      if (this.ringCount > 0 && this.ringCap - this.ringOff < 2 * n) this.sync();
      this.u8.set(buf.subarray(pos, pos + n), this.stagePtr);
      const records = this.x.ingestPcap(n, this.ringOff, flags, linktype);
      if (records === 0) {
        if (this.ringCount === 0) return pos;
        this.sync(); // the ring may have been too full for a big record: retry once with it empty
        continue;
      }
      pos += this.x.ingestStageEnd();
      this.ringOff = this.x.ingestRingEnd();
      this.ringCount += records;
      taken.packets += records;
      taken.bytes += this.x.ingestBytes();
    }
  }

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

  /** Decoder and flow counters by name (all of them, zeros included). */
  counters(): Record<string, number> {
    this.views();
    const p = this.x.countersPtr();
    const out: Record<string, number> = {};
    for (let i = 0; i < CORE_COUNTERS.length; i++) out[CORE_COUNTERS[i]] = Number(this.dv.getBigUint64(p + i * 8, true));
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
    try {
      this.handler(new CoreBatch(rows, features, this.u8.subarray(kp, kp + rows * KEY_RECORD.bytes)));
    } finally {
      this.x.clearOut();
    }
    return rows;
  }
}

/** The first `rows` KEY_RECORDs of `bytes`, read into objects. */
export function readKeyRecords(bytes: Uint8Array, rows: number): KeyRecord[] {
  const keys: KeyRecord[] = new Array(rows);
  const m = bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let r = 0; r < rows; r++) {
    const k = r * KEY_RECORD.bytes;
    keys[r] = {
      src_ip: formatAddress(m, k + K.src),
      src_port: dv.getUint16(k + K.src_port, true),
      dst_ip: formatAddress(m, k + K.dst),
      dst_port: dv.getUint16(k + K.dst_port, true),
      protocol: m[k + K.protocol],
      ip_version: m[k + K.ip_version],
      vlan_id: dv.getUint16(k + K.vlan_id, true),
      first_seen_ms: dv.getFloat64(k + K.first_seen_ms, true),
      last_seen_ms: dv.getFloat64(k + K.last_seen_ms, true),
      src2dst_packets: dv.getFloat64(k + K.src2dst_packets, true),
      src2dst_bytes: dv.getFloat64(k + K.src2dst_bytes, true),
      dst2src_packets: dv.getFloat64(k + K.dst2src_packets, true),
      dst2src_bytes: dv.getFloat64(k + K.dst2src_bytes, true),
      end_reason: endReasonOf(m[k + K.end_reason]),
      interim: (m[k + K.flags] & KEY_FLAG_INTERIM) !== 0,
      flow_seq: dv.getUint32(k + K.flow_seq, true),
    };
  }
  return keys;
}
