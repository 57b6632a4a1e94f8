/**
 * Where flow records go: a text sink over a file descriptor (a file, or stdout) that writes synchronously.
 * The core emits finished flows synchronously, sometimes hundreds of thousands at once (end of input, an idle
 * sweep after a gap in the capture); a stream would queue all of them in memory when the consumer is slower.
 * A blocking write instead makes the consumer's pace the producer's: a reader that pauses pauses the whole
 * pipeline, and nothing beyond the writer's own small buffer is ever held. A closed pipe (`| head`) stops it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { NetsensorError } from '../../common/errors.js';
import type { FlowBatch } from '../host.js';

export interface FlowWriter {
  names: string[];
  /**
   * Formats and writes the batch's rows (views: valid only during the call) before returning. `firstRow`: the
   * output position of its first row (NFStream's `id` column): batches may be formatted by different threads.
   */
  write(batch: FlowBatch, firstRow: number): void;
}

export interface TextSink {
  /** Writes the bytes before returning (the caller may reuse them), waiting for a slow consumer if need be. */
  write(text: string | Uint8Array): void;
  /** true once the reader went away (EPIPE): stop producing */
  readonly closed: boolean;
  end(): Promise<void>;
}

// A descriptor inherited in non-blocking mode (a pipe another libuv program set up) answers EAGAIN when full:
// sleep briefly and retry rather than buffer.
const FULL_PIPE_WAIT_MS = 2;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function fdSink(fd: number, name: string, ownsFd: boolean): TextSink {
  let closed = false;
  const fail = (e: NodeJS.ErrnoException): never => {
    throw new NetsensorError('ERR_USAGE', `cannot write flow records to ${name}: ${e.message}`, { cause: e });
  };
  return {
    get closed() { return closed; },
    write(text: string | Uint8Array) {
      if (closed) return;
      const bytes = typeof text === 'string' ? Buffer.from(text) : text;
      let off = 0;
      while (off < bytes.length) {
        try {
          off += writeSync(fd, bytes, off, bytes.length - off);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') Atomics.wait(sleeper, 0, 0, FULL_PIPE_WAIT_MS);
          else if (code === 'EPIPE') { closed = true; return; }
          else fail(e as NodeJS.ErrnoException);
        }
      }
    },
    async end() {
      if (!ownsFd) return;
      try { closeSync(fd); } catch (e) { fail(e as NodeJS.ErrnoException); }
    },
  };
}

/**
 * Standard output is written directly to descriptor 1 (process.stdout would queue what a slow reader leaves).
 * A pipe or socket that libuv opened is non-blocking; it is switched back to blocking the way Node itself does
 * for terminals (the handle's setBlocking), so a full pipe waits in write() instead of spinning on EAGAIN.
 */
export function setStdoutBlocking(): void {
  const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (b: boolean) => number } })._handle;
  handle?.setBlocking?.(true);
}

/** Opens (creates or truncates) an output file: a clear ERR_USAGE if it cannot be. */
export function openOutput(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}
