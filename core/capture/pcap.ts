/**
 * Classic pcap (libpcap) records. The 24-byte file header has already been read by core/capture/reader.ts,
 * which chose this parser from the magic number: 0xa1b2c3d4 (µs) or 0xa1b23c4d (ns), in either byte order.
 *
 * parse() walks complete records in a window of the reader's buffer and returns where the first incomplete one
 * starts; `need` tells the reader how many bytes that record requires.
 */
import { isSupportedLinktype, linktypeName } from './linktypes.js';
import { addWarning, type CaptureStats, type PacketSink, type PcapBulkSink } from './stats.js';

export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
const RECORD_HEADER_BYTES = PCAP_RECORD_HEADER_BYTES;
/** Larger than any real snap length (tcpdump's maximum is 256 KiB); a bigger caplen means a corrupt header. */
export const MAX_RECORD_BYTES = 16 << 20;

export class PcapParser {
  need = RECORD_HEADER_BYTES;
  /** set when a corrupt record header makes the rest of the file unreadable */
  stopped = false;
  private readonly supported: boolean;
  private readonly bulk: PcapBulkSink | undefined;
  private readonly taken = { packets: 0, bytes: 0 };

  constructor(
    private readonly littleEndian: boolean,
    private readonly nanos: boolean,
    private readonly linktype: number,
    private readonly stats: CaptureStats,
    private readonly sink: PacketSink,
    bulk?: PcapBulkSink,
  ) {
    this.supported = isSupportedLinktype(linktype);
    this.bulk = this.supported ? bulk : undefined;
  }

  parse(buf: Uint8Array, dv: DataView, start: number, end: number, fileOffset: number): number {
    const le = this.littleEndian;
    const fracToMs = this.nanos ? 1e-6 : 1e-3;
    const linktype = this.linktype;
    const sink = this.sink;
    const stats = this.stats;
    let pos = start;
    let packets = 0;
    let bytes = 0;
    let skipped = 0;
    const bulk = this.bulk;
    const taken = this.taken;
    taken.packets = 0;
    taken.bytes = 0;
    while (end - pos >= RECORD_HEADER_BYTES) {
      if (bulk) {
        // Everything the bulk sink takes; the record it stops at goes through the checks below, one at a time.
        pos = bulk.pcapRecords(buf, pos, end, !le, this.nanos, linktype, taken);
        if (end - pos < RECORD_HEADER_BYTES) break;
      }
      const caplen = dv.getUint32(pos + 8, le);
      if (caplen > MAX_RECORD_BYTES) {
        addWarning(stats, `corrupt pcap record header at byte ${fileOffset + pos} (caplen ${caplen}); rest of the file ignored`);
        stats.truncated = true;
        this.stopped = true;
        break;
      }
      if (end - pos < RECORD_HEADER_BYTES + caplen) {
        this.need = RECORD_HEADER_BYTES + caplen;
        break;
      }
      if (this.supported) {
        const tsMs = dv.getUint32(pos, le) * 1000 + dv.getUint32(pos + 4, le) * fracToMs;
        sink(buf, pos + RECORD_HEADER_BYTES, caplen, dv.getUint32(pos + 12, le), tsMs, linktype);
        packets++;
        bytes += caplen;
      } else {
        skipped++;
      }
      pos += RECORD_HEADER_BYTES + caplen;
    }
    if (end - pos < RECORD_HEADER_BYTES) this.need = RECORD_HEADER_BYTES;
    stats.packets += packets + taken.packets;
    stats.bytes += bytes + taken.bytes;
    if (skipped > 0) {
      stats.skippedPackets += skipped;
      const name = linktypeName(linktype);
      stats.unknownLinktypes[name] = (stats.unknownLinktypes[name] ?? 0) + skipped;
    }
    return pos;
  }
}
