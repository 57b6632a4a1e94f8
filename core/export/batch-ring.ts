/**
 * A ring of flow batches in a SharedArrayBuffer: how `netsensor flows` hands the core's rows to the threads
 * that format them (format-thread.ts). One producer copies a batch's key records and feature values in once;
 * consumers *claim* entries in order, read them in place, and *commit* them in the same order (a consumer waits
 * for the entries before its own to be written first), so the output is the rows in the core's order whoever
 * formatted them. The ring's size is fixed, so memory stays bounded: a producer that finds no room waits (or
 * formats an entry itself) until the oldest entry is committed — a slow reader of the output stalls the core
 * exactly as a blocking write did.
 *
 * Layout: a control block of Int32 words, a text area for a consumer's error message, then the data area.
 * HEAD, CLAIM and TAIL are byte counters that wrap at 2^32 (the data area is a power of two, so `counter & mask`
 * is the position), TAIL ≤ CLAIM ≤ HEAD. An entry is [rows i32, entry bytes i32, first row's output position f64,
 * key records, feature values], 16-byte aligned (so padding always has room for a header) and never split
 * across the end: where it would not fit, a padding entry (rows −1) fills the rest.
 */
import { KEY_RECORD } from '../abi.js';
import { NUM_FEATURES } from '../schema.js';
import { CoreBatch, type FlowBatch } from '../host.js';

const HEAD = 0; // bytes written by the producer
const CLAIM = 1; // bytes claimed by consumers
const TAIL = 2; // bytes committed (written out): free again
const STATE = 3; // ST_* bits
// Wake-up words, bumped on every change a side may wait for: a side reads its word, checks, then waits on the
// value it read, so a change between the check and the wait is never missed.
const ON_PUT = 4; // HEAD moved or STATE changed: consumers wait on it for work
const ON_COMMIT = 5; // TAIL moved or STATE changed: the producer waits on it for room, consumers for their turn
const CTRL_BYTES = 64;
const ERROR_TEXT_BYTES = 1024;
const DATA_AT = CTRL_BYTES + ERROR_TEXT_BYTES;
const ENTRY_HEADER = 16;

/** STATE bits: the producer has finished; the output's reader went away; a consumer failed (message in the text area). */
export const ST_DONE = 1;
export const ST_OUTPUT_CLOSED = 2;
export const ST_FAILED = 4;

const ROW_BYTES = KEY_RECORD.bytes + NUM_FEATURES * 4;
/** Rows per entry: small enough that two threads can share the work of one large batch. */
const ROWS_PER_ENTRY = 512;
const align16 = (n: number) => (n + 15) & ~15;

/** A claimed entry: its batch (views valid until it is committed) and where it sits. */
export interface Claim {
  readonly batch: FlowBatch;
  /** output position of its first row */
  readonly firstRow: number;
  /** CLAIM counter value at its start: its turn comes when TAIL reaches it */
  readonly at: number;
  readonly bytes: number;
}

export class BatchRing {
  readonly ctrl: Int32Array;
  private readonly size: number;
  private readonly mask: number;
  private readonly maxRows: number;

