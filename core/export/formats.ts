/** The record formats of `netsensor flows`, and the writer for each. */
import { csvWriter } from './csv.js';
import { eveFlowWriter } from './eve-flows.js';
import { jsonlWriter } from './jsonl.js';
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
  if (o.format === 'csv') return csvWriter(sink, { cicNames: o.cicNames, nfstreamNames: o.nfstreamNames, label: o.label });
  return jsonlWriter(sink);
}
