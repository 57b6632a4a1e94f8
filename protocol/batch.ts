/**
 * Event batches built from events already encoded: the sensor's outbox keeps each event's CBOR, and a batch
 * on the wire is the envelope of protocol/event.ts around those bytes as they are. The gateway decodes it with
 * decodeBatch() like any other batch — it cannot tell the two encoders apart, which the tests check.
 */
import { encodeBatch } from './event.js';

/** Room for the batch envelope (v, sensor, seq, array header) around the events' own bytes. */
export const BATCH_ENVELOPE_BYTES = 512;

/**
 * encodeBatch({ v: 1, sensor, seq, events }) byte for byte, from the events' stored encodings: the envelope
 * with an empty array (its last byte, 0x80), that byte replaced by the array's header, then the bodies as they
 * are. Decoding every row only to encode it again was a third of the publisher's CPU.
 */
export function encodeStoredBatch(sensor: string, seq: number, bodies: readonly Uint8Array[]): Buffer {
  const head = encodeBatch({ v: 1, sensor, seq, events: [] });
  const n = bodies.length;
  const arr = n < 24 ? [0x80 | n] : n < 256 ? [0x98, n] : n < 65536 ? [0x99, n >>> 8, n & 255] : [0x9a, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  let bytes = head.length - 1 + arr.length;
  for (const b of bodies) bytes += b.length;
  const out = Buffer.allocUnsafe(bytes);
  head.copy(out, 0, 0, head.length - 1);
  let at = head.length - 1;
  for (const x of arr) out[at++] = x;
  for (const b of bodies) { out.set(b, at); at += b.length; }
  return out;
}
