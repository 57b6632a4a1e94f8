/** The record formats of `netsensor flows`, and the writer for each. */
import { cicCsvWriter } from './cic.js';
import { eveFlowWriter } from './eve-flows.js';
import { nfstreamCsvWriter } from './nfstream.js';
import { wasmRecordWriter } from './wasm-format.js';
import type { FlowWriter, TextSink } from './writer.js';

export interface FormatOptions {
  format: 'jsonl' | 'csv' | 'eve';
  /** CSV dialects (core/export/cic.ts, nfstream.ts) */
  cicNames?: boolean;
  nfstreamNames?: boolean;
  label?: string;
}

export function flowWriterFor(sink: TextSink, o: FormatOptions): FlowWriter {
  if (o.format === 'eve') return eveFlowWriter(sink);
  if (o.format === 'csv' && o.cicNames) return cicCsvWriter(sink, { label: o.label });
  if (o.format === 'csv' && o.nfstreamNames) return nfstreamCsvWriter(sink);
  return wasmRecordWriter(sink, o.format);
}
