/**
 * What a capture reader saw, reported in the `netsensor flows` summary. The readers update it in place (no
 * per-packet allocation); `unknownLinktypes` is keyed by linktypeName() and counts packets not handed on.
 */
export interface CaptureStats {
  format: 'pcap' | 'pcapng' | 'unknown';
  compressed: boolean;
  /** packets handed to the sink */
  packets: number;
  /** captured bytes handed to the sink */
  bytes: number;
  /** packets skipped because the core cannot decode their link type */
  skippedPackets: number;
  unknownLinktypes: Record<string, number>;
  /** pcapng: sections (SHBs) and interfaces (IDBs) seen; pcap: 1 and 1 */
  sections: number;
  interfaces: number;
  /** the file ended in the middle of a record (or a record header was corrupt): the rest was dropped */
  truncated: boolean;
  warnings: string[];
}

export function newCaptureStats(): CaptureStats {
  return {
    format: 'unknown', compressed: false, packets: 0, bytes: 0, skippedPackets: 0, unknownLinktypes: {},
    sections: 0, interfaces: 0, truncated: false, warnings: [],
  };
}

/** Warnings are kept to a handful so a broken file cannot grow memory. */
export function addWarning(stats: CaptureStats, text: string): void {
  if (stats.warnings.length < 20) stats.warnings.push(text);
}

/** Signature of the hot-path consumer: no object per packet. `buf` is only valid during the call. */
export type PacketSink = (buf: Uint8Array, offset: number, caplen: number, wirelen: number, tsMs: number, linktype: number) => void;

/**
 * Optional bulk path beside a PacketSink (the WASM core, core/host.ts): takes the complete classic-pcap records
 * of buf[start, end) at once — one copy per chunk instead of a call per packet — adds what it took to `taken`,
 * and returns where it stopped: before a record it leaves to the per-packet sink (cut off, corrupt, or too big
 * for it), or at `end`. The packets reach the consumer in file order either way.
 */
export interface PcapBulkSink {
  pcapRecords(buf: Uint8Array, start: number, end: number, bigEndian: boolean, nanos: boolean, linktype: number,
    taken: { packets: number; bytes: number }): number;
}
