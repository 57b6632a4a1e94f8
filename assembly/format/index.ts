/**
 * The record formatter: flow rows (key records + float32 features, as the core emits them) → the text of
 * `netsensor flows --format jsonl|csv`. A module of its own (build/netsensor-format.wasm), so each formatting
 * thread instantiates one.
 *
 * JS describes the columns once (core/export/wasm-format.ts): a program of column ops, each a prefix (`,` or
 * `,"name":`) and what to write after it. Numbers follow record.ts formatFeature(): integers as integers, other
 * values rounded to 6 decimals with trailing zeros dropped, times to 3. Two rare cases go back to JS through the
 * import `hardValue` (String() and toPrecision() semantics): non-integers below 10^-3 in magnitude and integers of
 * 2^53 or more. Plain code, no allocation: the caller owns every buffer and passes pointers.
 */

// @ts-ignore: decorator
@external("env", "hardValue")
/** Writes JS's text for v at `at` and returns the position after it. */
declare function hardValue(v: f64, at: usize): usize;

// Column kinds (core/export/wasm-format.ts COLUMN_KINDS).
const K_ADDR: i32 = 0; // 16-byte address at key offset `arg`: IPv4-mapped as a dotted quad, else RFC 5952
const K_U16: i32 = 1;
const K_U8: i32 = 2;
const K_TIME: i32 = 3; // f64 ms at key offset, to 3 decimals
const K_F64_INT: i32 = 4; // f64 integer at key offset
const K_END_REASON: i32 = 5; // u8 code at key offset → one of the reason words
const K_FEATURE: i32 = 6; // float32 feature number `arg`

/** Longest text one column can add (a prefix of up to PREFIX_MAX bytes and a value). */
const COLUMN_MAX: usize = 128;

// Set by setup() from the config block (layout in core/export/wasm-format.ts CONFIG).
let progPtr: usize = 0; // i32 × 4 per column: kind, arg, prefix offset, prefix length (offsets into strings)
let columns: i32 = 0;
let stringsPtr: usize = 0;
let suffixOff: i32 = 0;
let suffixLen: i32 = 0;
let quote: bool = false;
let nullOff: i32 = 0;
let nullLen: i32 = 0;
let reasonsPtr: usize = 0; // i32 × 2 per reason: offset, length
let reasons: i32 = 0;
let keyBytes: usize = 0;
let numFeatures: usize = 0;
let rowMax: usize = 0;

let written: usize = 0;

export function setup(config: usize): void {
  progPtr = <usize>load<i32>(config, 0);
  columns = load<i32>(config, 4);
  stringsPtr = <usize>load<i32>(config, 8);
  suffixOff = load<i32>(config, 12);
  suffixLen = load<i32>(config, 16);
  quote = load<i32>(config, 20) != 0;
  nullOff = load<i32>(config, 24);
  nullLen = load<i32>(config, 28);
  reasonsPtr = <usize>load<i32>(config, 32);
  reasons = load<i32>(config, 36);
  keyBytes = <usize>load<i32>(config, 40);
  numFeatures = <usize>load<i32>(config, 44);
  rowMax = <usize>columns * COLUMN_MAX + <usize>suffixLen;
}

/** Bytes written by the last format() call. */
export function formattedBytes(): usize {
  return written;
}

/** The longest row's text: format() needs at least this much room to make progress. */
export function maxRowBytes(): usize {
  return rowMax;
}

/** Formats rows [0, rows) into out (capacity cap) until the next row might not fit; returns the rows done. */
export function format(keys: usize, features: usize, rows: i32, out: usize, cap: usize): i32 {
  let p = out;
  const end = out + cap;
  let r: i32 = 0;
  for (; r < rows; r++) {
    if (p + rowMax > end) break;
    const k = keys + <usize>r * keyBytes;
    const f = features + <usize>r * numFeatures * 4;
    for (let c: i32 = 0; c < columns; c++) {
      const op = progPtr + (<usize>c << 4);
      const kind = load<i32>(op);
      const arg = <usize>load<i32>(op, 4);
      p = copyShort(p, stringsPtr + <usize>load<i32>(op, 8), <usize>load<i32>(op, 12));
      if (kind == K_FEATURE) p = feature(p, <f64>load<f32>(f + (arg << 2)));
      else if (kind == K_U16) p = uint31(p, <u32>load<u16>(k + arg));
      else if (kind == K_F64_INT) p = integer(p, load<f64>(k + arg));
      else if (kind == K_TIME) p = fixed(p, load<f64>(k + arg), 3, 1e3);
      else if (kind == K_ADDR) {
        if (quote) store<u8>(p++, 34);
        p = address(p, k + arg);
        if (quote) store<u8>(p++, 34);
      } else if (kind == K_U8) p = uint31(p, <u32>load<u8>(k + arg));
      else if (kind == K_END_REASON) {
        let code = <i32>load<u8>(k + arg);
        if (code >= reasons) code = reasons - 1; // an unknown code reads as the last word ('shutdown')
        if (quote) store<u8>(p++, 34);
        const rs = reasonsPtr + (<usize>code << 3);
        p = copyShort(p, stringsPtr + <usize>load<i32>(rs), <usize>load<i32>(rs, 4));
        if (quote) store<u8>(p++, 34);
      }
    }
    p = copyShort(p, stringsPtr + <usize>suffixOff, <usize>suffixLen);
  }
  written = p - out;
  return r;
}

