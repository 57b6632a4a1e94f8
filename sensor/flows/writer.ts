/**
 * Where flow records go: a text sink over a file or stdout that buffers writes and lets the producer wait
 * for the stream to drain (so a slow consumer bounds memory), and tolerates a closed pipe (`| head`).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { NetsensorError } from '../../common/errors.js';
import type { FlowBatch } from '../core.js';

export interface FlowWriter {
  names: string[];
  write(batch: FlowBatch): void;
}

export interface TextSink {
  write(text: string): void;
  /** resolves once buffered output is below the stream's high-water mark */
  drained(): Promise<void>;
  /** true once the reader went away (EPIPE): stop producing */
  readonly closed: boolean;
  end(): Promise<void>;
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
    write(text: string) {
      check();
      if (!closed && text.length > 0) stream.write(text);
    },
    async drained() {
      check();
      if (!closed && stream.writableNeedDrain) await Promise.race([once(stream, 'drain'), once(stream, 'close')]);
    },
    async end() {
      check();
      if (closed) return;
      if (ownsStream) {
        stream.end();
        await once(stream, 'finish');
      } else if (stream.writableNeedDrain) {
        await Promise.race([once(stream, 'drain'), once(stream, 'close')]);
      }
      check();
    },
  };
}

export async function fileSink(path: string): Promise<TextSink> {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  return streamSink(stream, true);
}
