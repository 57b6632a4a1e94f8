/**
 * The formatting thread of `netsensor flows` (started by format-thread.ts): formats and writes ring entries
 * until the core's thread is done and every entry is written.
 */
import { workerData } from 'node:worker_threads';
import { BatchRing } from './batch-ring.js';
import type { FormatOptions } from './formats.js';
import { RingFormatter, failureText } from './ring-formatter.js';

interface FormatThreadData {
  ring: SharedArrayBuffer;
  fd: number;
  name: string;
  format: FormatOptions;
}

const data = workerData as FormatThreadData;
const ring = new BatchRing(data.ring);
try {
  const formatter = new RingFormatter(ring, data.fd, data.name, data.format);
  while (ring.waitForWork()) formatter.formatOne();
} catch (e) {
  ring.fail(failureText(e)); // no-op if formatOne() already recorded it
}
