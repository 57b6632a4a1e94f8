/**
 * The highest command sequence number the sensor accepted, kept on disk (fsync + rename) before the command
 * acts: a replayed command is refused after a restart as well, and a crash can only lose an action, never
 * admit a command twice.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from '../../common/dirs.js';

export class ReplayGuard {
  private last: number;
  private readonly file: string;

  constructor(dir: string) {
    makeDirs(dir, 0o700);
    this.file = join(dir, 'response-seq.json');
    let seq = 0;
    try {
      const v = (JSON.parse(readFileSync(this.file, 'utf8')) as { seq?: unknown }).seq;
      if (Number.isSafeInteger(v)) seq = v as number;
    } catch { /* first start */ }
    this.last = seq;
  }

  get lastSeq(): number { return this.last; }

  /** Records `seq` if it is newer than every accepted one; false for a replay. */
  accept(seq: number): boolean {
    if (seq <= this.last) return false;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ seq }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.last = seq;
    return true;
  }
}
