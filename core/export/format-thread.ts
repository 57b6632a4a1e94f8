/**
 * Where `netsensor flows` formats its records: in line, or (`--threads 2`) on a second thread once a capture
 * proves large. Then the core's thread copies each batch of rows into a shared ring (batch-ring.ts) and goes on
 * with the next packets while the formatting thread (format-worker.ts) turns the rows into text and writes them.
 * When the ring is full — the end of a capture finishes every live flow at once — the core's thread formats
 * entries too (ring-formatter.ts), so such a burst uses two cores. Same writers, same order, same bytes as
 * formatting in line; what changes is that reading, decoding and flow-keeping overlap with formatting. Memory
 * stays bounded by the ring, and a slow reader of the output stalls everything, as a blocking write does.
 *
 * The first THREAD_AFTER_ROWS rows are formatted in line: a thread costs ≈ 0.1 s to start and ≈ 12 MiB, more
 * than a small capture's whole formatting.
 */
import { Worker } from 'node:worker_threads';
import { NetsensorError, type ErrorCode } from '../../common/errors.js';
import type { FlowBatch } from '../host.js';
import { BatchRing, ST_DONE, ST_FAILED, ST_OUTPUT_CLOSED } from './batch-ring.js';
import { flowWriterFor, type FormatOptions } from './formats.js';
import { RingFormatter } from './ring-formatter.js';
import { fdSink, type FlowWriter, type TextSink } from './writer.js';

/** Room for several ring entries (512 rows ≈ 0.3 MB each): enough to keep both threads busy. */
export const FORMAT_RING_BYTES = 2 << 20;
/** Rows formatted in line before the formatting thread starts (the default). */
export const THREAD_AFTER_ROWS = 16_384;

export interface FormatOutput {
  /** an open descriptor (a file, or 1 for standard output already set to blocking) */
  fd: number;
  /** for error messages */
  name: string;
  /** close the descriptor at the end */
  ownsFd: boolean;
}

interface Threaded {
  ring: BatchRing;
  formatter: RingFormatter;
  worker: Worker;
  exited: Promise<number>;
  crash?: Error;
}

export class FormatThread {
  private readonly direct: TextSink;
  private readonly inline: FlowWriter;
  private rows = 0;
  private threaded: Threaded | undefined;

  /** `threads`: 1 formats every row in line (no second thread); `threadAfterRows`: rows formatted in line first. */
  constructor(private readonly out: FormatOutput, private readonly format: FormatOptions, private readonly threads: 1 | 2 = 2,
    private readonly threadAfterRows = THREAD_AFTER_ROWS) {
    this.direct = fdSink(out.fd, out.name, out.ownsFd); // closes the descriptor in end() if it owns it
    this.inline = flowWriterFor(this.direct, format); // writes the header line, if the format has one
  }

  /** true once the output's reader went away: stop producing. */
  get closed(): boolean {
    const t = this.threaded;
    return this.direct.closed || (t !== undefined && (t.ring.state() & ST_OUTPUT_CLOSED) !== 0);
  }

  /** Formats the batch's rows, or hands them over (copied: the views may be reused after the call). */
  write(batch: FlowBatch): void {
    if (!this.threaded) {
      if (this.threads === 1 || this.rows < this.threadAfterRows) {
        this.inline.write(batch, this.rows);
        this.rows += batch.rows;
        return;
      }
      this.threaded = this.startThread();
    }
    const t = this.threaded;
    const firstRow = this.rows;
    this.rows += batch.rows;
    if (!t.ring.put(batch, firstRow, () => t.formatter.formatOne())) this.throwIfFailed(t);
  }

  private startThread(): Threaded {
    const sab = BatchRing.allocate(FORMAT_RING_BYTES);
    const ring = new BatchRing(sab);
    // The header and the first rows are written: neither thread's ring writer writes a header.
    const formatter = new RingFormatter(ring, this.out.fd, this.out.name, this.format);
    const workerData = { ring: sab, fd: this.out.fd, name: this.out.name, format: this.format };
    const worker = import.meta.url.endsWith('.ts')
      // Run from the sources (tests, through tsx): a worker does not inherit tsx's loader, so it registers it first.
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./format-worker.ts', import.meta.url).href)}); })`, { eval: true, workerData })
      : new Worker(new URL('./format-worker.js', import.meta.url), { workerData });
    const t: Threaded = { ring, formatter, worker, exited: new Promise((resolve) => worker.once('exit', resolve)) };
    worker.on('error', (e) => { t.crash = e; ring.raise(ST_FAILED); });
    return t;
  }

  /** Formats what is left alongside the other thread, waits until everything is written, closes the output. */
  async end(): Promise<void> {
    const t = this.threaded;
    try {
      if (t) {
        t.ring.raise(ST_DONE);
        try {
          while (t.formatter.formatOne());
        } finally {
          await t.exited;
        }
      }
    } finally {
      await this.direct.end();
    }
    if (t) this.throwIfFailed(t);
  }

  private throwIfFailed(t: Threaded): void {
    if (!(t.ring.state() & ST_FAILED)) return;
    if (t.crash) throw new NetsensorError('ERR_OUTPUT', `flow record formatting failed: ${t.crash.message}`, { cause: t.crash });
    const [code, ...message] = t.ring.failure().split('\n');
    throw new NetsensorError(code as ErrorCode, message.join('\n'));
  }
}
