/** `netsensor model info [FILE | --model FILE] [--json]`: what a detection model file is, from its metadata. */
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../../common/errors.js';
import { loadModel } from '../../../inference/model.js';

const HELP = `usage: netsensor model info [FILE | --model FILE] [--json]

Loads a detection model (default: the shipped models/netsensor-detect.onnx), checks it against this sensor's
feature schema and prints its version, schema id, quantization, classes, thresholds and training summary.
A corrupt or incompatible file is an error (exit code 2).
`;

export async function runInfo(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { model: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `${(e as Error).message.split('\n')[0]} (netsensor model info --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (positionals.length + (values.model === undefined ? 0 : 1) > 1) throw new NetsensorError('ERR_USAGE', 'model info takes one model file (FILE or --model FILE)');
  const model = await loadModel(values.model ?? positionals[0]);
  try {
    if (values.json) { process.stdout.write(JSON.stringify(model.metadata, null, 1) + '\n'); return 0; }
    const m = model.metadata;
    process.stdout.write([
      `file            ${model.source} (${model.sizeBytes} bytes)`,
      `model_version   ${model.version}`,
      `schema          ${model.schemaId} (compatible)`,
      `quantization    ${model.quantization}`,
      `classes         ${model.classNames.map((c, i) => `${c}${i === model.thresholds.benignIndex ? '' : `≥${model.thresholds.perClass[i]}`}`).join(', ')}`,
      `anomaly         reconstruction error ≥ ${model.thresholds.anomaly.toExponential(3)}`,
      `training data   ${m.training_data ?? '-'}`, '',
    ].join('\n'));
    return 0;
  } finally { await model.close(); }
}