/**
 * Copies a short string (a prefix: 0–64 bytes) 8 bytes at a time; memory.copy's call costs more than such a copy.
 * May write up to 7 bytes past the end: the next write covers them, and rowMax leaves room.
 */
// @ts-ignore: decorator
@inline function copyShort(p: usize, from: usize, n: usize): usize {
  for (let i: usize = 0; i < n; i += 8) store<u64>(p + i, load<u64>(from + i));
  return p + n;
}

/** Math.round as JavaScript does it: the nearest integer, halves toward +∞ (exact: x − floor(x) is). */
// @ts-ignore: decorator
@inline function jsRound(x: f64): f64 {
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

/** A float32 feature (record.ts formatFeature; JSON's null or CSV's empty cell for NaN and ±Infinity). */
function feature(p: usize, v: f64): usize {
  if (v == 0) { // most features of most flows: -0 too, which JS also writes as 0
    store<u8>(p, 48);
    return p + 1;
  }
  if (v != v || v == Infinity || v == -Infinity) {
    return copyShort(p, stringsPtr + <usize>nullOff, <usize>nullLen);
  }
  if (Math.trunc(v) == v) return integer(p, v);
  if (v > -1e-3 && v < 1e-3) return hardValue(v, p);
  return fixed(p, v, 6, 1e6);
}

/** An integral double: exact below 2^53, larger magnitudes as JS writes them. */
function integer(p: usize, n: f64): usize {
  if (n >= 9007199254740992.0 || n <= -9007199254740992.0) return hardValue(n, p);
  if (n < 0) {
    store<u8>(p++, 45);
    n = -n;
  }
  return uint53(p, <u64>n);
}

/**
 * A value rounded to `decimals` (3 or 6) fraction digits, trailing zeros dropped: the digits of
 * String(Math.round(v × scale) / scale), made from the rounded integer (|v × scale| < 2^53).
 */
function fixed(p: usize, v: f64, decimals: i32, scale: f64): usize {
  let r = jsRound(v * scale);
  if (r < 0) {
    store<u8>(p++, 45);
    r = -r;
  }
  // r is an integer below 2^53: its integer and fraction parts by integer division (exact, and cheaper than f64's)
  const ri = <u64>r;
  const s = <u64>scale;
  const ip = ri / s;
  let frac = <i32>(ri - ip * s);
  p = uint53(p, ip);
  if (frac == 0) return p;
  // the fraction as `decimals` (3 or 6) digits with leading zeros, two at a time from the right; trailing zeros dropped
  store<u8>(p, 46);
  let e = p + <usize>decimals + 1;
  let q = e;
  if (decimals == 3) {
    store<u8>(--q, <u8>(48 + frac % 10));
    frac /= 10;
  }
  while (q > p + 1) {
    const d = frac / 100;
    q -= 2;
    store<u16>(q, load<u16>(PAIRS + (<usize>(frac - d * 100) << 1)));
    frac = d;
  }
  while (load<u8>(e - 1) == 48) e--;
  return e;
}

/** 0 ≤ m < 2^53 in decimal: above 2^31 (timestamps) as the digits of m / 10^8, then 8 digits of the rest. */
function uint53(p: usize, m: u64): usize {
  if (m < 0x80000000) return uint31(p, <u32>m);
  const hi = m / 100000000;
  let lo = <u32>(m - hi * 100000000);
  p = uint31(p, <u32>hi);
  for (let q = p + 8; q > p;) {
    const d = lo / 100;
    q -= 2;
    store<u16>(q, load<u16>(PAIRS + (<usize>(lo - d * 100) << 1)));
    lo = d;
  }
  return p + 8;
}

/** "00" … "99" as ASCII pairs: two digits per division. */
const PAIRS: usize = memory.data<u8>([
  48, 48, 48, 49, 48, 50, 48, 51, 48, 52, 48, 53, 48, 54, 48, 55, 48, 56, 48, 57, 49, 48, 49, 49, 49, 50, 49, 51, 49, 52, 49, 53, 49, 54, 49, 55, 49, 56, 49, 57,
  50, 48, 50, 49, 50, 50, 50, 51, 50, 52, 50, 53, 50, 54, 50, 55, 50, 56, 50, 57, 51, 48, 51, 49, 51, 50, 51, 51, 51, 52, 51, 53, 51, 54, 51, 55, 51, 56, 51, 57,
  52, 48, 52, 49, 52, 50, 52, 51, 52, 52, 52, 53, 52, 54, 52, 55, 52, 56, 52, 57, 53, 48, 53, 49, 53, 50, 53, 51, 53, 52, 53, 53, 53, 54, 53, 55, 53, 56, 53, 57,
  54, 48, 54, 49, 54, 50, 54, 51, 54, 52, 54, 53, 54, 54, 54, 55, 54, 56, 54, 57, 55, 48, 55, 49, 55, 50, 55, 51, 55, 52, 55, 53, 55, 54, 55, 55, 55, 56, 55, 57,
  56, 48, 56, 49, 56, 50, 56, 51, 56, 52, 56, 53, 56, 54, 56, 55, 56, 56, 56, 57, 57, 48, 57, 49, 57, 50, 57, 51, 57, 52, 57, 53, 57, 54, 57, 55, 57, 56, 57, 57,
]);

/** 0 ≤ m < 2^32 in decimal, written from its last digits back, two per division. */
function uint31(p: usize, m: u32): usize {
  if (m < 10) {
    store<u8>(p, <u8>(48 + m));
    return p + 1;
  }
  const n = digits(m);
  let q = p + n;
  while (m >= 100) {
    const d = m / 100;
    q -= 2;
    store<u16>(q, load<u16>(PAIRS + (<usize>(m - d * 100) << 1)));
    m = d;
  }
  if (m >= 10) store<u16>(q - 2, load<u16>(PAIRS + (<usize>m << 1)));
  else store<u8>(q - 1, <u8>(48 + m));
  return p + n;
}

// @ts-ignore: decorator
@inline function digits(m: u32): usize {
  if (m < 100000) return m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : m < 10000 ? 4 : 5;
  return m < 1000000 ? 6 : m < 10000000 ? 7 : m < 100000000 ? 8 : m < 1000000000 ? 9 : 10;
}

/** core/host.ts formatAddress(): IPv4-mapped → dotted quad; else RFC 5952 (lowercase, longest zero run ≥ 2 as ::). */
function address(p: usize, a: usize): usize {
  if (load<u64>(a) == 0 && load<u32>(a, 8) == 0xffff0000) {
    p = uint31(p, <u32>load<u8>(a, 12));
    store<u8>(p++, 46);
    p = uint31(p, <u32>load<u8>(a, 13));
    store<u8>(p++, 46);
    p = uint31(p, <u32>load<u8>(a, 14));
    store<u8>(p++, 46);
    return uint31(p, <u32>load<u8>(a, 15));
  }
  let best: i32 = -1, bestLen: i32 = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i: i32 = 0; i < 8;) {
    if (group(a, i) != 0) { i++; continue; }
    let j = i;
    while (j < 8 && group(a, j) == 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  for (let i: i32 = 0; i < 8; i++) {
    if (i == best) {
      store<u8>(p++, 58);
      store<u8>(p++, 58);
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i != best + bestLen) store<u8>(p++, 58);
    p = hex(p, group(a, i));
  }
  return p;
}

// @ts-ignore: decorator
@inline function group(a: usize, i: i32): u32 {
  return (<u32>load<u8>(a + (<usize>i << 1)) << 8) | <u32>load<u8>(a + (<usize>i << 1) + 1);
}

function hex(p: usize, w: u32): usize {
  let shift: i32 = w >= 0x1000 ? 12 : w >= 0x100 ? 8 : w >= 0x10 ? 4 : 0;
  for (; shift >= 0; shift -= 4) {
    const d = (w >> <u32>shift) & 15;
    store<u8>(p++, <u8>(d < 10 ? 48 + d : 87 + d));
  }
  return p;
}

/** Where the caller's buffers may start (the module's own data ends here). */
export function heapBase(): usize {
  return __heap_base;
}
