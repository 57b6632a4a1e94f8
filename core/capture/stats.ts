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
