/**
 * Drives build/netsensor.wasm directly — WebAssembly.instantiate, no generated bindings, an `env.abort` that
 * throws — so tests see exactly what the ABI in assembly/index.ts promises: records written into the ring,
 * process() in batches, counters read by name through CORE_COUNTERS. Layouts and constants: core/abi.ts.
 */
import { readFileSync } from 'node:fs';
import { CORE_COUNTERS, type CoreCounterName } from '../../core/decoder-events.ts';
import { KEY_RECORD, RECORD_HEADER, STATS } from '../../core/abi.ts';

export interface Frame {
  ts: number; // ms since the epoch
  data: Uint8Array;
  linktype: number;
  wirelen?: number; // defaults to data.length
}

export const RECORD_HEADER_BYTES = RECORD_HEADER.bytes;
export const WASM_PATH = new URL('../../build/netsensor.wasm', import.meta.url);

export class CoreTrap extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreTrap';
  }
}

type Fn = (...args: number[]) => number;

export interface RawCoreOptions {
  maxFlows?: number;
  maxHosts?: number;
  ringBytes?: number;
  maxOut?: number;
}

export class RawCore {
  readonly exports: Record<string, Fn>;
  readonly memory: WebAssembly.Memory;
  readonly ringBytes: number;
  /** Byte length of linear memory right after init(): must never change afterwards. */
  readonly memoryBytesAfterInit: number;
  rowsDrained = 0;
  keepRecords = false;
  readonly records: ParsedKeyRecord[] = [];

  private constructor(instance: WebAssembly.Instance, opts: Required<RawCoreOptions>) {
    this.exports = instance.exports as unknown as Record<string, Fn>;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    const rc = this.exports.init(opts.maxFlows, opts.maxHosts, opts.ringBytes, opts.maxOut);
    if (rc !== 0) throw new Error(`init failed: ${rc}`);
    this.ringBytes = this.exports.ringCapacity();
    this.memoryBytesAfterInit = this.memory.buffer.byteLength;
  }

  static async load(opts: RawCoreOptions = {}): Promise<RawCore> {
    const bytes = readFileSync(WASM_PATH);
    const { instance } = await WebAssembly.instantiate(bytes, {
      env: {
        abort(msg: number, file: number, line: number, col: number): never {
          throw new CoreTrap(`wasm abort at ${line}:${col} (msg ptr ${msg}, file ptr ${file})`);
        },
      },
    });
    return new RawCore(instance, {
      maxFlows: opts.maxFlows ?? 4096,
      maxHosts: opts.maxHosts ?? 1024,
      ringBytes: opts.ringBytes ?? 1 << 20,
      maxOut: opts.maxOut ?? 256,
    });
  }

  /** Writes frames into the ring in as many batches as needed and processes them. Returns packets consumed. */
  pushPackets(frames: Frame[]): number {
    let i = 0;
    let consumed = 0;
    while (i < frames.length) {
      const ring = this.exports.ringPtr();
      const view = new DataView(this.memory.buffer, ring, this.ringBytes);
      const bytes = new Uint8Array(this.memory.buffer, ring, this.ringBytes);
      let off = 0;
      const start = i;
      while (i < frames.length) {
        const f = frames[i];
        const size = RECORD_HEADER_BYTES + ((f.data.length + 7) & ~7);
        if (off + size > this.ringBytes) {
          if (i === start) throw new Error(`frame of ${f.data.length} bytes does not fit the ring`);
          break;
        }
        const h = RECORD_HEADER.offset;
        view.setFloat64(off + h.ts_ms, f.ts, true);
        view.setUint32(off + h.caplen, f.data.length, true);
        view.setUint32(off + h.wirelen, f.wirelen ?? f.data.length, true);
        view.setUint16(off + h.linktype, f.linktype, true);
        view.setUint16(off + h.reserved16, 0, true);
        view.setUint32(off + h.reserved32, 0, true);
        bytes.set(f.data, off + RECORD_HEADER_BYTES);
        bytes.fill(0, off + RECORD_HEADER_BYTES + f.data.length, off + size);
        off += size;
        i++;
      }
      consumed += this.processRecords(0, i - start);
    }
    return consumed;
  }

