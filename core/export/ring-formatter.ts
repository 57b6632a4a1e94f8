/**
 * Formats entries of a batch ring (batch-ring.ts) and writes them in order: claim the oldest entry, format it
 * with this thread's writer, write it once every earlier entry is written, commit. Both the formatting thread
 * and the core's thread (while it waits for room, and at the end) run one, so a burst of rows — the end of a
 * capture finishing every live flow at once — is formatted on two cores. Text made before its turn is held
 * (copied) until the turn comes; text made in its turn goes straight to the descriptor.
 */
import { BatchRing, ST_OUTPUT_CLOSED, type Claim } from './batch-ring.js';
import { flowWriterFor, type FormatOptions } from './formats.js';
import { fdSink, type FlowWriter, type TextSink } from './writer.js';

export class RingFormatter {
  private readonly sink: TurnSink;
  private readonly writer: FlowWriter;

  constructor(private readonly ring: BatchRing, fd: number, name: string, format: FormatOptions) {
    this.sink = new TurnSink(ring, fdSink(fd, name, false));
    // A CSV writer writes its header line as it is made: dropped (TurnSink outside an entry), it is written already.
    this.writer = flowWriterFor(this.sink, format);
  }

  /** Claims, formats, writes and commits one entry; false if there was none to claim. */
  formatOne(): boolean {
    const c = this.ring.claim();
    if (!c) return false;
    try {
      this.sink.claim = c;
      if (!this.sink.closed) this.writer.write(c.batch, c.firstRow);
      this.sink.finish();
    } catch (e) {
      this.ring.fail(failureText(e));
      throw e;
    }
    return true;
  }
}

/** One line of code, one of message: how BatchRing carries a failure to the other thread. */
export function failureText(e: unknown): string {
  const err = e as { code?: unknown; message?: string; stack?: string };
  return typeof err.code === 'string' && err.code.startsWith('ERR_')
    ? `${err.code}\n${err.message}`
    : `ERR_OUTPUT\nflow record formatting failed: ${err.stack ?? String(e)}`;
}

/** The writer's sink: the descriptor when it is this entry's turn, else a held copy until it is. */
class TurnSink implements TextSink {
  claim: Claim | null = null;
  private held = new Uint8Array(256 << 10); // grows to the largest entry's text
  private heldBytes = 0;

  constructor(private readonly ring: BatchRing, private readonly out: TextSink) {}

  get closed(): boolean {
    return this.out.closed || (this.ring.state() & ST_OUTPUT_CLOSED) !== 0;
  }

  write(text: string | Uint8Array): void {
    if (!this.claim) return; // the header line, made again by each thread's writer: written by the first
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    if (this.heldBytes === 0 && this.ring.isTurn(this.claim.at)) {
      this.send(bytes);
      return;
    }
    if (this.heldBytes + bytes.length > this.held.length) {
      const grown = new Uint8Array(Math.max(this.held.length * 2, this.heldBytes + bytes.length));
      grown.set(this.held.subarray(0, this.heldBytes));
      this.held = grown;
    }
    this.held.set(bytes, this.heldBytes);
    this.heldBytes += bytes.length;
  }

  /** Writes what was held once it is the entry's turn, then commits the entry. */
  finish(): void {
    const c = this.claim!;
    this.claim = null;
    if (!this.ring.waitTurn(c.at)) return; // another formatter failed: the run is over
    if (this.heldBytes > 0) this.send(this.held.subarray(0, this.heldBytes));
    this.heldBytes = 0;
    this.ring.commit(c.at, c.bytes);
  }

  private send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.out.write(bytes);
    if (this.out.closed) this.ring.raise(ST_OUTPUT_CLOSED); // the reader went away (EPIPE)
  }

  async end(): Promise<void> {}
}
