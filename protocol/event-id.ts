/**
 * UUIDv7 event ids, as `uuid`'s v7() makes them (48-bit ms time, 31-bit counter seeded randomly each
 * millisecond, so ids of one sensor are strictly increasing), with the random bytes taken from a pool filled
 * 4 KiB at a time: uuid 14 calls crypto.getRandomValues() for every id, which cost more than building the
 * event when every flow of a flood alerts.
 */
import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let at = POOL_BYTES;
let lastMs = -Infinity;
let seq = 0;

export function eventId(now = Date.now()): string {
  if (at + 16 > POOL_BYTES) { randomFillSync(pool); at = 0; }
  const random = pool.subarray(at, at + 16);
  at += 16;
  if (now > lastMs) {
    lastMs = now;
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++; // counter wrapped: borrow the next millisecond, as uuid does
  }
  return uuidv7({ random, msecs: lastMs, seq });
}