  /** `sab` from BatchRing.allocate(); every thread wraps the same buffer. */
  constructor(readonly sab: SharedArrayBuffer) {
    this.ctrl = new Int32Array(sab, 0, CTRL_BYTES / 4);
    this.size = sab.byteLength - DATA_AT;
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0) throw new Error(`batch ring: data area of ${this.size} bytes is not a power of two`);
    this.mask = this.size - 1;
    // at most a quarter of the ring per entry, so the producer never waits for more room than there is
    this.maxRows = Math.max(1, Math.min(ROWS_PER_ENTRY, Math.floor((this.size / 4 - ENTRY_HEADER) / ROW_BYTES)));
  }

  static allocate(dataBytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(DATA_AT + dataBytes);
  }

  state(): number {
    return Atomics.load(this.ctrl, STATE);
  }

  /** Sets state bits and wakes every waiter. */
  raise(bits: number): void {
    Atomics.or(this.ctrl, STATE, bits);
    this.wake(ON_PUT);
    this.wake(ON_COMMIT);
  }

  private wake(word: number): void {
    Atomics.add(this.ctrl, word, 1);
    Atomics.notify(this.ctrl, word);
  }

  // ---- producer --------------------------------------------------------------------------------------------

  /**
   * Copies the batch's rows in (several entries if it is large). Without room it calls `help` (format one
   * claimed entry; false if there was none to claim) and else waits. Returns false, having copied what it could,
   * once the consumers stop (output closed, or failed: see state()).
   */
  put(batch: FlowBatch, firstRow: number, help: () => boolean): boolean {
    for (let from = 0; from < batch.rows; from += this.maxRows) {
      if (!this.putRows(batch, from, Math.min(batch.rows, from + this.maxRows), firstRow + from, help)) return false;
    }
    return true;
  }

  private putRows(batch: FlowBatch, from: number, to: number, firstRow: number, help: () => boolean): boolean {
    const rows = to - from;
    const keyBytes = rows * KEY_RECORD.bytes;
    const need = align16(ENTRY_HEADER + keyBytes + rows * NUM_FEATURES * 4);
    const head = Atomics.load(this.ctrl, HEAD);
    const at = head & this.mask;
    const pad = this.size - at < need ? this.size - at : 0;
    if (!this.waitForRoom(head, pad + need, help)) return false;
    let h = head;
    if (pad > 0) {
      this.header(at, -1, pad, 0);
      h = (h + pad) | 0;
    }
    const p = h & this.mask;
    this.header(p, rows, need, firstRow);
    new Uint8Array(this.sab, DATA_AT + p + ENTRY_HEADER, keyBytes)
      .set(batch.keyBytes.subarray(from * KEY_RECORD.bytes, to * KEY_RECORD.bytes));
    new Float32Array(this.sab, DATA_AT + p + ENTRY_HEADER + keyBytes, rows * NUM_FEATURES)
      .set(batch.features.subarray(from * NUM_FEATURES, to * NUM_FEATURES));
    Atomics.store(this.ctrl, HEAD, (h + need) | 0);
    this.wake(ON_PUT);
    return true;
  }

  private waitForRoom(head: number, need: number, help: () => boolean): boolean {
    for (;;) {
      const seen = Atomics.load(this.ctrl, ON_COMMIT);
      if (this.state() & (ST_OUTPUT_CLOSED | ST_FAILED)) return false;
      const tail = Atomics.load(this.ctrl, TAIL);
      if (this.size - ((head - tail) >>> 0) >= need) return true;
      if (!help()) Atomics.wait(this.ctrl, ON_COMMIT, seen);
    }
  }

  private header(at: number, rows: number, bytes: number, firstRow: number): void {
    const w = new Int32Array(this.sab, DATA_AT + at, 2);
    w[0] = rows;
    w[1] = bytes;
    new Float64Array(this.sab, DATA_AT + at + 8, 1)[0] = firstRow;
  }

  // ---- consumers -------------------------------------------------------------------------------------------

  /** The oldest unclaimed entry, now this caller's; null if there is none (or the consumers failed). */
  claim(): Claim | null {
    for (;;) {
      if (this.state() & ST_FAILED) return null;
      const c = Atomics.load(this.ctrl, CLAIM);
      if (c === Atomics.load(this.ctrl, HEAD)) return null;
      const p = c & this.mask;
      const [rows, bytes] = new Int32Array(this.sab, DATA_AT + p, 2);
      if (Atomics.compareExchange(this.ctrl, CLAIM, c, (c + bytes) | 0) !== c) continue; // the other consumer took it
      if (rows < 0) {
        // padding: nothing to write, but it is committed in its turn like any entry
        this.waitTurn(c);
        this.commit(c, bytes);
        continue;
      }
      const firstRow = new Float64Array(this.sab, DATA_AT + p + 8, 1)[0];
      const at = DATA_AT + p + ENTRY_HEADER; // read in place
      const batch = new CoreBatch(rows, new Float32Array(this.sab, at + rows * KEY_RECORD.bytes, rows * NUM_FEATURES),
        new Uint8Array(this.sab, at, rows * KEY_RECORD.bytes));
      return { batch, firstRow, at: c, bytes };
    }
  }

  /** Waits until there is an entry to claim (true) or the producer is done and all is claimed (false). */
  waitForWork(): boolean {
    for (;;) {
      const seen = Atomics.load(this.ctrl, ON_PUT);
      if (this.state() & ST_FAILED) return false;
      if (Atomics.load(this.ctrl, CLAIM) !== Atomics.load(this.ctrl, HEAD)) return true;
      if (this.state() & ST_DONE) return false;
      Atomics.wait(this.ctrl, ON_PUT, seen);
    }
  }

  /** Whether every entry before the one claimed at `at` is committed: its bytes may be written now. */
  isTurn(at: number): boolean {
    return Atomics.load(this.ctrl, TAIL) === at;
  }

  /** Waits for the turn of the entry claimed at `at`; false if the consumers failed meanwhile. */
  waitTurn(at: number): boolean {
    for (;;) {
      const seen = Atomics.load(this.ctrl, ON_COMMIT);
      if (Atomics.load(this.ctrl, TAIL) === at) return true;
      if (this.state() & ST_FAILED) return false;
      Atomics.wait(this.ctrl, ON_COMMIT, seen);
    }
  }

  /** Frees the entry claimed at `at` (its turn: see waitTurn). */
  commit(at: number, bytes: number): void {
    Atomics.store(this.ctrl, TAIL, (at + bytes) | 0);
    this.wake(ON_COMMIT);
  }

  /** Records why formatting stopped, for the producer's error, and wakes everyone. */
  fail(message: string): void {
    if (this.state() & ST_FAILED) return; // the first failure is the one to report
    const text = new TextEncoder().encode(message).subarray(0, ERROR_TEXT_BYTES - 4);
    new DataView(this.sab, CTRL_BYTES).setUint32(0, text.length, true);
    new Uint8Array(this.sab, CTRL_BYTES + 4, text.length).set(text);
    this.raise(ST_FAILED);
  }

  failure(): string {
    const n = new DataView(this.sab, CTRL_BYTES).getUint32(0, true);
    return Buffer.from(new Uint8Array(this.sab, CTRL_BYTES + 4, n)).toString('utf8');
  }
}
