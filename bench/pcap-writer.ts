/**
 * Writes generated IPv4 TCP/UDP packets to a pcap file quickly: every packet is patched into one reused output
 * buffer with DataView stores, no object per packet. Payload bytes are whatever the reused buffer holds (the
 * flow core never reads them for TCP/UDP to these ports). Shared by the benchmark capture generators.
 */
import { openSync, writeSync, closeSync } from 'node:fs';

export interface PacketSpec {
  tsUs: number;
  src: number; dst: number; // IPv4 addresses as unsigned 32-bit numbers
  sport: number; dport: number;
  udp: boolean;
  /** TCP flags byte (ignored for UDP) */
  flags: number;
  /** TCP sequence and acknowledgement numbers (ignored for UDP) */
  seq: number;
  payload: number;
  /** Ethernet: the client side's frames go from MAC …:01 to …:02, the server's back */
  fromClient: boolean;
}

export class PcapWriter {
  private readonly fd: number;
  private readonly buf = new Uint8Array(8 << 20);
  private readonly dv = new DataView(this.buf.buffer);
  private pos = 24;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const dv = this.dv;
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, 65535, true);
    dv.setUint32(20, 1, true); // Ethernet
  }

  write(p: PacketSpec): void {
    const dv = this.dv;
    const l4 = p.udp ? 8 : 20;
    const ipLen = 20 + l4 + p.payload;
    const caplen = 14 + ipLen;
    if (this.pos + 16 + caplen > this.buf.length) { writeSync(this.fd, this.buf, 0, this.pos); this.pos = 0; }
    const pos = this.pos;
    dv.setUint32(pos, Math.floor(p.tsUs / 1e6), true);
    dv.setUint32(pos + 4, p.tsUs % 1e6, true);
    dv.setUint32(pos + 8, caplen, true);
    dv.setUint32(pos + 12, caplen, true);
    const e = pos + 16;
    dv.setUint32(e, 0x02000000, false); dv.setUint16(e + 4, p.fromClient ? 1 : 2, false);
    dv.setUint32(e + 6, 0x02000000, false); dv.setUint16(e + 10, p.fromClient ? 2 : 1, false);
    dv.setUint16(e + 12, 0x0800, false);
    // IPv4 (header checksum left 0: the core does not verify it)
    const ip = e + 14;
    dv.setUint32(ip, 0x45000000 | ipLen, false);
    dv.setUint32(ip + 4, 0x4000, false);
    dv.setUint32(ip + 8, (64 << 24) | ((p.udp ? 17 : 6) << 16), false);
    dv.setUint32(ip + 12, p.src >>> 0, false);
    dv.setUint32(ip + 16, p.dst >>> 0, false);
    const t = ip + 20;
    dv.setUint16(t, p.sport, false);
    dv.setUint16(t + 2, p.dport, false);
    if (p.udp) {
      dv.setUint32(t + 4, (8 + p.payload) << 16, false);
    } else {
      dv.setUint32(t + 4, p.seq >>> 0, false);
      dv.setUint32(t + 8, p.seq >>> 0, false);
      dv.setUint32(t + 12, (5 << 28) | (p.flags << 16) | 64240, false);
      dv.setUint32(t + 16, 0, false);
    }
    this.pos = e + caplen;
    this.bytes += caplen;
  }

  close(): void {
    writeSync(this.fd, this.buf, 0, this.pos);
    closeSync(this.fd);
  }
}
