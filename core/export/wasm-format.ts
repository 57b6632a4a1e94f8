/**
 * JSON Lines and CSV flow records, formatted by build/netsensor-format.wasm (assembly/format/index.ts): JSON Lines
 * one object per flow, keys in record order, a non-finite value `null`; CSV a header line then one line per flow,
 * a non-finite value an empty cell, nothing quoted (no value contains a comma or a quote). Values as record.ts
 * formatFeature() writes them. This file is the module's whole boundary: it lays out the module's memory,
 * describes the columns as a small program (from record.ts's layout, so the column list has one source), copies
 * each batch's rows in and writes the text out.
 *
 * Module memory, from the module's heap base: the config block (CONFIG), the column program (4 × i32 per column),
 * the strings (prefixes, suffix, null text, end-reason words), the end-reason table (2 × i32 per word), the input
 * rows (CHUNK_ROWS key records, then CHUNK_ROWS × NUM_FEATURES float32) and the output area.
 */
import { NetsensorError } from '../../common/errors.js';
import { packagePath } from '../../common/paths.js';
import { KEY_RECORD } from '../abi.js';
import { compileWasm, type FlowBatch } from '../host.js';
import { END_REASONS, NUM_FEATURES, RECORD_KEY_COLUMNS } from '../schema.js';
import { formatFeature, recordLayout } from './record.js';
import type { FlowWriter, TextSink } from './writer.js';

/** Column kinds: assembly/format/index.ts K_*. */
const COLUMN_KINDS = { addr: 0, u16: 1, u8: 2, time: 3, f64Int: 4, endReason: 5, feature: 6 } as const;
type KeyColumn = (typeof RECORD_KEY_COLUMNS)[number];
/** What each key column is; the key record holds it under its own name (the addresses: `src`, `dst`). */
const KEY_KINDS: Record<KeyColumn, keyof typeof COLUMN_KINDS> = {
  src_ip: 'addr', src_port: 'u16', dst_ip: 'addr', dst_port: 'u16', protocol: 'u8', vlan_id: 'u16',
  first_seen_ms: 'time', last_seen_ms: 'time', src2dst_packets: 'f64Int', src2dst_bytes: 'f64Int',
  dst2src_packets: 'f64Int', dst2src_bytes: 'f64Int', end_reason: 'endReason',
};
const keyOffset = (c: KeyColumn): number => KEY_RECORD.offset[c === 'src_ip' ? 'src' : c === 'dst_ip' ? 'dst' : c];
/** Config block: i32 words read by setup() in this order. */
const CONFIG = ['program', 'columns', 'strings', 'suffixOff', 'suffixLen', 'quote', 'nullOff', 'nullLen', 'reasons', 'reasonCount', 'keyBytes', 'numFeatures'] as const;
const CHUNK_ROWS = 256;
const OUT_BYTES = 256 << 10;

interface FormatExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  setup(config: number): void;
  format(keys: number, features: number, rows: number, out: number, cap: number): number;
  formattedBytes(): number;
  maxRowBytes(): number;
}

