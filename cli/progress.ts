/**
 * Progress of long CLI work on stderr — only when stderr is a terminal, so pipes, files and the one-line JSON
 * summary stay clean. One line rewritten in place at most four times a second, erased when the work is done.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';

export interface Progress {
  /** false when stderr is not a terminal: nothing is shown, callers need not compute figures. */
  active: boolean;
  /** File bytes read so far (for the percentage). */
  bytes(n: number): void;
  update(packets: number, flows: number): void;
  done(): void;
}

const QUIET: Progress = { active: false, bytes() {}, update() {}, done() {} };

/** Size of a plain (not gzip) capture file, for a percentage; undefined for stdin and compressed files. */
function plainSize(path: string): number | undefined {
  if (path === '-') return undefined;
  try {
    const fd = openSync(path, 'r');
    const head = Buffer.alloc(2);
    try { readSync(fd, head, 0, 2, 0); } finally { closeSync(fd); }
    return head[0] === 0x1f && head[1] === 0x8b ? undefined : statSync(path).size;
  } catch {
    return undefined; // the reader reports what is wrong with the file
  }
}

export function progress(label: string, path: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return QUIET;
  const size = plainSize(path);
  const t0 = Date.now();
  let last = 0, shown = false, read = 0;
  return {
    active: true,
    bytes(n: number) { read = n; },
    update(packets: number, flows: number) {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      const pct = size && read > 0 ? ` ${Math.min(99, Math.floor((read * 100) / size))}%` : '';
      stream.write(`\r\x1b[K${label}${pct}  ${packets.toLocaleString('en')} packets  ${flows.toLocaleString('en')} flows  ${Math.round((now - t0) / 1000)} s`);
      shown = true;
    },
    done() { if (shown) stream.write('\r\x1b[K'); },
  };
}
