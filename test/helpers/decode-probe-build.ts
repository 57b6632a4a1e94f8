/**
 * Compiles test/helpers/decode-probe.ts (AssemblyScript) with asc and wraps it: decode(frame) → every field the
 * decoders filled, plus the event counters by name. Lets decoder tests assert decoded values directly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import { CORE_COUNTERS, type CoreCounterName } from '../../core/decoder-events.ts';

export const PROBE_FIELDS = [
  'vlanId', 'vlanCount', 'ipVersion', 'ipTotalLen', 'ipHeaderLen', 'isFragment', 'isLaterFragment', 'protocol',
  'srcPort', 'dstPort', 'l4HeaderLen', 'payloadLen', 'tcpFlags', 'tcpWindow', 'tcpMss', 'tcpWscale', 'icmpType',
  'icmpCode', 'isDns', 'dnsQr', 'dnsQtype', 'dnsRcode', 'dnsAncount', 'dnsQnameLen', 'dnsQnameLabels',
  'dnsQnameMaxLabel', 'dnsQnameEntropy',
] as const;
export type Decoded = Record<(typeof PROBE_FIELDS)[number], number> & { ok: boolean; src: string; dst: string };

type Fn = (...a: number[]) => number;

export interface DecodeProbe {
  decode(data: Uint8Array, linktype: number, wirelen?: number): Decoded;
  counter(name: CoreCounterName): number;
  counters(): Record<string, number>;
  /** Decodes `data` n times inside WASM; returns how many decoded (for measuring decoder cost alone). */
  repeat(data: Uint8Array, linktype: number, n: number): number;
}

export async function buildDecodeProbe(): Promise<DecodeProbe> {
  const dir = mkdtempSync(join(tmpdir(), 'decode-probe-'));
  const out = join(dir, 'probe.wasm');
  const entry = fileURLToPath(new URL('./decode-probe.ts', import.meta.url));
  let stderr = '';
  try {
    const { error } = await asc.main(
      [entry, '-o', out, '--runtime', 'stub', '-O3', '--noAssert', '--enable', 'simd,bulk-memory'],
      { stderr: { write: (s: string | Uint8Array) => { stderr += String(s); return true; } } as never },
    );
    if (error) throw new Error(`asc failed: ${error.message}\n${stderr}`);
    const bytes = readFileSync(out);
    const { instance } = await WebAssembly.instantiate(bytes, {
      env: { abort: () => { throw new Error('wasm abort'); } },
    });
    return wrap(instance);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function address(mem: Uint8Array, v4: boolean): string {
  if (v4) return Array.from(mem.subarray(12, 16)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((mem[i] << 8) | mem[i + 1]).toString(16));
  return groups.join(':');
}

function wrap(instance: WebAssembly.Instance): DecodeProbe {
  const x = instance.exports as unknown as Record<string, Fn>;
  const memory = instance.exports.memory as WebAssembly.Memory;
  const counters = () => new BigUint64Array(memory.buffer, x.countersPtr(), x.numCounters());
  const load = (data: Uint8Array) => {
    if (data.length > x.frameBytes()) throw new Error('frame too large for the probe');
    new Uint8Array(memory.buffer, x.framePtr(), data.length).set(data);
  };
  return {
    repeat(data, linktype, n) {
      load(data);
      return x.decodeRepeat(data.length, data.length, linktype, n);
    },
    decode(data, linktype, wirelen) {
      load(data);
      const ok = x.decode(data.length, wirelen ?? data.length, linktype) === 1;
      const d = { ok } as Decoded;
      PROBE_FIELDS.forEach((name, i) => { d[name] = x.field(i); });
      const v4 = d.ipVersion === 4;
      d.src = address(new Uint8Array(memory.buffer, x.srcPtr(), 16), v4);
      d.dst = address(new Uint8Array(memory.buffer, x.dstPtr(), 16), v4);
      return d;
    },
    counter(name) {
      return Number(counters()[CORE_COUNTERS.indexOf(name)]);
    },
    counters() {
      const out: Record<string, number> = {};
      counters().forEach((v, i) => { if (v !== 0n) out[CORE_COUNTERS[i]] = Number(v); });
      return out;
    },
  };
}
