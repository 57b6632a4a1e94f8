/**
 * An append-only EVE JSON file, one record per line, that logrotate can rotate: `reopen()` (the gateway calls
 * it on SIGHUP) opens the path afresh, so after `mv eve.json eve.json.1; kill -HUP` new records go to a new
 * eve.json and every record is in exactly one of the two files. Writes are synchronous appends (O_APPEND) of
 * whole lines: alerts are few, and a record the call returned from is in the file whatever happens next.
 * A failed write is counted and logged, never thrown: the EVE file must not take the gateway down.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export class EveFile {
  private fd: number;
  /** Lines written, lines lost to write errors, reopenings. */
  readonly counts = { written: 0, failed: 0, reopened: 0 };

  constructor(readonly path: string, private readonly log: Logger) {
    try {
      this.fd = openSync(path, 'a', 0o640);
    } catch (e) {
      throw new NetsensorError('ERR_CONFIG', `eve.file: cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  write(line: string): void {
    const buf = Buffer.from(line + '\n');
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      this.counts.written += 1;
    } catch (e) {
      this.counts.failed += 1;
      this.log.warn({ err: e, path: this.path }, 'EVE record not written');
    }
  }

  /** Opens the path again (a rotated file moved away leaves a new one); keeps the old descriptor if that fails. */
  reopen(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o640);
    } catch (e) {
      this.log.error({ err: e, path: this.path }, 'EVE file not reopened; still writing to the old one');
      return;
    }
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
    this.counts.reopened += 1;
    this.log.info({ path: this.path }, 'EVE file reopened');
  }

  close(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
  }
}