  /** process() from `offset` until `count` records are consumed, draining output whenever the core stops. */
  processRecords(offset: number, count: number): number {
    let done = 0;
    let guard = 0;
    while (done < count) {
      const n = this.exports.process(offset, count - done);
      done += n;
      offset = this.exports.lastOffset();
      if (done < count) {
        const drained = this.drain();
        if (n === 0 && drained === 0 && ++guard > 3) throw new Error('process() makes no progress');
      }
    }
    return done;
  }

  /** Takes finished-flow rows out of the core (keys kept in `records` when `keepRecords`); returns rows taken. */
  drain(): number {
    const rows = this.exports.outRows ? this.exports.outRows() : 0;
    if (this.keepRecords && rows > 0) {
      const size = KEY_RECORD.bytes;
      const view = new DataView(this.memory.buffer, this.exports.outKeysPtr(), rows * size);
      for (let r = 0; r < rows; r++) this.records.push(parseKeyRecord(view, r * size));
    }
    if (this.exports.clearOut) this.exports.clearOut();
    this.rowsDrained += rows;
    return rows;
  }

  /** Ends every live flow as end_of_input and drains the rows. */
  flushAll(endOfInputReason: number): void {
    while (this.exports.flush(endOfInputReason) > 0) this.drain();
    this.drain();
  }

  counters(): Map<CoreCounterName, bigint> {
    const n = this.exports.numCounters();
    const view = new BigUint64Array(this.memory.buffer, this.exports.countersPtr(), n);
    const out = new Map<CoreCounterName, bigint>();
    CORE_COUNTERS.forEach((name, i) => { if (i < n) out.set(name, view[i]); });
    return out;
  }

  counter(name: CoreCounterName): number {
    return Number(this.counters().get(name) ?? 0n);
  }

  /** Counters that are not zero, as plain numbers (handy in assertion messages). */
  nonZeroCounters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.counters()) if (v !== 0n) out[k] = Number(v);
    return out;
  }

  stat(index: number): number {
    const view = new BigUint64Array(this.memory.buffer, this.exports.statsPtr(), this.exports.numStats());
    return Number(view[index]);
  }
}

/** A finished flow's KEY_RECORD (core/abi.ts), parsed. */
export interface ParsedKeyRecord {
  src: string; dst: string; srcPort: number; dstPort: number; protocol: number; ipVersion: number;
  endReason: number; vlanId: number; srcToDstPackets: number; srcToDstBytes: number;
  dstToSrcPackets: number; dstToSrcBytes: number;
}

function address(view: DataView, at: number, v4: boolean): string {
  if (v4) return [12, 13, 14, 15].map((i) => view.getUint8(at + i)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(view.getUint16(at + i, false).toString(16));
  return groups.join(':');
}

function parseKeyRecord(view: DataView, at: number): ParsedKeyRecord {
  const k = KEY_RECORD.offset;
  const v4 = view.getUint8(at + k.ip_version) === 4;
  return {
    src: address(view, at + k.src, v4),
    dst: address(view, at + k.dst, v4),
    srcPort: view.getUint16(at + k.src_port, true),
    dstPort: view.getUint16(at + k.dst_port, true),
    protocol: view.getUint8(at + k.protocol),
    ipVersion: view.getUint8(at + k.ip_version),
    endReason: view.getUint8(at + k.end_reason),
    vlanId: view.getUint16(at + k.vlan_id, true),
    srcToDstPackets: view.getFloat64(at + k.src2dst_packets, true),
    srcToDstBytes: view.getFloat64(at + k.src2dst_bytes, true),
    dstToSrcPackets: view.getFloat64(at + k.dst2src_packets, true),
    dstToSrcBytes: view.getFloat64(at + k.dst2src_bytes, true),
  };
}

// statsPtr() indexes
export const STAT_PACKETS = STATS.indexOf('packets');
export const STAT_BYTES = STATS.indexOf('bytes');
export const STAT_IP_PACKETS = STATS.indexOf('ipPackets');
