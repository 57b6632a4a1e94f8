/**
 * Opens a capture (a file path, or `-` for stdin), recognises the format by its magic number — never by the
 * file name — and streams every packet to a sink with constant memory whatever the file size.
 *
 * One working buffer is reused for the whole file: the parser walks the complete records in it, the unread tail
 * (a record straddling two reads) is moved to the front, and the next read fills in behind it. The buffer only
 * grows when a single record is bigger than it (bounded by the parsers' maximum record size).
 *
 * Formats: pcap (µs/ns, both byte orders), pcapng, and either of them gzip-compressed (as tshark accepts).
 * Errors: missing path → ERR_CAPTURE_NOT_FOUND, a directory → ERR_CAPTURE_IS_DIRECTORY, anything that is not a
 * capture → ERR_CAPTURE_FORMAT. A file cut off mid-record is not an error: the stats say `truncated` and carry
 * a warning.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { NetsensorError } from '../../common/errors.js';
import { PcapParser, PCAP_FILE_HEADER_BYTES } from './pcap.js';
import { PcapngParser, PCAPNG_SHB_TYPE } from './pcapng.js';
import { addWarning, newCaptureStats, type CaptureStats, type PacketSink, type PcapBulkSink } from './stats.js';

export type { CaptureStats, PacketSink, PcapBulkSink } from './stats.js';

const INITIAL_BUFFER_BYTES = 1 << 20;

export interface ReadOptions {
  /** Called after each buffer's worth of packets; awaited, so a consumer can apply back-pressure. */
  afterChunk?: () => void | Promise<void>;
  /** Input stream used for `-` (defaults to process.stdin); lets tests feed a pipe. */
  stdin?: NodeJS.ReadableStream;
  bufferBytes?: number;
  /** Takes classic-pcap records in bulk beside `sink` (the same packets, in order; see PcapBulkSink). */
  bulk?: PcapBulkSink;
}