export function wasmRecordWriter(out: TextSink, format: 'jsonl' | 'csv'): FlowWriter {
  const layout = recordLayout();
  const json = format === 'jsonl';
  const prefixes = layout.names.map((name, i) => (json ? `${i === 0 ? '{' : ','}${JSON.stringify(name)}:` : i === 0 ? '' : ','));
  const kinds = [
    ...layout.keyColumns.map((c) => [KEY_KINDS[c], keyOffset(c)] as [keyof typeof COLUMN_KINDS, number]),
    ...layout.featureIndexes.map((j) => ['feature', j] as [keyof typeof COLUMN_KINDS, number]),
  ];
  // assembly/format/index.ts COLUMN_MAX: a prefix of up to 64 bytes and a value fit in 128
  if (prefixes.some((p) => p.length > 64)) throw new Error('record formatter: a column name is too long for its prefix');

  // strings: every prefix, the suffix, the null text, the end-reason words (an unknown code reads as 'shutdown', last)
  let text = '';
  const place = (s: string): [number, number] => { const at = text.length; text += s; return [at, s.length]; };
  const prefixAt = prefixes.map(place);
  const [suffixOff, suffixLen] = place(json ? '}\n' : '\n');
  const [nullOff, nullLen] = place(json ? 'null' : '');
  const reasonAt = [...END_REASONS, 'shutdown'].map(place);

  let memory: WebAssembly.Memory | undefined;
  const instance = new WebAssembly.Instance(compileWasm(packagePath('build/netsensor-format.wasm'), 'record formatter'), {
    env: {
      hardValue(v: number, at: number): number {
        const s = formatFeature(v); // a tiny non-integer or an integer of 2^53 or more: never NaN or ±Infinity
        const u8 = new Uint8Array(memory!.buffer);
        for (let i = 0; i < s.length; i++) u8[at + i] = s.charCodeAt(i);
        return at + s.length;
      },
      abort(): never {
        throw new NetsensorError('ERR_OUTPUT', 'record formatter aborted');
      },
    },
  });
  const x = instance.exports as unknown as FormatExports;
  memory = x.memory;
  const align = (n: number) => (n + 15) & ~15;
  const configAt = align(x.heapBase());
  const programAt = configAt + 64;
  const stringsAt = programAt + kinds.length * 16;
  const reasonsAt = align(stringsAt + text.length);
  const keysAt = align(reasonsAt + reasonAt.length * 8);
  const featuresAt = keysAt + CHUNK_ROWS * KEY_RECORD.bytes;
  const outAt = align(featuresAt + CHUNK_ROWS * NUM_FEATURES * 4);
  const need = outAt + OUT_BYTES;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));

  const i32 = new Int32Array(memory.buffer);
  kinds.forEach(([kind, arg], c) => i32.set([COLUMN_KINDS[kind], arg, prefixAt[c][0], prefixAt[c][1]], (programAt >> 2) + c * 4));
  new Uint8Array(memory.buffer).set(Buffer.from(text, 'latin1'), stringsAt);
  reasonAt.forEach(([at, len], i) => i32.set([at, len], (reasonsAt >> 2) + i * 2));
  const config: Record<(typeof CONFIG)[number], number> = {
    program: programAt, columns: kinds.length, strings: stringsAt, suffixOff, suffixLen, quote: json ? 1 : 0, nullOff, nullLen,
    reasons: reasonsAt, reasonCount: reasonAt.length, keyBytes: KEY_RECORD.bytes, numFeatures: NUM_FEATURES,
  };
  i32.set(CONFIG.map((k) => config[k]), configAt >> 2);
  x.setup(configAt);
  if (x.maxRowBytes() > OUT_BYTES) throw new Error('record formatter: a row may not fit the output area');

  const u8 = new Uint8Array(memory.buffer);
  const f32 = new Float32Array(memory.buffer);
  if (!json) out.write(layout.names.join(',') + '\n');
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      for (let from = 0; from < batch.rows; from += CHUNK_ROWS) {
        const rows = Math.min(CHUNK_ROWS, batch.rows - from);
        u8.set(batch.keyBytes.subarray(from * KEY_RECORD.bytes, (from + rows) * KEY_RECORD.bytes), keysAt);
        f32.set(batch.features.subarray(from * NUM_FEATURES, (from + rows) * NUM_FEATURES), featuresAt >> 2);
        for (let done = 0; done < rows;) {
          done += x.format(keysAt + done * KEY_RECORD.bytes, featuresAt + done * NUM_FEATURES * 4, rows - done, outAt, OUT_BYTES);
          out.write(u8.subarray(outAt, outAt + x.formattedBytes()));
          if (out.closed) return;
        }
      }
    },
  };
}
