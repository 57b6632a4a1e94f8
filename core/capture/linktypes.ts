/**
 * pcap LINKTYPE_* values the WASM core decodes (assembly/decode/link.ts), and their names for summaries.
 * Packets of any other link type are not handed to the core: the reader counts them per type instead, so a
 * capture mixing interfaces (pcapng) still yields flows for the ones we understand.
 */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
export const LINKTYPE_NFLOG = 239;
/** DLT_RAW as some systems wrote it into files before LINKTYPE_RAW existed (12 most, 14 OpenBSD). */
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14;

const NAMES: Record<number, string> = {
  0: 'null', 1: 'ethernet', 9: 'ppp', 12: 'raw', 14: 'raw', 101: 'raw', 104: 'c_hdlc', 105: 'ieee802_11',
  108: 'loop', 113: 'linux_sll', 127: 'ieee802_11_radiotap', 228: 'ipv4', 229: 'ipv6', 230: 'ieee802_15_4_nofcs',
  239: 'nflog', 276: 'linux_sll2',
};

/** Must equal the cases of decodePacket() in assembly/decode/link.ts (test/capture.test.ts checks). */
export const SUPPORTED_LINKTYPES: readonly number[] = [
  LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_PPP, LINKTYPE_C_HDLC, LINKTYPE_RAW, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_NFLOG, LINKTYPE_LINUX_SLL2, DLT_RAW_12, DLT_RAW_14,
];
const SUPPORTED = new Set(SUPPORTED_LINKTYPES);

export function isSupportedLinktype(linktype: number): boolean {
  return SUPPORTED.has(linktype);
}

/** `ethernet(1)`, or `linktype_147(147)` for values without a well-known name. */
export function linktypeName(linktype: number): string {
  return `${NAMES[linktype] ?? `linktype_${linktype}`}(${linktype})`;
}