/** Pulls bytes into a caller-owned buffer. */
interface ByteSource {
  read(into: Uint8Array, at: number, max: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Reads a file one chunk ahead: while the caller parses and runs the core over one chunk, the thread pool is
 * already reading the next, so the CPU rarely waits for I/O. Costs one extra memory copy per chunk.
 */
class FileSource implements ByteSource {
  private readonly ahead: Uint8Array;
  private pending: Promise<number> | null = null;
  private have = 0; // bytes of `ahead` not handed out yet, starting at `pos`
  private pos = 0;
  private eof = false;

  constructor(private readonly fh: FileHandle, chunkBytes: number) {
    this.ahead = new Uint8Array(chunkBytes);
  }

  private prefetch(): void {
    if (!this.eof && this.pending === null) this.pending = this.fh.read(this.ahead, 0, this.ahead.length, null).then((r) => r.bytesRead);
  }

  async read(into: Uint8Array, at: number, max: number): Promise<number> {
    if (this.have === 0) {
      this.prefetch();
      if (this.pending === null) return 0;
      const n = await this.pending;
      this.pending = null;
      if (n === 0) { this.eof = true; return 0; }
      this.have = n;
      this.pos = 0;
    }
    const n = Math.min(max, this.have);
    into.set(this.ahead.subarray(this.pos, this.pos + n), at);
    this.pos += n;
    this.have -= n;
    if (this.have === 0) this.prefetch();
    return n;
  }

  async close(): Promise<void> {
    if (this.pending) await this.pending.catch(() => 0);
    await this.fh.close();
  }
}

class StreamSource implements ByteSource {
  private readonly it: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array | null = null;
  private pos = 0;
  constructor(stream: AsyncIterable<Uint8Array>, private readonly onClose: () => void = () => {}) {
    this.it = stream[Symbol.asyncIterator]();
  }
  async read(into: Uint8Array, at: number, max: number): Promise<number> {
    while (this.chunk === null || this.pos >= this.chunk.length) {
      const r = await this.it.next();
      if (r.done) return 0;
      this.chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      this.pos = 0;
    }
    const n = Math.min(max, this.chunk.length - this.pos);
    into.set(this.chunk.subarray(this.pos, this.pos + n), at);
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {
    await this.it.return?.();
    this.onClose();
  }
}

async function openSource(path: string, opts: ReadOptions): Promise<ByteSource> {
  if (path === '-') return new StreamSource((opts.stdin ?? process.stdin) as AsyncIterable<Uint8Array>);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NetsensorError('ERR_CAPTURE_NOT_FOUND', `capture not found: ${path}`);
    throw new NetsensorError('ERR_CAPTURE_NOT_FOUND', `cannot open capture ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (st.isDirectory()) throw new NetsensorError('ERR_CAPTURE_IS_DIRECTORY', `capture is a directory, not a file: ${path}`);
  try {
    return new FileSource(await open(path, 'r'), Math.max(opts.bufferBytes ?? INITIAL_BUFFER_BYTES, 64 << 10));
  } catch (e) {
    throw new NetsensorError('ERR_CAPTURE_NOT_FOUND', `cannot open capture ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads until `want` bytes are in `buf` from `at` or the source ends; returns the bytes read. */
async function readAtLeast(src: ByteSource, buf: Uint8Array, at: number, want: number): Promise<number> {
  let got = 0;
  while (got < want) {
    const n = await src.read(buf, at + got, buf.length - at - got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function formatError(path: string, what: string): NetsensorError {
  return new NetsensorError('ERR_CAPTURE_FORMAT', `not a pcap or pcapng capture: ${path === '-' ? 'stdin' : path} (${what})`);
}

type Parser = PcapParser | PcapngParser;

/** Streams every packet of the capture at `path` (or stdin for `-`) to `sink`; resolves with what it saw. */
export async function readCapture(path: string, sink: PacketSink, opts: ReadOptions = {}): Promise<CaptureStats> {
  let src = await openSource(path, opts);
  const stats = newCaptureStats();
  try {
    let buf = new Uint8Array(Math.max(opts.bufferBytes ?? INITIAL_BUFFER_BYTES, 64 << 10));
    let end = await readAtLeast(src, buf, 0, PCAP_FILE_HEADER_BYTES);
    if (end === 0) throw formatError(path, 'empty');
    if (end >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
      // gzip: restart the same bytes through a decompressor (the head we read is replayed first).
      const head = Buffer.from(buf.subarray(0, end));
      const raw = src;
      const rest = (async function* () {
        yield head;
        const chunk = new Uint8Array(1 << 16);
        for (;;) {
          const n = await raw.read(chunk, 0, chunk.length);
          if (n === 0) return;
          yield Buffer.from(chunk.subarray(0, n));
        }
      })();
      const gunzip = Readable.from(rest).pipe(createGunzip());
      // A compressed capture cut off (or corrupt) part-way is read up to the cut, as a plain one is: what came
      // before is processed, the stats say truncated and a warning names the cause.
      let inflatedBytes = 0;
      const inflated = (async function* () {
        try {
          for await (const chunk of gunzip) { inflatedBytes += (chunk as Buffer).length; yield chunk as Buffer; }
        } catch (e) {
          stats.truncated = true;
          addWarning(stats, `compressed capture cut off or corrupt after ${inflatedBytes} decompressed bytes (gzip: ${(e as Error).message}); everything before was processed`);
        }
      })();
      src = new StreamSource(inflated, () => { gunzip.destroy(); void raw.close(); });
      stats.compressed = true;
      try {
        end = await readAtLeast(src, buf, 0, PCAP_FILE_HEADER_BYTES);
      } catch {
        throw formatError(path, 'corrupt gzip data');
      }
    }
    const dv0 = new DataView(buf.buffer);
    if (end < 12) throw formatError(path, `only ${end} bytes`);
    const magicLE = dv0.getUint32(0, true);
    let parser: Parser;
    let start = 0;
    if (magicLE === 0xa1b2c3d4 || magicLE === 0xd4c3b2a1 || magicLE === 0xa1b23c4d || magicLE === 0x4d3cb2a1) {
      if (end < PCAP_FILE_HEADER_BYTES) throw formatError(path, 'pcap file header cut short');
      const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
      const nanos = magicLE === 0xa1b23c4d || magicLE === 0x4d3cb2a1;
      // Upper bits of the link-type field carry FCS information (pcap spec); the type is the low 16 bits.
      const linktype = dv0.getUint32(20, le) & 0xffff;
      parser = new PcapParser(le, nanos, linktype, stats, sink, opts.bulk);
      stats.format = 'pcap';
      stats.sections = 1;
      stats.interfaces = 1;
      start = PCAP_FILE_HEADER_BYTES;
    } else if (magicLE === PCAPNG_SHB_TYPE) {
      const bom = dv0.getUint32(8, true);
      if (bom !== 0x1a2b3c4d && bom !== 0x4d3c2b1a) throw formatError(path, 'pcapng section header with a bad byte-order magic');
      parser = new PcapngParser(stats, sink);
      stats.format = 'pcapng';
    } else {
      throw formatError(path, `unknown magic 0x${magicLE.toString(16).padStart(8, '0')}`);
    }

    let dv = dv0;
    let fileOffset = 0; // file position of buf[0]
    for (;;) {
      start = parser.parse(buf, dv, start, end, fileOffset);
      if (parser.stopped) break;
      if (opts.afterChunk) await opts.afterChunk();
      // Keep the unread tail (a record straddling two reads), make room for the next record, refill.
      const tail = end - start;
      if (parser.need > buf.length) {
        let size = buf.length;
        while (size < parser.need) size *= 2;
        const bigger = new Uint8Array(size);
        bigger.set(buf.subarray(start, end), 0);
        buf = bigger;
        dv = new DataView(buf.buffer);
      } else if (tail > 0) {
        buf.copyWithin(0, start, end);
      }
      fileOffset += start;
      start = 0;
      end = tail;
      // One read: a file fills the buffer, a pipe (live `tcpdump -U -w -`) gives what has arrived so far.
      const n = await src.read(buf, end, buf.length - end);
      if (n === 0) break;
      end += n;
    }
    if (parser instanceof PcapngParser) parser.flushSkipped();
    if (!parser.stopped && end - start > 0 && !stats.truncated) {
      stats.truncated = true;
      addWarning(stats, `capture cut off mid-record: last ${end - start} bytes at byte ${fileOffset + start} ignored`);
    }
    return stats;
  } finally {
    await src.close().catch(() => {});
  }
}
