/**
 * pcapng blocks: Section Header (both byte orders; every SHB starts a new section with its own interfaces),
 * Interface Description (link type, snap length, if_tsresol incl. power-of-2 resolutions, if_tsoffset),
 * Enhanced Packet, Simple Packet (interface 0, caplen bounded by its snap length; it carries no timestamp, so it
 * gets the previous packet's) and the obsolete Packet Block. Every other block is skipped by its length.
 *
 * parse() works like PcapParser.parse(): complete blocks only; `need` = bytes the next block requires.
 */
import { isSupportedLinktype, linktypeName } from './linktypes.js';
import { addWarning, type CaptureStats, type PacketSink } from './stats.js';

export const PCAPNG_SHB_TYPE = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1;
const OBSOLETE_PB = 2;
const SPB = 3;
const EPB = 6;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
/** Larger than any real block; a bigger length means the file is corrupt from here on. */
export const MAX_BLOCK_BYTES = 64 << 20;
const TWO_32 = 4294967296;

interface Iface {
  linktype: number;
  supported: boolean;
  snaplen: number;
  /** milliseconds per timestamp unit */
  msPerUnit: number;
  offsetMs: number;
  skipped: number;
}

export class PcapngParser {
  need = 12;
  stopped = false;
  private le = true;
  private ifaces: Iface[] = [];
  private lastTsMs = 0;

  constructor(private readonly stats: CaptureStats, private readonly sink: PacketSink) {}

  parse(buf: Uint8Array, dv: DataView, start: number, end: number, fileOffset: number): number {
    let pos = start;
    let packets = 0;
    let bytes = 0;
    while (end - pos >= 12) {
      let type = dv.getUint32(pos, this.le);
      if (type === PCAPNG_SHB_TYPE) {
        // The byte-order magic decides how to read this section, including this block's own length.
        const bom = dv.getUint32(pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else { this.corrupt(fileOffset + pos, 'section header with a bad byte-order magic'); break; }
      }
      const len = dv.getUint32(pos + 4, this.le);
      if (len < 12 || (len & 3) !== 0 || len > MAX_BLOCK_BYTES) {
        this.corrupt(fileOffset + pos, `block length ${len}`);
        break;
      }
      if (end - pos < len) {
        this.need = len;
        break;
      }
      const body = pos + 8;
      const bodyEnd = pos + len - 4;
      if (type === EPB || type === OBSOLETE_PB) {
        if (bodyEnd - body < 20) { this.corrupt(fileOffset + pos, 'packet block too short'); break; }
        const ifId = type === EPB ? dv.getUint32(body, this.le) : dv.getUint16(body, this.le);
        const iface = this.ifaces[ifId];
        if (iface === undefined) { this.corrupt(fileOffset + pos, `packet for undeclared interface ${ifId}`); break; }
        const tsMs = (dv.getUint32(body + 4, this.le) * TWO_32 + dv.getUint32(body + 8, this.le)) * iface.msPerUnit + iface.offsetMs;
        let caplen = dv.getUint32(body + 12, this.le);
        const wirelen = dv.getUint32(body + 16, this.le);
        if (caplen > bodyEnd - body - 20) caplen = bodyEnd - body - 20;
        this.lastTsMs = tsMs;
        if (iface.supported) {
          this.sink(buf, body + 20, caplen, wirelen, tsMs, iface.linktype);
          packets++;
          bytes += caplen;
        } else {
          iface.skipped++;
        }
      } else if (type === SPB) {
        const iface = this.ifaces[0];
        if (iface === undefined || bodyEnd - body < 4) { this.corrupt(fileOffset + pos, 'simple packet block without interface 0'); break; }
        const wirelen = dv.getUint32(body, this.le);
        let caplen = Math.min(wirelen, bodyEnd - body - 4);
        if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
        if (iface.supported) {
          this.sink(buf, body + 4, caplen, wirelen, this.lastTsMs, iface.linktype);
          packets++;
          bytes += caplen;
        } else {
          iface.skipped++;
        }
      } else if (type === IDB) {
        if (bodyEnd - body < 8) { this.corrupt(fileOffset + pos, 'interface block too short'); break; }
        this.addInterface(dv, body, bodyEnd);
      } else if (type === PCAPNG_SHB_TYPE) {
        this.flushSkipped();
        this.ifaces = [];
        this.stats.sections++;
      }
      pos += len;
    }
    if (end - pos < 12) this.need = 12;
    this.stats.packets += packets;
    this.stats.bytes += bytes;
    return pos;
  }

  /** Moves per-interface skip counts into the stats (at section ends and at the end of input). */
  flushSkipped(): void {
    for (const iface of this.ifaces) {
      if (iface.skipped === 0) continue;
      const name = linktypeName(iface.linktype);
      this.stats.unknownLinktypes[name] = (this.stats.unknownLinktypes[name] ?? 0) + iface.skipped;
      this.stats.skippedPackets += iface.skipped;
      iface.skipped = 0;
    }
  }

  private addInterface(dv: DataView, body: number, bodyEnd: number): void {
    const linktype = dv.getUint16(body, this.le);
    const snaplen = dv.getUint32(body + 4, this.le);
    let msPerUnit = 1e-3; // default resolution: microseconds
    let offsetMs = 0;
    let p = body + 8;
    while (bodyEnd - p >= 4) {
      const code = dv.getUint16(p, this.le);
      const olen = dv.getUint16(p + 2, this.le);
      if (code === 0 || p + 4 + olen > bodyEnd) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) {
        const v = dv.getUint8(p + 4);
        // MSB clear: 10^-v seconds; set: 2^-(v & 0x7f) seconds.
        msPerUnit = (v & 0x80 ? Math.pow(2, -(v & 0x7f)) : Math.pow(10, -v)) * 1000;
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        offsetMs = Number(dv.getBigInt64(p + 4, this.le)) * 1000;
      }
      p += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push({ linktype, supported: isSupportedLinktype(linktype), snaplen, msPerUnit, offsetMs, skipped: 0 });
    this.stats.interfaces++;
  }

  private corrupt(at: number, what: string): void {
    addWarning(this.stats, `corrupt pcapng block at byte ${at} (${what}); rest of the file ignored`);
    this.stats.truncated = true;
    this.stopped = true;
  }
}
