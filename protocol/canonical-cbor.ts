/**
 * Deterministic CBOR encoder (RFC 8949 §4.2.1 "core deterministic encoding" for the types it accepts), used for
 * everything that is signed. Written by hand (≈80 lines) so the bytes a signature covers never depend on the
 * options or the version of a general-purpose library:
 *  - integers, lengths and tags in their shortest form; definite lengths only;
 *  - map keys sorted by the bytewise order of their own encodings (so shorter text keys come first);
 *  - non-integer numbers always as IEEE 754 binary64 (major 7, 0xfb). RFC 8949 §4.2.2 lets an application
 *    profile fix one float width; we pick 64 bits so a value never changes when re-encoded;
 *  - accepted types: unsigned/negative safe integers, finite numbers, text strings, byte strings (Uint8Array),
 *    arrays, plain objects with text keys, booleans and null. `undefined` members are omitted (not encoded),
 *    anything else (Map, Date, bigint, NaN, ±Infinity) throws — a signed document has no ambiguous values.
 * Decoding uses cbor-x (any valid CBOR decodes); only the bytes that get signed must be canonical.
 */

export type CanonicalValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue | undefined };

const textEncoder = new TextEncoder();

function head(major: number, n: number, out: number[]): void {
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >>> 8, n & 0xff);
  else if (n < 0x100000000) out.push(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    out.push(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}

function pushBytes(bytes: Uint8Array, out: number[]): void {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function encodeInto(value: unknown, out: number[], path: string): void {
  if (value === null) { out.push(0xf6); return; }
  if (value === true) { out.push(0xf5); return; }
  if (value === false) { out.push(0xf4); return; }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical CBOR: ${path} is not a finite number`);
    if (Number.isSafeInteger(value)) {
      if (value >= 0) head(0, value, out);
      else head(1, -1 - value, out);
      return;
    }
    const buf = new DataView(new ArrayBuffer(8));
    buf.setFloat64(0, value);
    out.push(0xfb);
    pushBytes(new Uint8Array(buf.buffer), out);
    return;
  }
  if (typeof value === 'string') {
    const bytes = textEncoder.encode(value);
    head(3, bytes.length, out);
    pushBytes(bytes, out);
    return;
  }
  if (value instanceof Uint8Array) {
    head(2, value.length, out);
    pushBytes(value, out);
    return;
  }
  if (Array.isArray(value)) {
    head(4, value.length, out);
    value.forEach((v, i) => encodeInto(v, out, `${path}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => {
        const key: number[] = [];
        encodeInto(k, key, path);
        return { key: Uint8Array.from(key), k, v };
      })
      .sort((a, b) => compareBytes(a.key, b.key));
    head(5, entries.length, out);
    for (const e of entries) {
      pushBytes(e.key, out);
      encodeInto(e.v, out, `${path}.${e.k}`);
    }
    return;
  }
  throw new TypeError(`canonical CBOR: unsupported value at ${path}`);
}

/** The one deterministic encoding of `value`: equal values always give equal bytes. */
export function encodeCanonical(value: CanonicalValue): Uint8Array {
  const out: number[] = [];
  encodeInto(value, out, '$');
  return Uint8Array.from(out);
}
