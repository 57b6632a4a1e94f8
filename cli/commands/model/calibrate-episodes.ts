/**
 * `netsensor model calibrate-episodes`: calibrates the episode thresholds of a model on validation data
 * (models/train/episode-calibration.ts) and writes them into the model's metadata (`episode_thresholds`), in the
 * int8 model and its float reference alike, so sensors — and over-the-air updates — carry them with the model.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../../common/errors.js';
import { packagePath } from '../../../common/paths.js';
import { onnx } from '../../../inference/onnx.js';
import { loadModel } from '../../../inference/model.js';
import { concatDatasets, readDataset, selectRows } from '../../../models/train/dataset.js';
import { calibrateEpisodes } from '../../../models/train/episode-calibration.js';

export const EPISODE_META_KEY = 'episode_thresholds';

const HELP = `usage: netsensor model calibrate-episodes [--model FILE] [--float FILE] [--data FILE] [--corpus FILE] [--report FILE] [--dry-run]

Replays the validation split (lab runs + benign corpus captures, as flow rows) through the sensor's evidence and
episode code and sets each family's threshold to max(floor, ${'1.25'} × the highest benign peak). Writes them into
the model's metadata (and the float reference's) unless --dry-run.

  --model FILE    int8 model (default models/netsensor-detect.onnx)
  --float FILE    its float reference (default models/netsensor-detect-float.onnx; skipped if absent)
  --data FILE     lab dataset (default models/data/lab-flows.csv.gz, plus lab-flows-*.csv.gz beside it)
  --corpus FILE   benign corpus rows (default models/data/corpus-flows.csv.gz; "none" to leave out)
  --report FILE   JSON report (default models/data/episode-calibration.json)
`;

/** Sets one metadata entry in an ONNX file, keeping everything else byte for byte as protobuf re-encodes it. */
export function setModelMetadata(path: string, key: string, value: string): void {
  const m = onnx.ModelProto.decode(readFileSync(path));
  const props = (m.metadataProps ?? []).filter((p) => p.key !== key);
  props.push(onnx.StringStringEntryProto.create({ key, value }));
  m.metadataProps = props;
  writeFileSync(path, onnx.ModelProto.encode(m).finish());
}

export async function runCalibrateEpisodes(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    model: { type: 'string' }, float: { type: 'string' }, data: { type: 'string' }, corpus: { type: 'string' },
    report: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
  } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const modelPath = values.model ?? packagePath('models/netsensor-detect.onnx');
  const floatPath = values.float ?? packagePath('models/netsensor-detect-float.onnx');
  const labPaths = values.data ? [values.data] : ['models/data/lab-flows.csv.gz', 'models/data/lab-flows-2.csv.gz'].map((p) => packagePath(p)).filter(existsSync);
  const corpusPath = values.corpus === 'none' ? undefined : values.corpus ?? packagePath('models/data/corpus-flows.csv.gz');
  const sets = labPaths.map(readDataset);
  if (corpusPath && existsSync(corpusPath)) sets.push(readDataset(corpusPath));
  if (sets.length === 0) throw new NetsensorError('ERR_USAGE', 'no dataset found (--data)');
  const ds = concatDatasets(...sets);
  const model = await loadModel(modelPath);
  try {
    const val = selectRows(ds, ['val']);
    const cal = await calibrateEpisodes(ds, val, model, (s) => process.stderr.write(`[calibrate] ${s}\n`));
    const report = values.report ?? packagePath('models/data/episode-calibration.json');
    writeFileSync(report, JSON.stringify({ model: model.version, ...cal }, null, 1) + '\n');
    process.stdout.write(`${JSON.stringify(cal.thresholds)}\nvalidation attack runs reaching their threshold: ${Object.entries(cal.attackRuns).map(([c, r]) => `${c} ${r.alert}/${r.runs}`).join(', ')}\n`);
    if (!values['dry-run']) {
      const value = JSON.stringify(cal.thresholds);
      setModelMetadata(modelPath, EPISODE_META_KEY, value);
      if (existsSync(floatPath)) setModelMetadata(floatPath, EPISODE_META_KEY, value);
    }
    return 0;
  } finally { await model.close(); }
}
