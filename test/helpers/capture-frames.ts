/**
 * Public captures as Frame arrays for decoder tests, read with the product's own reader (core/capture/),
 * which picks the format by magic number. Captures are found by sniffing every file under the shared folder.
 */
import { readdirSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { readCapture, type CaptureStats } from '../../core/capture/reader.ts';
import { sharedPcap } from './tools.ts';
import type { Frame } from './raw-core.ts';

const MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

/** Every pcap/pcapng file under the shared captures folder (by magic number, not by name), sorted. */
export function sharedCaptureFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) { walk(p); continue; }
      const fd = openSync(p, 'r');
      const head = Buffer.alloc(4);
      const n = readSync(fd, head, 0, 4, 0);
      closeSync(fd);
      if (n === 4 && MAGICS.has(head.readUInt32BE(0))) out.push(p);
    }
  };
  walk(sharedPcap(''));
  return out;
}

/** All packets of one capture, copied out of the reader's reusable buffer. */
export async function captureFrames(path: string): Promise<{ frames: Frame[]; stats: CaptureStats }> {
  const frames: Frame[] = [];
  const stats = await readCapture(path, (buf, offset, caplen, wirelen, ts, linktype) => {
    frames.push({ ts, data: buf.slice(offset, offset + caplen), linktype, wirelen });
  });
  return { frames, stats };
}
