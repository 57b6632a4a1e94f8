/**
 * An ASCII output buffer that formats numbers digit by digit into reused bytes: exporting hundreds of
 * thousands of flow records × ~130 columns must not create a string per value (that garbage, not the
 * formatting, dominated the export's cost). Number formatting rules match record.ts formatFeature().
 */
import type { TextSink } from './writer.js';

/** "00" … "99" as ASCII pairs: integers are written two digits per division. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/** Decimal digits of 0 ≤ m < 2^31. */
function digitCount(m: number): number {
  if (m < 100000) return m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : m < 10000 ? 4 : 5;
  return m < 1000000 ? 6 : m < 10000000 ? 7 : m < 100000000 ? 8 : m < 1000000000 ? 9 : 10;
}
/** ASCII prefixes (column names with their punctuation) stored as little-endian 32-bit words for TextBuffer.prefix(). */
export class PrefixTable {
  readonly words: Int32Array;
  /** prefix j is words wordAt[j]..wordAt[j + 1], of which length[j] bytes count */
  readonly wordAt: Int32Array;
  readonly length: Int32Array;
  constructor(prefixes: string[]) {
    this.wordAt = new Int32Array(prefixes.length + 1);
    this.length = Int32Array.from(prefixes, (s) => s.length);
    prefixes.forEach((s, j) => { this.wordAt[j + 1] = this.wordAt[j] + Math.ceil(s.length / 4); });
    const bytes = new Uint8Array(this.wordAt[prefixes.length] * 4);
    prefixes.forEach((s, j) => bytes.set(TextBuffer.encode(s), this.wordAt[j] * 4));
    this.words = new Int32Array(bytes.buffer);
  }
}

export class TextBuffer {
  /** Writers hand the buffer to their sink once it holds this much (at a row boundary): memory stays flat. */
  static readonly FLUSH_AT = 256 << 10;
  buf = new Uint8Array(512 << 10);
  private dv = new DataView(this.buf.buffer);
  pos = 0;
  private readonly digits = new Uint8Array(24);

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  /** Bytes of an ASCII string encoded once (column prefixes). */
  static encode(s: string): Uint8Array {
    return new TextEncoder().encode(s);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i];
    this.pos = p;
  }

  /**
   * Prefix `j` of a table, copied 4 bytes at a time (JSON's `,"name":` prefixes are most of its bytes). The last
   * word may spill up to 3 bytes past the prefix: room is made for whole words, and the next write covers them.
   */
  prefix(t: PrefixTable, j: number): void {
    const from = t.wordAt[j], to = t.wordAt[j + 1];
    this.room((to - from) * 4);
    const dv = this.dv;
    const w = t.words;
    let p = this.pos;
    for (let i = from; i < to; i++, p += 4) dv.setInt32(p, w[i], true);
    this.pos += t.length[j];
  }

  /** An ASCII string (addresses, end reasons). */
  ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer below 2^53. */
  private uint(n: number): void {
    if (n < 10) {
      this.room(1);
      this.buf[this.pos++] = 48 + n;
      return;
    }
    if (n < 2147483648) { this.uint31(n | 0); return; }
    const d = this.digits;
    let k = 0;
    while (n >= 2147483648) {
      const q = Math.floor(n / 10);
      d[k++] = 48 + (n - q * 10);
      n = q;
    }
    let m = n | 0; // the rest: int32 arithmetic
    do {
      const q = (m / 10) | 0;
      d[k++] = 48 + (m - q * 10);
      m = q;
    } while (m > 0);
    this.room(k);
    const buf = this.buf;
    let p = this.pos;
    while (k > 0) buf[p++] = d[--k];
    this.pos = p;
  }

  /** 0 ≤ m < 2^31, written from its last digit back, two digits per division. */
  private uint31(m: number): void {
    const k = digitCount(m);
    this.room(k);
    const buf = this.buf;
    let p = this.pos + k;
    this.pos = p;
    while (m >= 100) {
      const q = (m / 100) | 0;
      const r = (m - q * 100) << 1;
      buf[--p] = PAIRS[r + 1];
      buf[--p] = PAIRS[r];
      m = q;
    }
    if (m >= 10) {
      buf[--p] = PAIRS[(m << 1) + 1];
      buf[--p] = PAIRS[m << 1];
    } else {
      buf[--p] = 48 + m;
    }
  }

  /** An integer (exact below 2^53; larger magnitudes via String()). */
  int(n: number): void {
    if (n < 0) {
      if (n > -9007199254740992) { this.byte(45); this.uint(-n); return; }
      this.ascii(String(n));
      return;
    }
    if (n < 9007199254740992) this.uint(n);
    else this.ascii(String(n));
  }

  /** A value with at most `decimals` fraction digits (trailing zeros dropped); |v × 10^decimals| < 2^53. */
  fixed(v: number, decimals: number, scale: number): void {
    let r = Math.round(v * scale);
    this.room(decimals + 19); // sign, up to 16 integer digits, point, fraction (uint() makes its own room beyond 2^31)
    const buf = this.buf;
    if (r < 0) { buf[this.pos++] = 45; r = -r; }
    const ip = Math.floor(r / scale);
    let frac = (r - ip * scale) | 0; // < scale ≤ 10^6; as int32, the divisions by 10 below are multiplications
    if (ip < 10) buf[this.pos++] = 48 + ip;
    else if (ip < 2147483648) this.uint31(ip | 0);
    else this.uint(ip);
    if (frac === 0) return;
    // The fraction as `decimals` digits with its leading zeros, written from the right; trailing zeros dropped.
    const out = this.buf;
    const at = this.pos;
    out[at] = 46;
    let end = at + decimals + 1;
    for (let p = end - 1; p > at; p--) {
      const q = (frac / 10) | 0;
      out[p] = 48 + (frac - q * 10);
      frac = q;
    }
    while (out[end - 1] === 48) end--;
    this.pos = end;
  }

  /** A float32 feature: see record.ts formatFeature(). `nullText` is written for NaN/±Infinity. */
  feature(v: number, nullText: Uint8Array): void {
    if (Number.isInteger(v)) { this.int(v); return; }
    if (v !== v || v === Infinity || v === -Infinity) { this.bytes(nullText); return; }
    if (v > -1e-3 && v < 1e-3) { this.ascii(String(+v.toPrecision(7))); return; }
    this.fixed(v, 6, 1e6);
  }

  /** Writes the bytes so far to a sink that consumes them before returning (no copy), then empties. */
  flushTo(out: TextSink): void {
    if (this.pos > 0) out.write(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** A copy of the bytes written so far, then empty. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}
