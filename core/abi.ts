/**
 * The WASM core's ABI, declared once: every record layout and constant both sides of the JS/WASM boundary use.
 * scripts/gen-assembly.ts writes assembly/generated/abi.ts from it (the records as @unmanaged classes, every
 * constant as an exported global, compile-time layout checks); core/host.ts reads and writes records with the
 * offsets computed here and, at load, compares them with the globals the .wasm exports. Imports nothing.
 *
 * The functions the core exports, their arguments and return codes are documented in assembly/index.ts.
 */

/** A record field's type; `addr` is a 16-byte IP address (IPv4 as ::ffff:a.b.c.d), a v128 inside the core. */
export type FieldType = 'u8' | 'u16' | 'u32' | 'f64' | 'addr';
const FIELD_BYTES: Readonly<Record<FieldType, number>> = { u8: 1, u16: 2, u32: 4, f64: 8, addr: 16 };

export interface RecordLayout<K extends string = string> {
  /** prefix of the record's globals (`<prefix>_BYTES`, `<prefix>_<FIELD>_OFFSET`) */
  prefix: string;
  /** the @unmanaged class that holds it in the core */
  className: string;
  bytes: number;
  fields: readonly { name: K; type: FieldType; offset: number }[];
  offset: Readonly<Record<K, number>>;
}

/**
 * Lays the fields out in order with no hidden padding: each must fall on its natural alignment (spare bytes are
 * declared as `reserved…` fields) and the record must be a multiple of 8 bytes, so the AssemblyScript class the
 * build writes from it can only have the same layout.
 */
function layout<T extends Record<string, FieldType>>(prefix: string, className: string, spec: T): RecordLayout<keyof T & string> {
  const fields: { name: keyof T & string; type: FieldType; offset: number }[] = [];
  const offset = {} as Record<keyof T & string, number>;
  let at = 0;
  for (const [name, type] of Object.entries(spec) as [keyof T & string, FieldType][]) {
    const size = FIELD_BYTES[type];
    if (at % Math.min(size, 8) !== 0) throw new Error(`${className}.${name} at byte ${at} is not aligned: declare the padding`);
    fields.push({ name, type, offset: at });
    offset[name] = at;
    at += size;
  }
  if (at % 8 !== 0) throw new Error(`${className} is ${at} bytes: records are a multiple of 8`);
  return { prefix, className, bytes: at, fields, offset };
}

/**
 * Packet ring record header (JS writes, core reads), at ringPtr() + byte offset; the packet's caplen bytes
 * follow it, zero-padded to a multiple of 8.
 */
export const RECORD_HEADER = layout('RECORD_HEADER', 'RecordHeader', {
  ts_ms: 'f64', // capture timestamp, milliseconds since the epoch (fractional: µs/ns precision)
  caplen: 'u32', // bytes of packet data present in the record
  wirelen: 'u32', // original length on the wire
  linktype: 'u16', // pcap LINKTYPE_* of the packet's interface
  reserved16: 'u16',
  reserved32: 'u32',
});

/** One finished flow's key (core writes, JS reads), outRows() of them at outKeysPtr(), beside its feature row. */
export const KEY_RECORD = layout('KEY_RECORD', 'KeyRecord', {
  src: 'addr', // the initiator
  dst: 'addr',
  src_port: 'u16',
  dst_port: 'u16',
  protocol: 'u8',
  ip_version: 'u8', // 4 | 6
  end_reason: 'u8', // index into END_REASONS (core/schema.ts)
  flags: 'u8', // KEY_FLAG_*
  vlan_id: 'u16', // innermost 802.1Q id, 0 if none
  folded: 'u16', // lone flows folded into this record besides its own (assembly/flow/lone-flows.ts); 0 = just this flow
  flow_seq: 'u32', // record id: interim rows share their flow's; an active-timeout continuation gets a new one
  first_seen_ms: 'f64',
  last_seen_ms: 'f64',
  src2dst_packets: 'f64',
  src2dst_bytes: 'f64',
  dst2src_packets: 'f64',
  dst2src_bytes: 'f64',
});

export const RECORDS: readonly RecordLayout[] = [RECORD_HEADER, KEY_RECORD];

/** KEY_RECORD.flags bits. */
export const KEY_FLAG_INTERIM = 1; // an interim record: the flow continues and will be reported again
export const KEY_FLAG_MIXED_SOURCES = 2; // a folded record whose flows came from more than its own initiator
/**
 * At least HIDDEN_OPTION_PACKETS packets of the record carried data in IPv6 options of a type IANA never assigned
 * (assembly/decode/ipv6-options.ts): a covert channel's shape (detection/rules.ts). More than a one-off packet.
 */
export const KEY_FLAG_HIDDEN_OPTIONS = 4;
export const HIDDEN_OPTION_PACKETS = 4;

/**
 * configure() keys, by the host's setting name (CFG_<NAME> in the core). Values in seconds unless noted;
 * defaults and ranges in assembly/flow/timeouts.ts.
 */
export const CONFIG_KEYS = {
  tcpIdleS: 0,
  udpIdleS: 1,
  icmpIdleS: 2,
  otherIdleS: 3,
  unansweredS: 4, // no reply yet (incl. half-open TCP): shorter, so floods/scans surface fast
  closedLingerS: 5, // after FIN both ways or RST: trailing ACKs still join the flow
  activeS: 6, // hard cap on a flow record's duration
  interimS: 7, // 0 = off; else emit an interim row for flows older than this, every this
  emergencyFactor: 8, // timeouts multiplied by this while the table is ≥ 95 % full
  activityGapS: 9, // active/idle split threshold (CICFlowMeter: 5 s)
  loneFlowsPerS: 10, // a count, not seconds: lone flows per target and second written individually (0 = fold none)
} as const;

/** statsPtr() → u64[NUM_STATS], in this order (STAT_<NAME> in the core). */
export const STATS = [
  'packets',
  'bytes', // captured bytes handed in
  'flowsCreated',
  'flowsActive',
  'rowsEmitted',
  'hostsActive',
  'ipPackets', // packets that reached the flow table
] as const;

/** camelCase → UPPER_SNAKE: the core's spelling of a name declared here. */
export const upperSnake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export const offsetGlobal = (r: RecordLayout, field: string): string => `${r.prefix}_${upperSnake(field)}_OFFSET`;

/** Plain constants the core exports, name → value (record sizes and offsets come from RECORDS). */
export function abiConstants(): Map<string, number> {
  const m = new Map<string, number>();
  m.set('KEY_FLAG_INTERIM', KEY_FLAG_INTERIM);
  m.set('KEY_FLAG_MIXED_SOURCES', KEY_FLAG_MIXED_SOURCES);
  m.set('KEY_FLAG_HIDDEN_OPTIONS', KEY_FLAG_HIDDEN_OPTIONS);
  m.set('HIDDEN_OPTION_PACKETS', HIDDEN_OPTION_PACKETS);
  for (const [name, key] of Object.entries(CONFIG_KEYS)) m.set(`CFG_${upperSnake(name)}`, key);
  STATS.forEach((name, i) => m.set(`STAT_${upperSnake(name)}`, i));
  m.set('NUM_STATS', STATS.length);
  return m;
}

/** Every global the .wasm must export, with the value this declaration gives it. */
export function abiGlobals(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of RECORDS) {
    m.set(`${r.prefix}_BYTES`, r.bytes);
    for (const f of r.fields) m.set(offsetGlobal(r, f.name), f.offset);
  }
  for (const [name, value] of abiConstants()) m.set(name, value);
  return m;
}
