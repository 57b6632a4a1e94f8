/**
 * Where flow records go: a text sink over a file or stdout that buffers writes and lets the producer wait
 * for the stream to drain (so a slow consumer bounds memory), and tolerates a closed pipe (`| head`).
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { NetsensorError } from '../../common/errors.js';
import type { FlowBatch } from '../host.js';

export interface FlowWriter {
  names: string[];
  write(batch: FlowBatch): void;
}

export interface TextSink {
  write(text: string | Uint8Array): void;
  /** resolves once buffered output is below the stream's high-water mark */
  drained(): Promise<void>;
  /** true once the reader went away (EPIPE): stop producing */
  readonly closed: boolean;
  end(): Promise<void>;
}

/** Resolves on 'drain' or 'close', removing both listeners either way (no listener build-up). */
function drainOrClose(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { stream.off('drain', done); stream.off('close', done); resolve(); };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

export function streamSink(stream: Writable, ownsStream: boolean): TextSink {
  let closed = false;
  let error: Error | undefined;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
    else error = e;
  });
  const check = () => {
    if (error) throw new NetsensorError('ERR_USAGE', `cannot write flow records: ${error.message}`, { cause: error });
  };
  return {
    get closed() { return closed; },
    write(text: string | Uint8Array) {
      check();
      if (!closed && text.length > 0) stream.write(text);
    },
    async drained() {
      check();
      if (!closed && stream.writableNeedDrain) await drainOrClose(stream);
    },
    async end() {
      check();
      if (closed) return;
      if (ownsStream) {
        await new Promise<void>((resolve) => stream.end(resolve));
      } else if (stream.writableNeedDrain) {
        await drainOrClose(stream);
      }
      check();
    },
  };
}

export async function fileSink(path: string): Promise<TextSink> {
  const stream = createWriteStream(path);
  try {
    await new Promise<void>((resolve, reject) => { stream.once('open', () => resolve()); stream.once('error', reject); });
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  return streamSink(stream, true);
}
